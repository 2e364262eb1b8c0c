"""One responder interface behind every way of answering: the loop, the registry, live use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from evaltool.generation import backends, loop
from evaltool.generation.responder import (
    Answered,
    Candidate,
    Conversation,
    Identity,
    Responder,
)
from evaltool.generation.settings import context_key
from evaltool.storage import db
from evaltool.storage.contexts import BUILTIN_DATASET, builtin_path, import_contexts
from evaltool.storage.schema import Context, Response, System


class Shouter(Responder):
    """A backend as a user would add one: a class and a registry entry."""

    def __init__(self, model: str) -> None:
        self.name = model.removeprefix("shout:")
        self.identity = Identity("model", model)

    def respond(self, batch: list[Conversation]) -> Iterator[Answered]:
        for conv in batch:  # one context a group: each is stored as it is done
            yield [(conv, [Candidate(conv.turns[-1].upper(), {"new_tokens": 1})])]


@pytest.fixture
def shipped(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = db.make_engine(f"sqlite:///{tmp_path / 'r.db'}", must_exist=False)
    db.upgrade(engine)
    import_contexts(engine, builtin_path(), BUILTIN_DATASET)
    yield engine
    engine.dispose()


def test_a_new_backend_is_one_class_and_one_entry(shipped, monkeypatch) -> None:
    entry = backends.Backend("shout", f"{__name__}:Shouter", None, (), "not for shouting")
    monkeypatch.setitem(backends.BACKENDS, "shout", entry)
    summary = loop.run(shipped, entry.make("shout:loud", {}), loop.RunOptions(limit=5))
    assert (summary.system, summary.contexts, summary.responses) == ("loud", 5, 5)
    again = loop.run(shipped, entry.make("shout:loud", {}), loop.RunOptions(limit=7))
    assert (again.contexts, again.skipped) == (2, 5)
    with db.session_scope(shipped) as s:
        rows = s.execute(
            select(Context.turns, Response.text).join(Response).order_by(Context.id)
        ).all()
        assert len(rows) == 7 and all(text == turns[-1].upper() for turns, text in rows)
        assert s.scalars(select(System.provenance)).one()["runs"][1]["answered"] == 2


def test_baselines_answer_through_the_same_loop(shipped) -> None:
    echo = backends.make_responder("baseline:echo")
    assert echo.reply(["привет", "как дела?"])[0].text == "как дела?"
    summary = loop.run(shipped, echo, loop.RunOptions())
    assert (summary.system, summary.contexts) == ("echo", 300)
    generic = loop.run(shipped, backends.make_responder("baseline:generic"), loop.RunOptions())
    assert generic.responses == 300
    with pytest.raises(Exception, match="unknown baseline 'nope'"):
        backends.make_responder("baseline:nope")


def test_a_local_model_stays_loaded_and_answers_live_as_the_loop_does(shipped, tiny_model) -> None:
    """The same context and seed give the same candidates live and in a generate run: each
    context draws from its own stream, whatever else is in the batch."""
    responder = backends.make_responder(str(tiny_model), batch_size=8)
    summary = loop.run(shipped, responder, loop.RunOptions(limit=8))
    assert summary.responses == 24
    with db.session_scope(shipped) as s:
        ctx = s.scalars(select(Context).order_by(Context.id).limit(1)).one()
        stored = list(
            s.scalars(
                select(Response.text).where(Response.context_id == ctx.id).order_by(Response.rank)
            )
        )
        key = context_key(0, BUILTIN_DATASET, ctx.external_id)
        turns = list(ctx.turns)
    live = backends.make_responder(str(tiny_model))
    first = live.reply(turns, key)
    loaded = live.loaded
    assert [c.text for c in first] == stored
    assert [c.text for c in live.reply(turns, key)] == stored and live.loaded is loaded


def test_shuffled_baseline_with_repeated_references(tmp_path: Path) -> None:
    """Most references the same text: each context still gets another context's different
    reply, and a set with one reply text is refused up front instead of looping forever."""
    from evaltool.errors import UserError

    engine = db.make_engine(f"sqlite:///{tmp_path / 'same.db'}", must_exist=False)
    db.upgrade(engine)
    rows = [{"id": f"c{i}", "turns": ["привет"], "reference": "хорошо"} for i in range(50)]
    path = tmp_path / "same.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    import_contexts(engine, path, "same")
    with pytest.raises(UserError, match="2 different reference replies"):
        loop.run(engine, backends.make_responder("baseline:shuffled"), loop.RunOptions())
    rows[7]["reference"] = "плохо"
    (tmp_path / "two.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    import_contexts(engine, tmp_path / "two.jsonl", "two")
    options = loop.RunOptions(dataset="two")
    summary = loop.run(engine, backends.make_responder("baseline:shuffled"), options)
    assert summary.responses == 50
    with db.session_scope(engine) as s:
        query = select(Context.reference, Response.text).join(Response)
        pairs = s.execute(query.where(Context.external_id.in_(["c0", "c7"]))).all()
        assert all(ref != text for ref, text in pairs), pairs
    engine.dispose()
