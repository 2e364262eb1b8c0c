"""Today's beam search: the rule of the locked transformers release (``_beam_search``, 5.24).

One search of ``num_beams`` beams per context returns its best ``num_return_sequences``
hypotheses. Per step: log-softmax, processors and (when sampling) the warpers on the
log-probabilities, then the running beam score is added; ``2 * num_beams`` candidates are
drawn over all beams (sorted by score since 5.24; 5.0-5.23 left them in draw order) or taken
as the best; a finished hypothesis is scored over its generated length only.

Replay mode makes the same random draws as transformers for the same seed and batch; otherwise
draws come from per-context streams and left padding is invisible to the processors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from evaltool.generation.gpt2 import Cache
from evaltool.generation.logits import processors, warp_like_transformers, warped_candidates
from evaltool.generation.noise import Draws, draw

DROP = -1.0e9


def _candidates(
    runner: Any,
    hist: torch.Tensor,
    logits: torch.Tensor,
    s: Any,
    eos_id: int,
    t: int,
    start: torch.Tensor | None,
    replay: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row: (score, token) candidates of the processed, warped log-probabilities."""
    work = runner.buffer("scores", tuple(logits.shape), torch.float32)
    scores = torch.log_softmax(logits.float(), dim=-1, out=work)
    scores = processors(hist, scores, s, eos_id, t, start)
    vocab = scores.shape[-1]
    if not s.do_sample:
        return torch.topk(scores, min(2 * s.num_beams, vocab), dim=-1)
    if replay:
        full = warp_like_transformers(scores, s, keep=2)
        return full, torch.arange(vocab, device=full.device).expand_as(full)
    return warped_candidates(scores, s, keep=2)


@dataclass
class Finished:
    """Each context's best ``num_beams`` finished hypotheses (``_update_finished_beams``)."""

    seqs: torch.Tensor  # [B, nb, max_len]
    scores: torch.Tensor  # [B, nb], length-normalised
    done: torch.Tensor  # [B, nb] slot holds a finished hypothesis
    improvable: torch.Tensor  # [B, 1] a running beam may still beat the worst one

    def offer(
        self, cand: torch.Tensor, top: torch.Tensor, just: torch.Tensor, length: int, lp: float
    ) -> None:
        """Candidates that just finished among the top num_beams may replace worse ones."""
        fin = top / (length**lp) + (~self.improvable).float() * DROP + (~just) * DROP
        merged = torch.cat([self.scores, fin], dim=1)
        best = torch.topk(merged, k=self.scores.shape[1])[1]
        merged_seqs = torch.cat([self.seqs, cand], dim=1)
        self.seqs = torch.take_along_dim(merged_seqs, best[:, :, None], 1)
        self.scores = torch.take_along_dim(merged, best, dim=1)
        self.done = torch.take_along_dim(torch.cat([self.done, just], dim=1), best, dim=1)

    def check(self, running_scores: torch.Tensor, length: int, lp: float) -> bool:
        """Can any running beam still beat the worst finished one? (early-stop heuristic)"""
        best_running = running_scores[:, :1] / (length**lp)
        worst = torch.where(self.done, self.scores.min(dim=1, keepdim=True)[0], DROP)
        self.improvable &= (best_running > worst).any(dim=-1, keepdim=True)
        return bool(self.improvable.any())


def beam_search_transformers(
    runner: Any,
    ids: torch.Tensor,
    mask: torch.Tensor,
    s: Any,
    eos_id: int,
    pad_id: int,
    draws: Draws,
) -> list[list[list[int]]]:
    """Decode left-padded prompts [B, P] by today's rule; per prompt, its candidates best first."""
    b, p = ids.shape
    nb, dev = s.num_beams, ids.device
    keep = 2 * nb  # max(2, 1 + number of eos ids) * num_beams, with one eos id
    max_len = p + s.max_new_tokens
    logits, keys, values = runner.prefill(ids, mask)
    cache = Cache.make(keys, values, mask, b * nb, s.max_new_tokens, beams=True)
    logits = logits.repeat_interleave(nb, dim=0)
    lengths = mask.sum(-1)
    pos = lengths.repeat_interleave(nb)
    start = None if draws.replay else (p - lengths).repeat_interleave(nb)
    running = torch.full((b, nb, max_len), pad_id, dtype=torch.long, device=dev)
    running[:, :, :p] = ids[:, None]
    running_scores = torch.zeros(b, nb, device=dev)
    running_scores[:, 1:] = DROP
    finished = Finished(
        running.clone(),
        torch.full((b, nb), DROP, device=dev),
        torch.zeros(b, nb, dtype=torch.bool, device=dev),
        torch.ones(b, 1, dtype=torch.bool, device=dev),
    )
    top_mask = torch.arange(keep, device=dev) < nb
    batch_rows = torch.arange(b, device=dev)[:, None] * nb
    for cur in range(p, max_len):
        t = cur - p
        if t > 0:
            logits = runner.step(running[:, :, cur - 1].reshape(-1), pos + t - 1, cache, t - 1)
        hist = running[:, :, :cur].reshape(b * nb, cur)
        values_, tokens = _candidates(runner, hist, logits, s, eos_id, t, start, draws.replay)
        acc = values_ + running_scores.view(-1, 1)
        top_scores, beam, token = draw(acc, tokens, b, keep, s.do_sample, draws, t, nb)
        cand = torch.take_along_dim(running, beam[:, :, None], dim=1)
        cand[:, :, cur] = token
        hits = (token == eos_id) | (cur + 1 >= max_len)
        # the best num_beams candidates that did not finish keep running
        live = top_scores + hits.float() * DROP
        nxt = torch.topk(live, k=nb)[1]
        running = torch.take_along_dim(cand, nxt[:, :, None], dim=1)
        running_scores = torch.take_along_dim(live, nxt, dim=1)
        cache.reorder((torch.take_along_dim(beam, nxt, dim=1) + batch_rows).reshape(-1), t)
        finished.offer(cand, top_scores, hits & top_mask[None, :], t + 1, s.length_penalty)
        if not finished.check(running_scores, t + 1, s.length_penalty) or bool(hits.all()):
            break
    n = s.num_return_sequences
    return [[row[p:] for row in ctx[:n]] for ctx in finished.seqs.tolist()]
