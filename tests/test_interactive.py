"""Interactive SSA (``report --chat``, ``export conversations``): bot turns labelled through the
page's path, counted per conversation; and by simulation, intervals that resample
conversations cover the truth while intervals that resample turns do not."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from evaltool.annotation import accounts, chat, flow
from evaltool.storage import db
from evaltool.storage.schema import Response, System

from .test_chat import answer_all, campaign, chat_to

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import interactive_coverage

# The raters' rule: echo's replies are nonsense, generic's sensible but never specific.
VERDICT = {"echo": (False, False), "generic": (True, False)}


def label_everything(engine, raters: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Each rater labels every item the pool gives them, by the bot's verdict; how many."""
    with db.session_scope(engine, readonly=True) as s:
        bots = select(Response.id, System.name).join(System, System.id == Response.system_id)
        bot_of = dict(s.execute(bots).all())
    done = 0
    for token in raters:
        view = flow.view(engine, token)
        while view.task is not None:
            verdict = VERDICT[bot_of[view.task.response_id]]
            view = flow.answer(engine, token, view.task.response_id, *verdict)
            done += 1
    return done


def test_interactive_table_counts_conversations_turns_and_reports(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("init").exit_code == 0
    engine = db.make_engine(f"sqlite:///{tmp_path / 'evaltool.db'}")
    campaign(engine, bots=("baseline:echo", "baseline:generic"), conversations=4)
    people = [accounts.add_annotator(engine, f"p{i}") for i in range(7)]
    for token in people[:6]:
        chat_to(engine, token, 4)
        chat.report_reply(engine, token, "c", 1, "broken")
        chat.finish(engine, token, "c")
    chat.view(engine, people[6], "c")  # open, never finished
    answer_all(engine)
    raters = [accounts.add_annotator(engine, f"r{i}") for i in range(3)]
    assert label_everything(engine, raters) == 6 * 2 * 3
    result = run_cli("report", "--chat", "c", "--resamples", "1000")
    assert result.exit_code == 0, result.output
    rep = json.loads((tmp_path / "reports/c/report.json").read_text())
    by = {b["name"]: b for b in rep["bots"]}
    assert by["echo"]["conversations"] == 3 and by["generic"]["conversations"] == 3
    assert by["echo"]["bot_turns"] == 6 and by["echo"]["mean_turns"] == 4
    assert by["echo"]["ssa"]["estimate"] == 0 and by["generic"]["ssa"]["estimate"] == 0.5
    assert by["echo"]["open"] + by["generic"]["open"] == 1
    assert by["echo"]["reported"] == {"offensive": 0, "broken": 3}
    assert rep["settings"]["resampled"] == "conversations"
    assert rep["comparisons"][0]["ssa"]["difference"] in (0.5, -0.5)
    md = (tmp_path / "reports/c/report.md").read_text()
    assert "| generic | 3 | 6 | 4.0 |" in md
    written = sorted(Path(line).name for line in result.output.splitlines()[:3])
    assert written == ["report.json", "report.md", "ssa.png"]
    assert (tmp_path / "reports/c/ssa.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    exported = run_cli("export", "conversations", "--dataset", "c", "--format", "jsonl")
    lines = [json.loads(x) for x in exported.output.splitlines()]
    assert len(lines) == 7 and {c["state"] for c in lines} == {"finished", "open"}
    done = next(c for c in lines if c["state"] == "finished")
    bot_turns = [t for t in done["turns"] if t["speaker"] == "bot"]
    assert all(len(t["labels"]) == 3 and t["vote"] is not None for t in bot_turns)
    refused = run_cli("export", "conversations", "--dataset", "c")
    assert refused.exit_code == 2 and "use --format jsonl" in refused.stderr


def test_a_chat_campaign_does_not_make_the_static_dataset_ambiguous(
    run_cli, tmp_path: Path
) -> None:
    assert run_cli("init").exit_code == 0
    assert run_cli("contexts", "import", "--builtin").exit_code == 0
    campaign(db.make_engine(f"sqlite:///{tmp_path / 'evaltool.db'}"))
    assert run_cli("generate", "--model", "baseline:generic", "--limit", "3").exit_code == 0
    assert run_cli("report", "--resamples", "1000").exit_code == 0  # the static dataset


@pytest.mark.slow
def test_conversation_intervals_cover_while_turn_intervals_do_not() -> None:
    """Correlated turns (bench/interactive_coverage.py): resampling conversations covers the
    truth 93-97% of the time, resampling turns far less. Both figures are printed."""
    by_conversation = interactive_coverage.coverage(1000, 100, by=("conversations",))
    by_turn = interactive_coverage.coverage(200, 100, by=("turns",))
    print(f"\ncoverage: conversations {by_conversation}, turns {by_turn}")
    assert 0.93 <= by_conversation["conversations"] <= 0.97
    assert by_turn["turns"] < 0.85
