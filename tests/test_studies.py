"""Crowd studies: one link, accounts by (platform, worker id), quota, qualification with
feedback, completion codes that exist only after the last answer, closing, the worker list."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evaltool.annotation import flow, studies
from evaltool.errors import UserError
from evaltool.storage import db
from evaltool.storage.schema import Annotator, GoldItem, Label, TrainingAnswer

from .conftest import make_pool


def prolific(pid: str) -> dict[str, str]:
    return {"PROLIFIC_PID": pid, "STUDY_ID": "st1", "SESSION_ID": f"se-{pid}"}


def label_all(engine, token: str, limit: int = 100) -> flow.View:  # type: ignore[no-untyped-def]
    """Answer whatever comes until the page shows something else than an item."""
    v = flow.view(engine, token)
    for _ in range(limit):
        if v.kind != "task":
            return v
        assert v.code is None and v.finish is None  # no code before the last answer
        v = flow.answer(engine, token, v.task.response_id, True, False)
    return v


def test_quota_then_code_that_a_revisit_shows_again(any_db) -> None:  # type: ignore[no-untyped-def]
    make_pool(any_db, contexts=20, systems=2, ranks=(0,))
    studies.create_study(any_db, "s", "prolific", items_per_worker=5)
    joined = studies.join_study(any_db, "s", prolific("p1"))
    assert joined.new
    v = label_all(any_db, joined.token)
    assert v.kind == "finished" and v.done == 5 and v.code and len(v.code) == 10
    assert v.finish == {
        "method": "get",
        "url": f"https://app.prolific.com/submissions/complete?cc={v.code}",
        "fields": {},
    }
    again = studies.join_study(any_db, "s", prolific("p1"))
    assert not again.new and again.annotator_id == joined.annotator_id
    assert flow.view(any_db, again.token).code == v.code  # the same code
    with pytest.raises(UserError, match="unknown login token"):
        flow.view(any_db, joined.token)  # the old tab's token is replaced
    with db.session_scope(any_db) as s:
        assert s.scalar(select(func.count(Label.id))) == 5  # never more than N
        me = s.get(Annotator, joined.annotator_id)
        assert me.platform_worker == "p1" and me.platform_params["SESSION_ID"] == "se-p1"
        assert me.name.startswith("prolific:") and "p1" not in me.name


def test_codes_differ_and_cannot_be_had_early(any_db) -> None:  # type: ignore[no-untyped-def]
    make_pool(any_db, contexts=10, systems=1, ranks=(0,))
    study = studies.create_study(any_db, "s", "generic", items_per_worker=3)
    a = studies.join_study(any_db, "s", {"worker_id": "a"})
    b = studies.join_study(any_db, "s", {"worker_id": "b"})
    va, vb = label_all(any_db, a.token), label_all(any_db, b.token)
    assert va.code != vb.code
    assert va.code == studies.completion_code(study, a.annotator_id)
    assert va.finish is None  # generic: the worker types the code into their platform
    with db.session_scope(any_db) as s:
        assert s.get(Annotator, a.annotator_id).finished_at is not None


def test_links_and_refusals(any_db) -> None:  # type: ignore[no-untyped-def]
    make_pool(any_db, contexts=4, systems=1, ranks=(0,))
    study = studies.create_study(any_db, "crowd", "prolific", 2, max_workers=1)
    link = studies.study_link(study, "eval.example.org", 80)
    assert link.startswith(
        "http://eval.example.org:80/?study=crowd&PROLIFIC_PID={{%PROLIFIC_PID%}}"
    )
    with pytest.raises(UserError, match="no worker id"):
        studies.join_study(any_db, "crowd", {})
    studies.join_study(any_db, "crowd", prolific("first"))
    with pytest.raises(UserError, match="all the workers it needs"):
        studies.join_study(any_db, "crowd", prolific("second"))
    studies.join_study(any_db, "crowd", prolific("first"))  # a revisit is not a new worker
    studies.create_study(any_db, "turk", "mturk", 2)
    with pytest.raises(UserError, match="preview"):
        studies.join_study(any_db, "turk", {"workerId": "w", "assignmentId": studies.MTURK_PREVIEW})
    turk = studies.join_study(
        any_db,
        "turk",
        {"workerId": "w", "assignmentId": "A1", "hitId": "H", "turkSubmitTo": "https://x.test"},
    )
    v = label_all(any_db, turk.token)
    assert v.kind in ("finished", "empty")
    studies.create_study(any_db, "crowd-2", "prolific", 2)
    with pytest.raises(UserError, match="another study"):
        studies.join_study(any_db, "crowd-2", prolific("first"))
    studies.close_study(any_db, "turk")
    with pytest.raises(UserError, match="closed"):
        studies.join_study(any_db, "turk", {"workerId": "late", "assignmentId": "A2"})
    with pytest.raises(UserError, match="study: no study 'nope'"):
        studies.join_study(any_db, "nope", {"worker_id": "x"})


def test_mturk_worker_goes_back_with_a_form(any_db) -> None:  # type: ignore[no-untyped-def]
    make_pool(any_db, contexts=4, systems=1, ranks=(0,))
    studies.create_study(any_db, "turk", "mturk", 2)
    params = {"workerId": "w", "assignmentId": "A1", "hitId": "H", "turkSubmitTo": "https://x.test"}
    v = label_all(any_db, studies.join_study(any_db, "turk", params).token)
    assert v.finish == {
        "method": "post",
        "url": "https://x.test/mturk/externalSubmit",
        "fields": {"assignmentId": "A1", "code": v.code},
    }


def _training(engine, ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    with db.session_scope(engine) as s:
        for i, rid in enumerate(ids):
            s.add(
                GoldItem(
                    response_id=rid,
                    expected_sensible=i % 2 == 0,
                    expected_specific=False if i % 2 == 0 else None,
                    training=True,
                    explanation=f"why {i}",
                )
            )


@pytest.mark.parametrize("right", [True, False])
def test_qualification_with_feedback_pass_or_stop(any_db, right: bool) -> None:  # type: ignore[no-untyped-def]
    ids = make_pool(any_db, contexts=12, systems=1, ranks=(0,))
    _training(any_db, ids[:3])
    studies.create_study(any_db, "q", "generic", 4, qualification=3, pass_mark=0.66)
    token = studies.join_study(any_db, "q", {"worker_id": "t"}).token
    for step in range(3):
        v = flow.view(any_db, token)
        assert v.kind == "training" and v.training == (step + 1, 3)
        expected = v.task.response_id in ids[:3][::2]  # even ones are sensible
        says = expected if right else not expected
        fb = flow.answer(any_db, token, v.task.response_id, says, False)
        assert fb.kind == "feedback" and fb.feedback["correct"] is right
        assert fb.feedback["explanation"].startswith("why ")
    assert fb.feedback["passed"] is right
    v = flow.view(any_db, token)
    if right:
        assert v.kind == "task" and v.task.response_id not in ids[:3]
        assert label_all(any_db, token).kind == "finished"
    else:
        assert v.kind == "stopped" and v.message == "failed qualification"
    with db.session_scope(any_db) as s:
        assert s.scalar(select(func.count(TrainingAnswer.id))) == 3
        assert s.scalar(select(func.count(Label.id))) == (4 if right else 0)  # kept apart


def test_workers_listed_for_payment(run_cli, tmp_path: Path) -> None:
    assert run_cli("init").exit_code == 0
    engine = db.make_engine(f"sqlite:///{tmp_path / 'evaltool.db'}")
    make_pool(engine, contexts=10, systems=1, ranks=(0,))
    result = run_cli(
        "study", "create", "pilot", "--platform", "prolific", "--items-per-worker", "3"
    )
    assert result.exit_code == 0 and "?study=pilot&PROLIFIC_PID=" in result.output
    done = label_all(engine, studies.join_study(engine, "pilot", prolific("P1")).token)
    studies.join_study(engine, "pilot", prolific("P2"))
    out = run_cli("study", "workers", "pilot")
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert [r["platform_id"] for r in rows] == ["P1", "P2"]
    assert rows[0]["completion_code"] == done.code and rows[0]["items"] == "3"
    assert rows[1]["completion_code"] == "" and rows[1]["finished"] == ""
    js = run_cli("study", "workers", "pilot", "--format", "jsonl")
    assert json.loads(js.output.splitlines()[0])["platform_id"] == "P1"
    assert run_cli("study", "close", "pilot").exit_code == 0
    bad = run_cli("study", "create", "x", "--platform", "prolific", "--items-per-worker", "0")
    assert bad.exit_code == 2 and "--items-per-worker: must be 1 or more" in bad.stderr
