"""Annotator accounts: personal login links whose tokens are stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from evaltool.annotation import pool
from evaltool.errors import UserError
from evaltool.storage.db import created_once, session_scope
from evaltool.storage.project import load_settings
from evaltool.storage.schema import Annotator, Label, check_name

TOKEN_BYTES = 24  # 192 random bits


def hash_token(token: str) -> str:
    """SHA-256 of the token; the database never holds the token itself.

    >>> len(hash_token("abc"))
    64
    """
    return hashlib.sha256(token.encode()).hexdigest()


def link(token: str, host: str = "127.0.0.1", port: int = 8501) -> str:
    """The personal link an annotator opens."""
    return f"http://{host}:{port}/?token={token}"


@dataclass(frozen=True)
class AnnotatorInfo:
    """An annotator as ``annotators list`` shows it (no token: it is not stored)."""

    name: str
    role: str
    active: bool
    flagged: bool
    labels: int
    created_at: datetime
    has_link: bool


def add_annotator(engine: Engine, name: str, *, admin: bool = False) -> str:
    """Create an annotator and return their new token (shown once, never stored)."""
    name = check_name("annotator", name)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with created_once(f"annotator {name!r}"), session_scope(engine) as s:
        if s.scalars(select(Annotator).where(Annotator.name == name)).first() is not None:
            raise UserError(
                f"annotator {name!r} exists; use `annotators rotate {name}` for a new link"
            )
        s.add(
            Annotator(
                name=name, token_hash=hash_token(token), role="admin" if admin else "annotator"
            )
        )
    return token


def _get(session: Session, name: str) -> Annotator:
    row = session.scalars(select(Annotator).where(Annotator.name == name)).first()
    if row is None:
        raise UserError(
            f"no annotator {name!r}; see the list of annotators", step="list-annotators"
        )
    return row


def rotate(engine: Engine, name: str) -> str:
    """Give an annotator a new token (the old link stops working) and re-enable them."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with session_scope(engine) as s:
        row = _get(s, name)
        row.token_hash = hash_token(token)
        row.active = True
    return token


def disable(engine: Engine, name: str) -> None:
    """Stop an annotator's link from working; their labels stay."""
    with session_scope(engine) as s:
        _get(s, name).active = False


def unflag(engine: Engine, name: str) -> None:
    """Clear an annotator's gold-check flag (after a talk, say): their labels count again."""
    _set_flag(engine, name, False)


def flag(engine: Engine, name: str) -> None:
    """Flag an annotator by hand (spam seen in their answers, say): their labels stop
    counting, their items go back to the pool, and with stopping on they are stopped."""
    _set_flag(engine, name, True)


def _set_flag(engine: Engine, name: str, flagged: bool) -> None:
    with session_scope(engine) as s:
        annotator = _get(s, name)
        annotator.flagged = flagged
        s.flush()
        pool.recount_rater(s, annotator.id, load_settings(s))


def list_annotators(engine: Engine) -> list[AnnotatorInfo]:
    """All annotators with their label counts."""
    with session_scope(engine, readonly=True) as s:
        rows = s.execute(
            select(Annotator, func.count(Label.id))
            .outerjoin(Label, Label.annotator_id == Annotator.id)
            .group_by(Annotator.id)
            .order_by(Annotator.name)
        ).all()
        return [
            AnnotatorInfo(
                a.name, a.role, a.active, a.flagged, n, a.created_at, a.token_hash is not None
            )
            for a, n in rows
        ]


def authenticate(session: Session, token: str | None) -> Annotator:
    """The active annotator holding ``token``; a missing, wrong or disabled one is a user error."""
    if not token:
        raise UserError("no login token: open your personal link")
    row = session.scalars(
        select(Annotator).where(Annotator.token_hash == hash_token(token))
    ).first()
    if row is None:
        raise UserError("unknown login token: check your personal link")
    if not row.active:
        raise UserError("this link has been disabled: ask the project admin for a new one")
    return row
