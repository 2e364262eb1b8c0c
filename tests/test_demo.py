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

from .conftest import _free_port, serve
from .test_browser import browser, label_items, open_link  # noqa: F401 - fixture


@pytest.mark.slow
def test_simulated_demo_report_has_expected_baselines(run_cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = run_cli("demo", "--dir", "d", "--simulate-labels", "--seed", "3")
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
    again = run_cli("demo", "--dir", "d", "--no-serve", "--seed", "3")  # nothing doubled
    assert again.exit_code == 0 and "already there" in again.output and "token=" not in again.output


def test_demo_is_reproducible(run_cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reports = []
    for d in ("a", "b"):
        assert run_cli("demo", "--dir", d, "--simulate-labels", "--raters", "3").exit_code == 0
        rep = json.loads((tmp_path / d / "reports/ru-mtb/report.json").read_text())
        rep.pop("generated_at")
        reports.append(rep)
    assert reports[0] == reports[1]


def test_demo_bad_options(run_cli, tmp_path: Path) -> None:
    assert run_cli("demo", "--accuracy", "0.2").exit_code == 2
    assert run_cli("demo", "--raters", "2", "--overlap", "3").exit_code == 2
    assert not (tmp_path / "demo").exists()


@pytest.mark.browser
def test_two_annotators_label_demo_in_chromium_then_report(browser, tmp_path: Path) -> None:  # noqa: F811
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
    port = _free_port()
    proc = serve(url, port, tmp_path)
    try:
        for name, answers in (
            ("annotator-1", [(True, True), (False, False)]),
            ("annotator-2", [(True, False)]),
        ):
            page = open_link(browser, port, tokens[name])
            label_items(page, answers)
            page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
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
