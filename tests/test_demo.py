"""``evaltool demo``: the offline loop, simulated labels, and a browser session on its page."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evaltool.storage import db
from evaltool.storage.schema import Annotator, Label

from .conftest import served
from .pages import label_by_keys, start

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_simulated_demo_has_expected_baselines_and_reproduces_the_shipped_report(
    run_cli, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """One simulated demo: the baselines come out in order, and the report is the one in
    reports/demo-simulated (made by `make demo-report` on another run): reproducible."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = run_cli("demo", "--dir", "d", "--simulate-labels")
    assert result.exit_code == 0, result.output
    assert "skipped (not cached, hub unreachable): tinkoff-ai/ruDialoGPT-small" in result.output
    assert "when online, add them with: evaltool generate" in result.output
    assert len(re.findall(r"\?token=", result.output)) == 4
    rep = json.loads((tmp_path / "d/reports/ru-mtb/report.json").read_text())
    assert rep["simulated"] is True
    assert "SIMULATED LABELS" in (tmp_path / "d/reports/ru-mtb/report.md").read_text()
    by = {s["name"]: s for s in rep["systems"]}
    assert set(by) == {"reference", "generic", "shuffled", "echo"}
    assert all(s["kind"] == "baseline" and s["items"] == 300 for s in by.values())
    assert by["reference"]["sensibleness"]["ci_low"] > by["shuffled"]["sensibleness"]["ci_high"]
    assert by["generic"]["specificity"]["estimate"] < 0.1
    assert by["generic"]["sensibleness"]["estimate"] > 0.8
    engine = db.make_engine(f"sqlite:///{tmp_path / 'd/evaltool.db'}")
    with db.session_scope(engine) as s:
        assert s.scalar(select(func.count(Label.id)).where(Label.source == "simulated")) == 3600
        assert s.scalar(select(func.count(Annotator.id)).where(Annotator.simulated)) == 5
    shipped = json.loads((ROOT / "reports/demo-simulated/report.json").read_text())
    for r in (rep, shipped):
        r.pop("generated_at")
    assert rep == shipped
    again = run_cli("demo", "--dir", "d", "--no-serve")  # nothing doubled
    assert again.exit_code == 0 and "already there" in again.output and "token=" not in again.output


@pytest.mark.browser
def test_two_annotators_label_demo_in_chromium_then_report(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = subprocess.run(
        [sys.executable, "-m", "evaltool", "demo", "--dir", "d", "--no-serve"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"},
    ).stdout
    tokens = dict(re.findall(r"(annotator-\d)\s+http://\S+\?token=(\S+)", out))
    url = f"sqlite:///{tmp_path / 'd/evaltool.db'}"
    with served(url, tmp_path) as port:
        for name, answers in (
            ("annotator-1", [(True, True), (False, False)]),
            ("annotator-2", [(True, False)]),
        ):
            page = start(browser, port, f"token={tokens[name]}")
            label_by_keys(page, answers)
            page.context.close()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "evaltool",
            "report",
            "--db",
            url,
            "--min-labels",
            "1",
            "--resamples",
            "1000",
            "--out",
            "rep",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "rep/report.json" in result.stdout
    rep = json.loads((tmp_path / "rep/report.json").read_text())
    assert sum(s["labels"] for s in rep["systems"]) == 3
    engine = db.make_engine(url)
    with db.session_scope(engine) as s:
        rows = s.execute(
            select(Annotator.name, Label.sensible, Label.specific).join(
                Label, Label.annotator_id == Annotator.id
            )
        ).all()
    assert sorted(map(tuple, rows)) == [
        ("annotator-1", False, False),
        ("annotator-1", True, True),
        ("annotator-2", True, False),
    ]
