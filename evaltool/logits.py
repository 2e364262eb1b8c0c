"""Logits processing with transformers' rules, as batched tensor operations.

Order and arithmetic follow ``GenerationMixin._get_logits_processor``: repetition penalty,
n-gram ban, minimum new tokens, then (when sampling) temperature, top-k and top-p. The n-gram
ban and top-p are vectorised here; transformers loops over rows in Python and sorts the whole
vocabulary. Tests compare each function with its transformers counterpart.
"""

from __future__ import annotations

from typing import Any

import torch

NEG_INF = float("-inf")


def repetition_penalty(ids: torch.Tensor, scores: torch.Tensor, penalty: float) -> torch.Tensor:
    """Divide positive (multiply negative) scores of tokens already in ``ids`` by ``penalty``.

    Like every function here, it changes ``scores`` in place (the hot loop owns its buffers)
    and returns it.
    """
    if penalty == 1.0:
        return scores
    seen = torch.gather(scores, 1, ids)
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return scores.scatter_(1, ids, seen)


def no_repeat_ngram(ids: torch.Tensor, scores: torch.Tensor, n: int) -> torch.Tensor:
    """Ban every token that would repeat an n-gram already in the row.

    >>> s = no_repeat_ngram(torch.tensor([[1, 2, 1]]), torch.zeros(1, 4), 2)
    >>> s.tolist()
    [[0.0, 0.0, -inf, 0.0]]
    """
    length = ids.shape[1]
    if n <= 0 or length + 1 < n:
        return scores
    windows = ids.unfold(1, n, 1)  # [rows, length - n + 1, n]
    prefix = ids[:, length - (n - 1) :]
    match = (windows[:, :, : n - 1] == prefix[:, None, :]).all(-1)
    rows, cols = match.nonzero(as_tuple=True)
    scores[rows, windows[rows, cols, -1]] = NEG_INF
    return scores


def min_new_tokens(
    scores: torch.Tensor, new_tokens: int, minimum: int, eos_id: int
) -> torch.Tensor:
    """Forbid eos until ``minimum`` new tokens exist."""
    if new_tokens >= minimum:
        return scores
    scores[:, eos_id] = NEG_INF
    return scores


def top_k_top_p(scores: torch.Tensor, top_k: int, top_p: float, keep: int) -> torch.Tensor:
    """Keep the ``top_k`` best scores, then the smallest set of them holding ``top_p`` mass.

    With a top-k in front, top-p needs only the k survivors, not a sort of the vocabulary.
    """
    vocab = scores.shape[-1]
    k = min(max(top_k, keep), vocab) if top_k > 0 else vocab
    values, index = torch.topk(scores, k, dim=-1)  # descending
    if top_k > 0:
        kept = scores >= values[..., -1:]
        scores = scores.masked_fill(~kept, NEG_INF)
        if int(kept.sum(-1).max()) > k:  # ties at the k-th value: fall back to the full sort
            values, index = torch.topk(scores, vocab, dim=-1)
            k = vocab
    if top_p >= 1.0:
        return scores
    ascending = values.flip(-1)
    cumulative = ascending.softmax(dim=-1).cumsum(dim=-1)
    remove = cumulative <= (1 - top_p)
    remove[..., -keep:] = False
    out = torch.full_like(scores, NEG_INF) if top_k > 0 else scores.clone()
    kept_values = ascending.masked_fill(remove, NEG_INF)
    out.scatter_(1, index.flip(-1), kept_values)
    return out


def _common(
    ids: torch.Tensor, scores: torch.Tensor, s: Any, eos_id: int, prompt_len: int, keep: int
) -> torch.Tensor:
    scores = repetition_penalty(ids, scores, s.repetition_penalty)
    scores = no_repeat_ngram(ids, scores, s.no_repeat_ngram_size)
    if s.min_new_tokens > 0:
        scores = min_new_tokens(scores, ids.shape[1] - prompt_len, s.min_new_tokens, eos_id)
    return _common_warp(scores, s, keep) if s.do_sample else scores


def process_scores(
    ids: torch.Tensor, logits: torch.Tensor, s: Any, eos_id: int, prompt_len: int
) -> torch.Tensor:
    """Greedy/sampling path: the processors act on raw logits (``_sample``)."""
    return _common(ids, logits, s, eos_id, prompt_len, keep=1)


def beam_candidates(
    ids: torch.Tensor,
    logits: torch.Tensor,
    s: Any,
    eos_id: int,
    prompt_len: int,
    keep: int,
    out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Beam path (``_beam_search``): processors on log-softmax scores, as (values, token ids).

    When sampling with top-k, only the survivors come back (temperature divides just them:
    it does not change their order); without sampling, each row's best ``keep`` tokens, which
    hold every token beam search can pick. Values of dropped tokens are -inf.
    """
    scores = torch.log_softmax(logits, dim=-1, out=out)
    scores = repetition_penalty(ids, scores, s.repetition_penalty)
    scores = no_repeat_ngram(ids, scores, s.no_repeat_ngram_size)
    if s.min_new_tokens > 0:
        scores = min_new_tokens(scores, ids.shape[1] - prompt_len, s.min_new_tokens, eos_id)
    vocab = scores.shape[-1]
    if not s.do_sample:
        return torch.topk(scores, min(keep, vocab), dim=-1)
    if s.top_k <= 0:
        full = _common_warp(scores, s, keep=2)
        return full, torch.arange(vocab, device=scores.device).expand_as(full)
    k = min(max(s.top_k, 2), vocab)
    values, index = torch.topk(scores, min(k + 1, vocab), dim=-1)
    if k < vocab and bool((values[..., k] == values[..., k - 1]).any()):  # tie at the k-th
        full = _common_warp(scores, s, keep=2)
        return full, torch.arange(vocab, device=scores.device).expand_as(full)
    values, index = values[..., :k], index[..., :k]
    if s.temperature != 1.0:
        values = values / s.temperature
    if s.top_p < 1.0:
        ascending = values.flip(-1)
        remove = ascending.softmax(dim=-1).cumsum(dim=-1) <= (1 - s.top_p)
        remove[..., -2:] = False
        values = ascending.masked_fill(remove, NEG_INF).flip(-1)
    return values, index


def _common_warp(scores: torch.Tensor, s: Any, keep: int) -> torch.Tensor:
    if s.temperature != 1.0:
        scores = scores / s.temperature
    if s.top_k > 0 or s.top_p < 1.0:
        scores = top_k_top_p(scores, s.top_k, s.top_p, keep)
    return scores
