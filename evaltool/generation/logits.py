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


def unpadded(ids: torch.Tensor, start: torch.Tensor | None) -> torch.Tensor:
    """``ids`` with each row's left padding (before ``start``) replaced by its first real token.

    transformers counts pad tokens as history: a padded row penalises and n-gram-bans the pad
    id, an unpadded one does not, so a reply would depend on its batch. Repeating a token
    already in the row changes neither the penalty nor, with ``no_repeat_ngram``'s ``start``,
    the n-grams. ``start`` None keeps transformers' behaviour.
    """
    if start is None:
        return ids
    first = ids.gather(1, start[:, None])
    return torch.where(torch.arange(ids.shape[1], device=ids.device) < start[:, None], first, ids)


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


def no_repeat_ngram(
    ids: torch.Tensor, scores: torch.Tensor, n: int, start: torch.Tensor | None = None
) -> torch.Tensor:
    """Ban every token that would repeat an n-gram already in the row.

    With ``start`` (each row's first real position), n-grams that begin in the left padding
    do not count.

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
    if start is not None:
        match &= torch.arange(windows.shape[1], device=ids.device) >= start[:, None]
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
    out = torch.full_like(scores, NEG_INF) if top_k > 0 else scores.clone()
    out.scatter_(1, index, _top_p_sorted(values, top_p, keep))
    return out


def _top_p_sorted(values: torch.Tensor, top_p: float, keep: int) -> torch.Tensor:
    """Top-p on scores sorted best first: the removed ones become -inf."""
    ascending = values.flip(-1)
    remove = ascending.softmax(dim=-1).cumsum(dim=-1) <= (1 - top_p)
    remove[..., -keep:] = False
    return ascending.masked_fill(remove, NEG_INF).flip(-1)


def warp_like_transformers(scores: torch.Tensor, s: Any, keep: int) -> torch.Tensor:
    """Temperature, top-k and top-p computed as transformers' warpers compute them, over the
    whole vocabulary (replay mode: the same floats as the release being replayed)."""
    if s.temperature != 1.0:
        scores = scores / s.temperature
    if s.top_k > 0:
        k = min(max(s.top_k, keep), scores.shape[-1])
        scores = scores.masked_fill(scores < torch.topk(scores, k)[0][..., -1, None], NEG_INF)
    if s.top_p < 1.0:
        sorted_scores, order = torch.sort(scores, descending=False)
        remove = sorted_scores.softmax(dim=-1).cumsum(dim=-1) <= (1 - s.top_p)
        if keep > 1:
            remove[..., -keep:] = False
        scores = scores.masked_fill(remove.scatter(1, order, remove), NEG_INF)
    return scores


def processors(
    ids: torch.Tensor,
    scores: torch.Tensor,
    s: Any,
    eos_id: int,
    new_tokens: int,
    start: torch.Tensor | None = None,
) -> torch.Tensor:
    """Repetition penalty, n-gram ban and minimum length, in transformers' order, in place.

    ``start`` (each row's first real position) makes left padding invisible; None counts it
    as transformers does.
    """
    scores = repetition_penalty(unpadded(ids, start), scores, s.repetition_penalty)
    scores = no_repeat_ngram(ids, scores, s.no_repeat_ngram_size, start)
    if s.min_new_tokens > 0:
        scores = min_new_tokens(scores, new_tokens, s.min_new_tokens, eos_id)
    return scores


def finite_candidates(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The finite scores of each row and their token ids, best first; rows with fewer are
    padded with -inf."""
    most = max(int(torch.isfinite(scores).sum(-1).max()), 1)
    return torch.topk(scores, most, dim=-1)


def warped_candidates(
    scores: torch.Tensor, s: Any, keep: int, shift: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Temperature, top-k and top-p, returned as the survivors (values, token ids), best first.

    ``shift`` [rows] is added before warping (the card's rule warps the running beam score plus
    the log-probabilities). Only the top k + 1 scores are looked at unless the k-th ties with
    the next one, or top-k is off: then the whole vocabulary is warped.
    """
    vocab = scores.shape[-1]
    if s.top_k > 0:
        k = min(max(s.top_k, keep), vocab)
        values, index = torch.topk(scores, min(k + 1, vocab), dim=-1)
        if shift is not None:
            values = values + shift[:, None]
        if s.temperature != 1.0:
            values = values / s.temperature
        if k == vocab or not bool((values[..., k] == values[..., k - 1]).any()):
            values, index = values[..., :k], index[..., :k]
            if s.top_p < 1.0:
                values = _top_p_sorted(values, s.top_p, keep)
            return values, index
    full = scores if shift is None else scores + shift[:, None]
    if s.temperature != 1.0:
        full = full / s.temperature
    return finite_candidates(top_k_top_p(full, s.top_k, s.top_p, keep))
