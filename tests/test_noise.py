"""Per-context random streams: right distribution, independent, and fixed forever."""

from __future__ import annotations

import math

import torch

from evaltool.generation.noise import Draws, gumbel
from evaltool.generation.settings import context_key


def test_gumbel_noise_has_the_gumbel_distribution() -> None:
    keys = torch.tensor([context_key(0, "d", f"c{i}") for i in range(50)])
    tokens = torch.arange(2000).expand(50, 2000)
    g = gumbel(keys, 7, torch.arange(50) % 9, tokens).double()
    assert abs(g.mean().item() - 0.5772) < 0.01  # Euler's constant
    assert abs(g.var().item() - math.pi**2 / 6) < 0.03
    # the CDF exp(-exp(-x)) at a few points
    for x in (-1.0, 0.0, 1.0, 3.0):
        assert abs((g <= x).double().mean().item() - math.exp(-math.exp(-x))) < 0.01


def test_noise_changes_with_every_part_of_its_key() -> None:
    base = (torch.tensor([context_key(0, "d", "c1")]), 3, torch.tensor([2]))
    tokens = torch.arange(500)[None]
    g = gumbel(*base, tokens)
    others = [
        gumbel(torch.tensor([context_key(1, "d", "c1")]), 3, base[2], tokens),
        gumbel(torch.tensor([context_key(0, "d", "c2")]), 3, base[2], tokens),
        gumbel(base[0], 4, base[2], tokens),
        gumbel(base[0], 3, torch.tensor([1]), tokens),
    ]
    for other in others:
        corr = torch.corrcoef(torch.stack([g[0], other[0]]))[0, 1].item()
        assert abs(corr) < 0.15 and not torch.equal(g, other)
    assert torch.equal(g, gumbel(*base, tokens))  # and only with it


def test_the_stream_is_fixed() -> None:
    """Seeds must mean the same replies in every release: these values may never change."""
    assert context_key(0, "ru-mtb", "mtb-001") == 0x6823914C8D0659BB
    g = gumbel(torch.tensor([12345]), 0, torch.tensor([0]), torch.tensor([[0, 1, 50257]]))
    assert [round(v, 5) for v in g[0].tolist()] == [0.56708, 0.52345, 0.36065]


def test_gumbel_top_k_samples_in_proportion_to_softmax() -> None:
    n = 20000
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    scores = torch.log(probs).expand(n, 4)
    draws = Draws(torch.tensor([context_key(i, "x") for i in range(n)]))
    first = draws.pick(scores, 1, 0, torch.arange(4).expand(n, 4), 1)[:, 0]
    assert torch.allclose(torch.bincount(first, minlength=4) / n, probs, atol=0.012)
    # two draws without replacement: P(second = j | first = i) = p_j / (1 - p_i)
    pair = draws.pick(scores, 2, 1, torch.arange(4).expand(n, 4), 1)
    assert bool((pair[:, 0] != pair[:, 1]).all())
    after_top = pair[pair[:, 0] == 0, 1]
    want = probs[1:] / probs[1:].sum()
    assert torch.allclose(
        torch.bincount(after_top, minlength=4)[1:] / len(after_top), want, atol=0.02
    )
