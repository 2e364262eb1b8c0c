"""The model card's beam search: transformers 4.25.1's ``beam_sample`` and ``beam_search``.

The ruDialoGPT card was decoded in 2022 by transformers 4.x. With ``do_sample=True`` and
``num_return_sequences=3`` that release ran three independent searches of ``num_beams`` beams
per context and returned the best hypothesis of each, so the three candidates are three
different replies. Per step and search: log-softmax, the processors, then the running beam
score is added and the warpers (temperature, top-k, top-p) act on that sum; ``2 * num_beams``
draws without replacement over all the search's beams, sorted by score; ``BeamSearchScorer``
of that era (a hypothesis's length counts its prompt; a search stops when its worst kept
hypothesis beats the best running score over the current length). Without sampling it is
one search that returns its best ``num_return_sequences`` hypotheses.

Replay mode reproduces 4.25.1 token for token for a batch, padding included (4.25.1 counts
a row's left padding in its length). Otherwise each hypothesis's length counts its own prompt,
as the card's one-context-at-a-time loop did, and draws come from per-context streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from evaltool.generation.gpt2 import Cache
from evaltool.generation.logits import processors, warp_like_transformers, warped_candidates
from evaltool.generation.noise import Draws, draw

EMPTY = float("inf")


@dataclass
class Hypotheses:
    """Each search's best finished hypotheses (4.25.1's ``BeamHypotheses``), vectorised."""

    tokens: torch.Tensor  # [searches, slots, max_new]
    length: torch.Tensor  # [searches, slots] generated tokens
    score: torch.Tensor  # [searches, slots] float64; EMPTY where no hypothesis yet
    count: torch.Tensor  # [searches]

    @classmethod
    def make(cls, searches: int, slots: int, steps: int, device: torch.device) -> Hypotheses:
        return cls(
            torch.zeros(searches, slots, steps, dtype=torch.long, device=device),
            torch.zeros(searches, slots, dtype=torch.long, device=device),
            torch.full((searches, slots), EMPTY, dtype=torch.float64, device=device),
            torch.zeros(searches, dtype=torch.long, device=device),
        )

    def worst(self) -> torch.Tensor:
        """The lowest kept score per search (4.25.1's ``worst_score``; 1e9 while empty)."""
        low = self.score.min(dim=1).values
        return torch.where(self.count > 0, low, torch.full_like(low, 1e9))

    def add(self, offer: torch.Tensor, score: torch.Tensor, seqs: torch.Tensor, n: int) -> None:
        """Offer one hypothesis per search where ``offer``: taken while slots are free or when
        it beats the worst, which it then replaces. ``seqs`` [searches, >=n] generated ids."""
        full = self.count >= self.score.shape[1]
        take = offer & (~full | (score > self.worst()))
        if not bool(take.any()):
            return
        slot = torch.where(
            full, self.score.argmin(dim=1), self.count.clamp(max=self.score.shape[1] - 1)
        )
        rows = take.nonzero(as_tuple=True)[0]
        self.score[rows, slot[rows]] = score[rows]
        self.length[rows, slot[rows]] = n
        self.tokens[rows, slot[rows], :n] = seqs[rows, :n]
        self.count += (take & ~full).long()

    def best(self, keep: int) -> list[list[list[int]]]:
        """The ``keep`` best hypotheses of each search, best first, as token id lists."""
        order = torch.sort(
            self.score.masked_fill(self.score == EMPTY, -EMPTY), dim=1, descending=True
        )
        out = []
        for s, slots in enumerate(order.indices[:, :keep].tolist()):
            lengths = self.length[s].tolist()
            out.append([self.tokens[s, j, : lengths[j]].tolist() for j in slots])
        return out


def _candidates(
    runner: Any,
    hist: torch.Tensor,
    logits: torch.Tensor,
    running: torch.Tensor,
    s: Any,
    eos_id: int,
    t: int,
    start: torch.Tensor | None,
    replay: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row: (score, token) candidates of log-probs + processors + running score, warped
    when sampling. Replay gives the whole vocabulary; otherwise only what can be drawn."""
    work = runner.buffer("scores", tuple(logits.shape), torch.float32)
    scores = torch.log_softmax(logits.float(), dim=-1, out=work)
    scores = processors(hist, scores, s, eos_id, t, start)
    vocab = scores.shape[-1]
    if replay:
        full = scores + running[:, None]
        if s.do_sample:
            full = warp_like_transformers(full, s, keep=2)
        return full, torch.arange(vocab, device=full.device).expand_as(full)
    if s.do_sample:
        return warped_candidates(scores, s, keep=2, shift=running)
    values, tokens = torch.topk(scores, min(2 * s.num_beams, vocab), dim=-1)
    return values + running[:, None], tokens


def beam_search_card(
    runner: Any,
    ids: torch.Tensor,
    mask: torch.Tensor,
    s: Any,
    eos_id: int,
    pad_id: int,
    draws: Draws,
) -> list[list[list[int]]]:
    """Decode left-padded prompts [B, P] by the card's rule; per prompt, its candidates."""
    b, p = ids.shape
    nb, dev, steps = s.num_beams, ids.device, s.max_new_tokens
    searches = s.num_return_sequences if s.do_sample else 1
    keep = 1 if s.do_sample else s.num_return_sequences
    bs, rows = b * searches, b * searches * nb
    lengths = mask.sum(-1)
    counted = torch.full_like(lengths, p) if draws.replay else lengths
    counted = counted.repeat_interleave(searches).double()
    start = None if draws.replay else (p - lengths).repeat_interleave(searches * nb)
    logits, keys, values = runner.prefill(ids, mask)
    cache = Cache.make(keys, values, mask, rows, steps, beams=True)
    logits = logits.repeat_interleave(searches * nb, dim=0)
    pos = lengths.repeat_interleave(searches * nb)
    seqs = torch.full((rows, p + steps), pad_id, dtype=torch.long, device=dev)
    seqs[:, :p] = ids.repeat_interleave(searches * nb, dim=0)
    running = torch.zeros(bs, nb, device=dev)
    if not s.do_sample:
        running[:, 1:] = -1e9
    hyps = Hypotheses.make(bs, nb, steps, dev)
    done = torch.zeros(bs, dtype=torch.bool, device=dev)
    base = torch.arange(bs, device=dev)[:, None] * nb
    for t in range(steps):
        cur = p + t
        if t > 0:
            logits = runner.step(seqs[:, cur - 1], pos + t - 1, cache, t - 1)
        values_, tokens = _candidates(
            runner, seqs[:, :cur], logits, running.view(-1), s, eos_id, t, start, draws.replay
        )
        top, beam, token = draw(values_, tokens, bs, 2 * nb, s.do_sample, draws, t, rows // b)
        generated = seqs.view(bs, nb, -1)[:, :, p:cur]
        running, beam, token = _process(
            hyps, done, top, beam, token, generated, counted + t, s, eos_id
        )
        token = torch.where(done[:, None], torch.full_like(token, pad_id), token)
        source = (torch.where(done[:, None], torch.arange(nb, device=dev), beam) + base).view(-1)
        seqs = seqs[source]
        seqs[:, cur] = token.view(-1)
        cache.reorder(source, t)
        done |= _finished(hyps, top, counted + t, s)
        if bool(done.all()):
            break
    else:
        _finalize(hyps, done, running, seqs.view(bs, nb, -1)[:, :, p:], counted + steps, steps, s)
    best = hyps.best(keep)
    return [[c for part in best[i * searches : (i + 1) * searches] for c in part] for i in range(b)]


def _process(
    hyps: Hypotheses,
    done: torch.Tensor,
    top: torch.Tensor,
    beam: torch.Tensor,
    token: torch.Tensor,
    generated: torch.Tensor,
    length: torch.Tensor,
    s: Any,
    eos_id: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``BeamSearchScorer.process``: eos draws among the first ``num_beams`` become
    hypotheses, the first ``num_beams`` other draws run on. Returns their scores, beams, tokens."""
    nb = beam.shape[1] // 2
    is_eos = token == eos_id
    for j in range(nb):
        offer = is_eos[:, j] & ~done
        if bool(offer.any()):
            score = top[:, j].double() / length**s.length_penalty
            src = torch.gather(
                generated, 1, beam[:, j, None, None].expand(-1, 1, generated.shape[-1])
            )
            hyps.add(offer, score, src[:, 0], generated.shape[-1])
    order = torch.argsort(is_eos.int(), dim=1, stable=True)[:, :nb]
    scores = torch.gather(top, 1, order).masked_fill(done[:, None], 0.0)
    return scores, torch.gather(beam, 1, order), torch.gather(token, 1, order)


def _finished(hyps: Hypotheses, top: torch.Tensor, length: torch.Tensor, s: Any) -> torch.Tensor:
    """``BeamHypotheses.is_done`` (``early_stopping=False``): every slot is taken and the best
    draw of this step, over the current length, cannot beat the worst kept hypothesis."""
    best = top[:, 0].double() / length**s.length_penalty
    return (hyps.count >= hyps.score.shape[1]) & (hyps.worst() >= best)


def _finalize(
    hyps: Hypotheses,
    done: torch.Tensor,
    running: torch.Tensor,
    generated: torch.Tensor,
    length: torch.Tensor,
    steps: int,
    s: Any,
) -> None:
    """``BeamSearchScorer.finalize``: the running beams of unfinished searches are offered."""
    for j in range(running.shape[1]):
        score = running[:, j].double() / length**s.length_penalty
        hyps.add(~done, score, generated[:, j], steps)
