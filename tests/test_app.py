"""The Streamlit page through ``AppTest``: login, labelling, refresh, roles, plain text."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from evaltool.annotation.accounts import add_annotator
from evaltool.storage import db
from evaltool.storage.schema import Annotator, Label, System

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


BUTTONS = {
    "Да · 1": ("sens_", "_y"),
    "Нет · 2": ("sens_", "_n"),
    "Да · 3": ("spec_", "_y"),
    "Нет · 4": ("spec_", "_n"),
    "Отправить": ("submit_", ""),
}


def click(at, label: str):  # type: ignore[no-untyped-def]
    """Click a button by its label, or by its key for the answer buttons (label · shortcut)."""
    if label in BUTTONS:
        start, end = BUTTONS[label]
        (button,) = [b for b in at.button if b.key.startswith(start) and b.key.endswith(end)]
    else:
        (button,) = [b for b in at.button if b.label.startswith(label)]
    return button.click().run()


def test_missing_or_wrong_token_shows_only_login(page_db: str) -> None:
    for at in (app(), app("not-a-token")):
        assert not at.exception
        assert at.title[0].value == "Вход"
        assert len(at.text_input) == 1
        assert not at.text and not at.dataframe
    assert "unknown login token" in app("nope").error[0].value


def test_login_instructions_label_refresh(page_db: str) -> None:
    token = add_annotator(db.make_engine(page_db), "anna")
    at = app(token)
    assert at.title[0].value == "Инструкция"  # first login shows the guidelines
    at = click(at, "Понятно")
    assert at.title[0].value == "Оценка ответов чат-бота"
    assert "Размечено 0, осталось 3" in at.caption[1].value or any(
        "Размечено 0" in c.value for c in at.caption
    )
    shown = texts(at)
    assert "secret-model-name" not in str(at)  # blinded
    again = app(token)  # a refresh keeps the same item
    assert texts(again) == shown
    at = click(at, "Да · 1")  # sensible: yes -> the specific question appears
    assert any("Специфичный" in m.value for m in at.markdown)
    at = click(at, "Нет · 4")
    at = click(at, "Отправить")
    assert any("Размечено 1" in c.value for c in at.caption)
    with db.session_scope(db.make_engine(page_db)) as s:
        label = s.scalars(select(Label)).one()
        assert (label.sensible, label.specific) == (True, False) and label.seconds is not None


def test_not_sensible_skips_specific_and_finishes(page_db: str) -> None:
    token = add_annotator(db.make_engine(page_db), "boris")
    with db.session_scope(db.make_engine(page_db)) as s:
        s.scalars(select(Annotator)).one().seen_instructions = True
    at = app(token)
    for _ in range(3):
        at = click(at, "Нет · 2")
        assert not any("Специфичный" in m.value for m in at.markdown)
        at = click(at, "Отправить")
    assert any("Все доступные вам ответы размечены" in s.value for s in at.success)


def test_markdown_and_script_shown_literally(page_db: str) -> None:
    token = add_annotator(db.make_engine(page_db), "vera")
    with db.session_scope(db.make_engine(page_db)) as s:
        s.scalars(select(Annotator)).one().seen_instructions = True
    for _ in range(3):
        at = app(token)
        if NASTY in texts(at):
            break
        at = click(at, "Нет · 2")
        at = click(at, "Отправить")
    assert NASTY in texts(at)
    assert all(NASTY not in m.value for m in at.markdown)


def test_admin_page_refused_to_annotator_shown_to_admin(page_db: str) -> None:
    engine = db.make_engine(page_db)
    worker, boss = add_annotator(engine, "w"), add_annotator(engine, "boss", admin=True)
    with db.session_scope(engine) as s:
        for a in s.scalars(select(Annotator)):
            a.seen_instructions = True
    at = app(worker, page="admin")
    assert at.error and "только администраторам" in at.error[0].value
    assert not at.dataframe
    at = app(boss, page="admin")
    assert not at.exception
    assert len(at.dataframe) == 2  # systems, annotators
    assert "secret-model-name" in str(at.dataframe[0].value)


def test_english_switch(page_db: str) -> None:
    token = add_annotator(db.make_engine(page_db), "eve")
    at = app(token)
    at = click(at, "English")
    assert at.title[0].value == "Instructions"
