"""``evaltool plan``: power by simulation through the report's own comparison, monotone in
the effect to detect and the power asked for, from assumed rates or pilot labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaltool.errors import UserError
from evaltool.reporting import planning

SMALL = {"simulations": 200, "contexts": (50, 100, 200, 400, 800), "raters": (1, 3)}


def needed(difference: float, power: float, raters: int = 3) -> int:
    s = planning.PlanSettings(difference=difference, power=power, **SMALL)
    n = planning.plan(s).needed[raters]
    return n if n is not None else 10**9


@pytest.mark.slow
def test_bigger_differences_need_fewer_contexts() -> None:
    ns = [needed(d, 0.8) for d in (0.05, 0.1, 0.2)]
    assert ns[0] >= ns[1] >= ns[2] and ns[0] > ns[2], ns


def test_more_power_needs_more_contexts() -> None:
    ns = [needed(0.1, p) for p in (0.5, 0.8, 0.95)]
    assert ns[0] <= ns[1] <= ns[2] and ns[0] < ns[2], ns


def test_power_grows_with_contexts_and_raters() -> None:
    result = planning.plan(planning.PlanSettings(difference=0.1, **SMALL))
    for k in (1, 3):
        row = [result.power[k][n] for n in SMALL["contexts"]]
        assert row[-1] > row[0] and row[-1] > 0.8, row
    assert sum(result.power[3].values()) > sum(result.power[1].values())


def test_no_difference_is_found_about_as_often_as_the_test_allows() -> None:
    """A difference of ~0 is 'found' in about 2.5% of studies (one side of a 95% interval)."""
    s = planning.PlanSettings(difference=1e-9, simulations=1000, contexts=(200,), raters=(3,))
    assert planning.power(s.validate(), 200, 3) < 0.06


def test_rates_from_pilot_labels() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for item in range(600):
        sensible = rng.random() < 0.7
        for _ in range(3):
            says = sensible if rng.random() < 0.9 else not sensible
            rows.append((item, says, says and rng.random() < 0.5))
    labels = pd.DataFrame(rows, columns=["response_id", "sensible", "specific"])
    got = planning.from_labels(labels)
    assert got["rater_accuracy"] == pytest.approx(0.9, abs=0.03)
    assert got["sensibleness"] == pytest.approx(0.7, abs=0.05)


def test_bad_settings_are_user_errors() -> None:
    with pytest.raises(UserError, match="difference: the stronger system's SSA would pass 1"):
        planning.PlanSettings(difference=0.9).validate()
    with pytest.raises(UserError, match="rater_accuracy"):
        planning.PlanSettings(rater_accuracy=0.4).validate()


def test_plan_command_prints_a_table_and_writes_json(run_cli, tmp_path: Path) -> None:
    args = ["plan", "--difference", "0.15", "--simulations", "100", "--contexts", "100"]
    result = run_cli(*args, "--contexts", "300", "--raters", "3", "--json", "plan.json")
    assert result.exit_code == 0, result.output
    assert "contexts  3 raters" in result.output and "for power 0.8" in result.output
    doc = json.loads((tmp_path / "plan.json").read_text())
    assert set(doc["power"]["3"]) == {"100", "300"} and doc["settings"]["difference"] == 0.15
    assert run_cli("plan", "--power", "1.5").exit_code == 2
