"""Rater agreement: textbook examples, edge cases, and Gwet's AC1 against irrCAC itself."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from evaltool.reporting import agreement as stats

NAN = np.nan


def _alpha_by_pairs(matrix: np.ndarray) -> float:
    """Krippendorff's nominal alpha from its definition over pairable values (independent)."""
    units = [row[~np.isnan(row)] for row in matrix]
    units = [u for u in units if len(u) >= 2]
    n = sum(len(u) for u in units)
    d_o = (
        sum(sum(a != b for a, b in itertools.permutations(u, 2)) / (len(u) - 1) for u in units) / n
    )
    values = np.concatenate(units)
    d_e = sum(a != b for a, b in itertools.permutations(values, 2)) / (n * (n - 1))
    return 1 - d_o / d_e


def test_krippendorff_alpha_textbook_and_independent() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": nominal alpha 0.743
    data = np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
            [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
        ]
    ).T
    assert stats.krippendorff_alpha_nominal(data) == pytest.approx(0.743, abs=5e-4)
    rng = np.random.default_rng(2)
    for _ in range(5):
        m = rng.integers(0, 2, size=(30, 5)).astype(float)
        m[rng.random(m.shape) < 0.3] = NAN
        assert stats.krippendorff_alpha_nominal(m) == pytest.approx(_alpha_by_pairs(m))


def test_fleiss_kappa_textbook() -> None:
    # Fleiss (1971) worked example as on Wikipedia: 10 subjects, 14 raters, 5 categories
    counts = np.array(
        [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
    )
    matrix = np.array([np.repeat(np.arange(5), row) for row in counts], dtype=float)
    assert stats.fleiss_kappa(matrix) == pytest.approx(0.210, abs=1e-3)


def test_agreement_edge_cases() -> None:
    same = np.ones((5, 3))
    assert stats.raw_agreement(same) == 1.0
    assert stats.krippendorff_alpha_nominal(same) is None  # no disagreement is expected
    ragged = np.array([[1, 1, NAN], [0, 1, 1]])
    assert stats.fleiss_kappa(ragged) is None
    assert stats.raw_agreement(np.array([[1, NAN], [0, NAN]])) is None


def test_gwet_ac1_equals_irrcac() -> None:
    """tests/data/golden/ac1.json holds what irrCAC 0.4.4 computes (make golden-ac1)."""
    golden = json.loads((Path(__file__).parent / "data/golden/ac1.json").read_text())["cases"]
    assert len(golden) >= 6
    for name, case in golden.items():
        m = np.array([[np.nan if v is None else v for v in row] for row in case["ratings"]])
        got = stats.gwet_ac1(m)
        assert got is not None, name
        assert got.estimate == pytest.approx(case["ac1"], abs=1e-9), name
        assert got.se == pytest.approx(case["se"], abs=1e-9), name
        assert [got.low, got.high] == pytest.approx(case["ci"], abs=1e-8), name


def test_ac1_survives_skew_where_alpha_collapses() -> None:
    """The kappa paradox: 96% of labels say yes, raters agree on 95% of pairs, alpha 0.33."""
    rng = np.random.default_rng(0)
    truth = rng.random(300) < 0.99
    m = np.where(rng.random((300, 3)) < 0.97, truth[:, None], ~truth[:, None]).astype(float)
    raw, alpha = stats.raw_agreement(m), stats.krippendorff_alpha_nominal(m)
    ac1 = stats.gwet_ac1(m)
    assert raw > 0.9 and alpha is not None and alpha < 0.4 and ac1 is not None
    assert ac1.estimate > 0.85
    note = stats.notes({"sensible": stats.matrix_summary(m)})
    assert len(note) == 1 and "kappa paradox" in note[0]
