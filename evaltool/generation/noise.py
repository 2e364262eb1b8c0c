"""Per-context random streams: Gumbel noise that depends on (context seed, step, row, token) only.

Sampling with a batch-wide generator makes a context's reply depend on its batch: which other
contexts came along, in what order, how many. Here every random number is a hash of where it
is used, so a context draws the same numbers whatever its batch, and a resumed run draws what
an uninterrupted one would. Sampling ``n`` tokens without replacement in proportion to
``softmax(scores)`` is ``topk(scores + gumbel, n)`` (the Gumbel-top-k trick, which is also how
``torch.multinomial`` samples without replacement). The hash is integer arithmetic kept below
2**63, so it gives the same bits on every device.
"""

from __future__ import annotations

import torch

_MASK32 = 0xFFFFFFFF


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """(x * c) mod 2**32 for x < 2**32, in two halves so that no product reaches 2**63."""
    low = x * (c & 0xFFFF)
    high = ((x * (c >> 16)) & 0xFFFF) << 16
    return (low + high) & _MASK32


def _mix(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (Wellons' lowbias32) on int64 tensors."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def gumbel(keys: torch.Tensor, step: int, rows: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel noise, float32, shaped like ``tokens``.

    ``keys`` [N] are 63-bit context keys (``generate.context_key``), ``rows`` [N] each row's
    index within its context (search and beam), ``tokens`` [N, C] each row's candidate ids.

    >>> k = torch.tensor([12345])
    >>> a = gumbel(k, 3, torch.tensor([1]), torch.tensor([[5, 7]]))
    >>> b = gumbel(k, 3, torch.tensor([1]), torch.tensor([[7, 5]]))
    >>> bool(a[0, 0] == b[0, 1]) and bool(a[0, 1] == b[0, 0])
    True
    """
    low, high = keys & _MASK32, (keys >> 32) & _MASK32
    h = _mix(tokens.long() & _MASK32)
    h = _mix(h ^ rows.long()[:, None])
    h = _mix(h ^ (step & _MASK32))
    h = _mix(h ^ high[:, None])
    h = _mix(h ^ low[:, None])
    u = (h.double() + 0.5) / 2.0**32
    return (-torch.log(-torch.log(u))).float()


class Draws:
    """Where a decoding loop's random draws come from.

    With context ``keys`` [B], each context has its own stream (``gumbel``); without, draws
    replay transformers: ``torch.multinomial`` on torch's global generator over the whole
    batch, so they depend on the batch like transformers' own do.
    """

    def __init__(self, keys: torch.Tensor | None) -> None:
        self.keys = keys

    @property
    def replay(self) -> bool:
        """True when draws come from torch's generator, as transformers' do."""
        return self.keys is None

    def pick(
        self, scores: torch.Tensor, n: int, step: int, tokens: torch.Tensor, rows_per_context: int
    ) -> torch.Tensor:
        """Positions of ``n`` draws without replacement from each row of ``softmax(scores)``.

        ``scores`` [N, M] is a view of per-row candidates ``tokens`` [R, C] (R * C = N * M,
        ``rows_per_context`` rows per context), which key the noise.
        """
        if self.keys is None:
            return torch.multinomial(torch.softmax(scores, dim=-1), num_samples=n)
        rows = tokens.shape[0]
        keys = self.keys.repeat_interleave(rows_per_context)
        ids = torch.arange(rows, device=tokens.device) % rows_per_context
        noise = gumbel(keys, step, ids, tokens).view(scores.shape)
        return torch.topk(scores + noise, n, dim=-1).indices


def draw(
    values: torch.Tensor,
    tokens: torch.Tensor,
    searches: int,
    n: int,
    sample: bool,
    draws: Draws,
    t: int,
    rows_per_context: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` candidates per search over all its beams' candidates (``values``, ``tokens``:
    [rows, C]), best first: sampled without replacement and sorted by score, or the best.
    Returns their scores, beams (within the search) and tokens, each [searches, n]."""
    width = values.shape[-1]
    flat = values.reshape(searches, -1)
    if sample:
        pick = draws.pick(flat, n, t, tokens, rows_per_context)
        top, order = torch.sort(torch.gather(flat, 1, pick), descending=True, dim=1)
        pick = torch.gather(pick, 1, order)
    else:
        top, pick = torch.topk(flat, n, dim=1)
    return top, pick // width, torch.gather(tokens.reshape(searches, -1), 1, pick)
