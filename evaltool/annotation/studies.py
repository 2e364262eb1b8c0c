"""Crowd studies: one public link for a whole crowd on Toloka, Prolific, MTurk or elsewhere.

The platform sends each worker to the link with its own worker parameters; a worker's account
is keyed by a hash of (platform, worker id), so a revisit finds the same account and nothing
else about the person is kept but the platform's pseudonymous id, which the requester pays by.
After its quota a worker gets a completion code made from a secret of the study; it exists
only once the last answer is stored, and a revisit shows the same one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pandas as pd
from sqlalchemy import Engine, Float, func, select
from sqlalchemy.orm import Session

from evaltool.annotation.accounts import TOKEN_BYTES, hash_token
from evaltool.errors import UserError
from evaltool.storage.chats import get_campaign
from evaltool.storage.db import as_engine, created_once, session_scope
from evaltool.storage.schema import (
    TASK_KINDS,
    Annotator,
    Study,
    TrainingAnswer,
    check_name,
    utcnow,
)

CODE_LENGTH = 10


@dataclass(frozen=True)
class Platform:
    """How a crowd platform sends workers to an external page and takes them back."""

    worker: str  # the query parameter holding the worker id
    extra: tuple[str, ...]  # further parameters it adds, kept with the worker
    finish: str | None  # where a finished worker goes back to ({code} and extras filled in)
    template: str  # the query the requester pastes, in the platform's own placeholder syntax


PLATFORM = {
    # Prolific appends these when "URL parameters" are on; it takes finished workers back here.
    "prolific": Platform(
        "PROLIFIC_PID",
        ("STUDY_ID", "SESSION_ID"),
        "https://app.prolific.com/submissions/complete?cc={code}",
        "PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}",
    ),
    # MTurk's ExternalQuestion appends these; the assignment is submitted to turkSubmitTo.
    "mturk": Platform(
        "workerId",
        ("assignmentId", "hitId", "turkSubmitTo"),
        "{turkSubmitTo}/mturk/externalSubmit",
        "",
    ),
    # Toloka's "survey on a third-party platform" shows the link and takes the code back in
    # its own task form; put the Toloker's id into the link's worker_id.
    "toloka": Platform("worker_id", (), None, "worker_id=TOLOKER_ID"),
    "generic": Platform("worker_id", (), None, "worker_id=WORKER_ID"),
}
# The platforms in the order the page offers them; the database's check constraint lists the
# same names (a test keeps the two equal).
PLATFORMS = tuple(PLATFORM)
MTURK_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"


@dataclass(frozen=True)
class Joined:
    """A worker's way in: a fresh login token for the page (the old one stops working)."""

    token: str
    annotator_id: int
    new: bool


def create_study(
    engine: Engine,
    name: str,
    platform: str,
    items_per_worker: int,
    gold_per_worker: int = 0,
    qualification: int = 0,
    pass_mark: float = 0.8,
    max_workers: int | None = None,
    chat: str | None = None,
    task: str = "ssa",
) -> Study:
    """Register a study; its link is ``study_link``. With ``chat`` (a chat campaign) its
    workers chat, ``items_per_worker`` chats each, instead of labelling; ``task`` pairs: its
    workers answer pair items (training pairs: ``evaltool gold import --pairs``)."""
    name = check_name("study", name)
    checks = [
        ("platform", platform in PLATFORMS, f"use {', '.join(PLATFORMS)}"),
        ("items_per_worker", items_per_worker >= 1, "must be 1 or more"),
        ("gold_per_worker", 0 <= gold_per_worker <= items_per_worker, "must be 0 to the quota"),
        ("qualification", qualification >= 0, "must be 0 or more"),
        ("pass_mark", 0 <= pass_mark <= 1, "must be between 0 and 1"),
        ("max_workers", max_workers is None or max_workers >= 1, "must be 1 or more"),
        ("gold_per_worker", not chat or gold_per_worker == 0, "a chat study has no gold"),
        ("qualification", not chat or qualification == 0, "a chat study has no training"),
        ("task", task in TASK_KINDS, f"use {', '.join(TASK_KINDS)}"),
        ("task", not chat or task == "ssa", "a chat study's workers chat"),
    ]
    for field, ok, message in checks:
        if not ok:
            raise UserError(message, field=field)
    with created_once(f"study {name!r}"), session_scope(engine) as s:
        if s.scalar(select(Study.id).where(Study.name == name)) is not None:
            raise UserError(f"study {name!r} exists; choose another name")
        study = Study(
            name=name,
            platform=platform,
            items_per_worker=items_per_worker,
            gold_per_worker=gold_per_worker,
            qualification=qualification,
            pass_mark=pass_mark,
            max_workers=max_workers,
            secret=secrets.token_hex(32),
            chat_campaign_id=get_campaign(s, chat).id if chat else None,
            task=task,
        )
        s.add(study)
        s.flush()
        return study


def study_link(study: Study, host: str, port: int) -> str:
    """The one public URL to paste into the platform."""
    query = PLATFORM[study.platform].template
    base = f"http://{host}:{port}/?study={quote(study.name)}"
    return f"{base}&{query}" if query else base


def close_study(engine: Engine, name: str) -> None:
    """Let no new worker in; workers already in may finish."""
    with session_scope(engine) as s:
        study = get_study(s, name)
        study.open, study.closed_at = False, utcnow()


def get_study(s: Session, name: str) -> Study:
    """The named study, or a user error."""
    study = s.scalars(select(Study).where(Study.name == name)).first()
    if study is None:
        raise UserError(f"no study {name!r}; create it first", field="study", step="create-study")
    return study


def platform_key(platform: str, worker: str) -> str:
    """What a crowd account is keyed by: a hash of (platform, worker id).

    >>> platform_key("prolific", "abc") == platform_key("prolific", "abc")
    True
    """
    return hashlib.sha256(f"{platform}\x1f{worker}".encode()).hexdigest()


def join_study(db: str | Engine | None, name: str, params: dict[str, str]) -> Joined:
    """Let a platform's worker in (or back in) from the study link's query parameters
    (``db``: an Engine, a URL, or None for the configured database)."""
    with created_once("the same worker's account"), session_scope(as_engine(db)) as s:
        study = get_study(s, name)
        spec = PLATFORM[study.platform]
        worker = (params.get(spec.worker) or "").strip()
        if not worker:
            raise UserError("open this study from the platform's page: the link has no worker id")
        if study.platform == "mturk" and params.get("assignmentId") == MTURK_PREVIEW:
            raise UserError("preview: accept the task on Mechanical Turk to start")
        key = platform_key(study.platform, worker)
        me = s.scalars(select(Annotator).where(Annotator.platform_key == key)).first()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        new = me is None
        if me is None:
            _admit(s, study)
            me = Annotator(
                name=f"{study.platform}:{key[:12]}",
                role="annotator",
                study_id=study.id,
                platform_key=key,
                platform_worker=check_name("worker id", worker),
                qualification="pending" if study.qualification else "none",
            )
            s.add(me)
        elif me.study_id != study.id:
            raise UserError("you have already taken part in another study here; thank you")
        me.token_hash = hash_token(token)
        me.platform_params = {k: params[k] for k in spec.extra if k in params}
        s.flush()
        return Joined(token, me.id, new)


def _admit(s: Session, study: Study) -> None:
    """Refuse a new worker when the study is closed or full (and close it when full)."""
    if not study.open:
        raise UserError("this study is closed: it needs no more workers; thank you")
    if study.max_workers is not None:
        joined = s.scalar(select(func.count(Annotator.id)).where(Annotator.study_id == study.id))
        if (joined or 0) >= study.max_workers:
            study.open, study.closed_at = False, utcnow()
            raise UserError("this study has all the workers it needs; thank you")


def completion_code(study: Study, annotator_id: int) -> str:
    """The worker's code: a keyed hash, so it cannot be guessed and needs no storage to check."""
    mac = hmac.new(bytes.fromhex(study.secret), str(annotator_id).encode(), hashlib.sha256)
    return base64.b32encode(mac.digest()).decode()[:CODE_LENGTH]


def finish_if_done(s: Session, me: Annotator, done: int) -> str | None:
    """The worker's completion code once their quota of answers (``done`` labels given) is
    stored, else None. The code is made here, after the last answer is in the database, and
    kept for revisits."""
    if me.study_id is None:
        return None
    if me.completion_code:
        return me.completion_code
    study = s.get(Study, me.study_id)
    assert study is not None
    if done < study.items_per_worker:
        return None
    me.completion_code, me.finished_at = completion_code(study, me.id), utcnow()
    return me.completion_code


def return_link(study: Study, me: Annotator) -> dict[str, Any] | None:
    """Where the finished worker goes back to: a link, or for MTurk a form to submit."""
    spec = PLATFORM[study.platform]
    if spec.finish is None or not me.completion_code:
        return None
    params = dict(me.platform_params or {})
    if study.platform == "mturk":
        target = spec.finish.format(
            turkSubmitTo=params.get("turkSubmitTo", "https://www.mturk.com")
        )
        fields = {"assignmentId": params.get("assignmentId", ""), "code": me.completion_code}
        return {"method": "post", "url": target, "fields": fields}
    url = spec.finish.format(code=quote(me.completion_code), **params)
    return {"method": "get", "url": url, "fields": {}}


def workers_frame(engine: Engine, name: str, raters: pd.DataFrame) -> pd.DataFrame:
    """Per worker what a requester needs to approve, reject or pay a bonus: platform id,
    start and finish, items, seconds per item, qualification and gold accuracy, agreement
    with the majority, flagged, completion code. ``raters`` is the per-annotator table
    (``reporting.agreement.annotator_table``) the page shows too."""
    with session_scope(engine, readonly=True) as s:
        study = get_study(s, name)
        people = s.scalars(select(Annotator).where(Annotator.study_id == study.id)).all()
        trained = dict(
            s.execute(
                select(
                    TrainingAnswer.annotator_id, func.avg(func.cast(TrainingAnswer.correct, Float))
                ).group_by(TrainingAnswer.annotator_id)
            ).all()
        )
    stats = raters.set_index("name")
    rows = []
    for a in people:
        got = stats.loc[a.name] if a.name in stats.index else None
        rows.append(
            {
                "platform_id": a.platform_worker,
                "started": a.created_at,
                "finished": a.finished_at,
                "items": int(got["labels"]) if got is not None else 0,
                "seconds_per_item": got["median_seconds"] if got is not None else None,
                "qualification": a.qualification,
                "qualification_accuracy": trained.get(a.id),
                "gold_accuracy": got["gold_accuracy"] if got is not None else None,
                "agreement": got["agreement"] if got is not None else None,
                "flagged": a.flagged,
                "completion_code": a.completion_code,
            }
        )
    return pd.DataFrame(rows, columns=WORKER_COLUMNS)


WORKER_COLUMNS = [
    "platform_id",
    "started",
    "finished",
    "items",
    "seconds_per_item",
    "qualification",
    "qualification_accuracy",
    "gold_accuracy",
    "agreement",
    "flagged",
    "completion_code",
]
