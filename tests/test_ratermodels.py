"""Rater models (crowd-kit): with a spammer among the raters they find the truth better than a
majority vote, estimate each rater's skill, and the report shows them beside the majority."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaltool.reporting import ratermodels

from .conftest import need

SKILLS = [0.95, 0.95, 0.7, 0.6, 0.5]
SPAMMER = 4  # answers at random


@pytest.fixture(autouse=True)
def crowdkit() -> None:
    need(importlib.util.find_spec("crowdkit") is not None, "crowd-kit is not installed")


def simulated(items: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Labels of raters with known skills, and a spammer, on items with known answers; 3
    raters per item."""
    rng = np.random.default_rng(seed)
    truth = rng.random(items) < 0.6
    rows = []
    for item in range(items):
        for rater in rng.choice(len(SKILLS), size=3, replace=False):
            right = rng.random() < SKILLS[rater]
            sensible = bool(truth[item] if right else not truth[item])
            rows.append((item, int(rater), sensible, sensible and rng.random() < 0.5))
    frame = pd.DataFrame(rows, columns=["response_id", "annotator_id", "sensible", "specific"])
    return frame, truth


@pytest.mark.parametrize("method", ["dawid-skene", "mace"])
def test_rater_model_beats_majority_with_a_spammer(method: str) -> None:
    labels, truth = simulated()
    model = ratermodels.model_votes(labels, method).set_index("response_id")["sensible"]
    votes = labels.groupby("response_id")["sensible"].sum() >= 2
    model_right = float((model.sort_index().to_numpy() == truth).mean())
    majority_right = float((votes.sort_index().to_numpy() == truth).mean())
    assert model_right > majority_right, (model_right, majority_right)


def test_rater_skill_is_recovered() -> None:
    labels, _ = simulated()
    accuracy = ratermodels.rater_accuracy(labels)
    assert accuracy.to_numpy() == pytest.approx(SKILLS, abs=0.06)
    assert ratermodels.rater_accuracy(labels, "mace").idxmin() == SPAMMER


def test_report_shows_the_model_beside_the_majority(run_cli, tmp_path: Path) -> None:
    assert run_cli("init").exit_code == 0
    labels, _ = simulated(items=60, seed=1)
    contexts = [{"id": f"c{i}", "turns": [f"реплика {i}"]} for i in range(30)]
    (tmp_path / "v.jsonl").write_text("".join(json.dumps(c) + "\n" for c in contexts))
    assert run_cli("contexts", "import", "v.jsonl").exit_code == 0
    for system in ("a", "b"):
        rows = [{"context_id": c["id"], "response": f"{system} {c['id']}"} for c in contexts]
        (tmp_path / f"{system}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        assert run_cli("responses", "import", f"{system}.jsonl", "--system", system).exit_code == 0
    out = [
        {
            "context_id": f"c{row.response_id % 30}",
            "system": "ab"[row.response_id // 30],
            "annotator": f"r{row.annotator_id}",
            "sensible": bool(row.sensible),
            "specific": bool(row.specific),
        }
        for row in labels.itertuples()
    ]
    (tmp_path / "l.jsonl").write_text("".join(json.dumps(r) + "\n" for r in out))
    assert run_cli("labels", "import", "l.jsonl").exit_code == 0
    result = run_cli("report", "--aggregate", "dawid-skene", "--resamples", "1000")
    assert result.exit_code == 0, result.output
    rep = json.loads((tmp_path / "reports/v/report.json").read_text())
    assert rep["settings"]["aggregate"] == "dawid-skene"
    for s in rep["systems"]:
        assert s["majority_vote"]["ssa"]["estimate"] is not None and "order_changed" in s
    md = (tmp_path / "reports/v/report.md").read_text()
    assert "Dawid-Skene" in md and "SSA, majority vote" in md
