"""The Streamlit page through ``AppTest``: login, labelling, refresh, roles, plain text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from evaltool.annotation.accounts import add_annotator
from evaltool.storage import db
from evaltool.storage.schema import Annotator, System

from .conftest import make_pool

APP = str(Path(__file__).resolve().parents[1] / "annotate_app" / "app.py")
NASTY = "**жирный** <script>alert('x')</script> [ссылка](http://example.com) # заголовок"


@pytest.fixture
def page_db(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(db.ENV_VAR, sqlite_url)
    db._connect_cached.cache_clear()
    make_pool(
        db.make_engine(sqlite_url),
        contexts=3,
        systems=1,
        ranks=(0,),
        turns=lambda i: ["Привет!", f"Вопрос {i}?"],
        text=lambda _name, i: NASTY if i == 0 else f"Ответ {i}",
    )
    with db.session_scope(db.make_engine(sqlite_url)) as s:
        s.scalars(select(System)).one().name = "secret-model-name"
    return sqlite_url


def app(token: str | None = None, page: str | None = None):  # type: ignore[no-untyped-def]
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=30)
    if token:
        at.query_params["token"] = token
    if page:
        at.query_params["page"] = page
    return at.run()


def texts(at) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(t.value for t in at.text)


def click(at, label: str):  # type: ignore[no-untyped-def]
    """Click a Streamlit button by the start of its label."""
    (button,) = [b for b in at.button if b.label.startswith(label)]
    return button.click().run()


def test_missing_or_wrong_token_shows_only_login(page_db: str) -> None:
    for at in (app(), app("not-a-token")):
        assert not at.exception
        assert at.title[0].value == "Вход"
        assert len(at.text_input) == 1
        assert not at.text and not at.dataframe
    assert "unknown login token" in app("nope").error[0].value


def test_login_instructions_then_the_task(page_db: str) -> None:
    token = add_annotator(db.make_engine(page_db), "anna")
    at = app(token)
    assert at.title[0].value == "Инструкция"  # first login shows the guidelines
    at = click(at, "Понятно")
    assert not at.exception and not at.title  # the task: the component, no Streamlit title
    assert app(token).title == at.title  # seen once: a new visit goes straight to the task
    with db.session_scope(db.make_engine(page_db)) as s:
        assert s.scalars(select(Annotator)).one().seen_instructions


def test_payload_is_plain_text_blinded_and_one_item(page_db: str) -> None:
    """What the component gets: the item's texts as strings, no system, only its own words."""
    from annotate_app import labeler
    from annotate_app.texts import PAIR
    from evaltool.annotation import flow

    engine = db.make_engine(page_db)
    token = add_annotator(engine, "vera")
    seen = set()
    for _ in range(3):
        view = flow.view(engine, token)
        data = labeler.payload(view, "ru")
        assert data["view"] == "task" and set(data["t"]) == set(labeler.WORDS) | set(PAIR["ru"])
        assert "secret-model-name" not in json.dumps(data, ensure_ascii=False)
        seen.add(data["item"]["response"])
        flow.answer(engine, token, data["item"]["id"], False, False, 1.0)
    assert NASTY in seen  # passed on verbatim: the component sets it as text
    assert labeler.payload(flow.view(engine, token), "en")["view"] == "empty"


def test_admin_page_refused_to_annotator_shown_to_admin(page_db: str) -> None:
    engine = db.make_engine(page_db)
    worker, boss = add_annotator(engine, "w"), add_annotator(engine, "boss", admin=True)
    with db.session_scope(engine) as s:
        for a in s.scalars(select(Annotator)):
            a.seen_instructions = True
    at = app(worker, page="admin")
    assert at.error and "только администраторам" in at.error[0].value
    assert not at.dataframe
    from evaltool.annotation import studies

    studies.create_study(engine, "pilot", "prolific", 3, 0, 0)
    studies.join_study(engine, "pilot", {"PROLIFIC_PID": "P1"})
    at = app(boss, page="admin")
    assert not at.exception
    bars = [e.proto.text for e in at.get("progress")]
    assert "pilot (открыто): закончили 0 из 1 исполнителей" in bars
    assert len(at.dataframe) == 2  # the interim SSA table, annotators
    assert "secret-model-name" in str(at.dataframe[0].value)
    assert "model_accuracy" not in at.dataframe[1].value.columns  # reads every label: on demand
    at = at.toggle(key="estimate").set_value(True).run()
    assert "model_accuracy" in at.dataframe[1].value.columns


def test_english_switch(page_db: str) -> None:
    token = add_annotator(db.make_engine(page_db), "eve")
    at = app(token)
    at = click(at, "English")
    assert at.title[0].value == "Instructions"
