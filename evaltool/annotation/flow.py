"""What a labeller sees next, in one call per action: the one public labelling path.

The page, the demo's simulated raters, the load benches and the concurrency tests all label
through here. ``view`` says what to show now; ``answer``, ``undo`` and ``skip`` act and, in the
same transaction, say what to show next, so one round trip from the browser stores an answer and
brings the next item, already leased. A study's worker first meets the qualification items
(with feedback after each), then items up to the quota, then their completion code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evaltool.annotation import assignment as asg
from evaltool.annotation import pool, studies, tasks
from evaltool.annotation.accounts import authenticate
from evaltool.annotation.gold import is_correct
from evaltool.errors import UserError
from evaltool.storage.db import as_engine, retried, session_scope
from evaltool.storage.project import load_settings
from evaltool.storage.schema import (
    Annotator,
    GoldItem,
    PairItem,
    PairTrainingAnswer,
    Study,
    TrainingAnswer,
    chosen,
    shown,
    utcnow,
)

SKIP_REASONS = asg.SKIP_REASONS


@dataclass(frozen=True)
class View:
    """One screen: an item to label (or to train on), feedback, the end, or a stop."""

    kind: str  # task | training | feedback | finished | stopped | empty
    task: tasks.Task | tasks.PairTask | None = None
    done: int = 0
    quota: int | None = None
    training: tuple[int, int] | None = None  # (answered, of) in the qualification step
    feedback: dict[str, Any] | None = None
    code: str | None = None
    finish: dict[str, Any] | None = None
    message: str | None = None
    can_undo: bool = False
    stored: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def view(db: str | Engine | None, token: str | None, rng: random.Random | None = None) -> View:
    """What to show now (leasing the next item when there is none)."""

    def run() -> View:
        with session_scope(as_engine(db)) as s:
            return _next(s, authenticate(s, token), rng or asg._rng)

    return retried(run)


def answer(
    db: str | Engine | None,
    token: str | None,
    response_id: int,
    sensible: bool,
    specific: bool,
    seconds: float | None = None,
    rng: random.Random | None = None,
    source: str = "web",
) -> View:
    """Store the answer (a label, or a training answer with feedback) and say what is next.

    The same answer again (a double click, a second tab) stores nothing more: ``stored`` is
    False. ``source`` marks where it came from (``web``, or ``simulated`` for the demo)."""

    def store(s: Session, me: Annotator) -> View | bool:
        gold = pool.gold_item(s, response_id)
        if gold is not None and gold.training:
            return _train(s, me, gold, sensible, specific)
        row = tasks.ssa_answer(response_id, sensible, specific)
        return asg.store_answer(s, me, row, seconds, source)

    return _answer(db, token, "ssa", store, rng)


def choose(
    db: str | Engine | None,
    token: str | None,
    pair_id: int,
    side: str,
    reason: str | None = None,
    seconds: float | None = None,
    rng: random.Random | None = None,
    source: str = "web",
) -> View:
    """Store a pair answer (``left``, ``right`` or ``tie``, as shown, and an optional short
    reason) and say what is next; the same answer again stores nothing more."""

    def store(s: Session, me: Annotator) -> View | bool:
        row = tasks.pair_answer(pair_id, side, reason)
        item = s.get(PairItem, pair_id)
        if item is not None and item.training:
            return _train_pair(s, me, item, row.side)
        return asg.store_answer(s, me, row, seconds, source, tasks.TASKS["pairs"].items)

    return _answer(db, token, "pairs", store, rng)


def _answer(db: str | Engine | None, token: str | None, kind: str, store: Any, rng: Any) -> View:
    """Run ``store`` for a rater of this kind of task, then lease what is next."""

    def run() -> View:
        with session_scope(as_engine(db)) as s:
            me = authenticate(s, token)
            if tasks.kind_for(s, me, load_settings(s)).name != kind:
                raise UserError("this answer is for another kind of task; reload the page")
            stored = store(s, me)
            if isinstance(stored, View):
                return stored
            nxt = _next(s, me, rng or asg._rng)
            return View(**{**nxt.__dict__, "stored": stored})

    try:
        return retried(run)
    except IntegrityError:  # a second tab stored the same answer first
        return view(db, token, rng)


def undo(db: str | Engine | None, token: str | None) -> View:
    """Take back the last answer while its lease lives and show that item again."""

    def run() -> View:
        with session_scope(as_engine(db)) as s:
            me = authenticate(s, token)
            if me.completion_code:
                raise UserError(
                    "your answers are complete and your code is issued: nothing to undo"
                )
            kind = tasks.kind_for(s, me, load_settings(s)).items
            if asg.undo_last(s, me, kind) is None:
                raise UserError("nothing to undo: the last answer's time has run out")
            return _next(s, me, asg._rng)

    return retried(run)


def skip(db: str | Engine | None, token: str | None, item_id: int, reason: str) -> View:
    """Record that the item cannot be judged (and why) and show the next one."""

    def run() -> View:
        with session_scope(as_engine(db)) as s:
            me = authenticate(s, token)
            asg.skip_item(s, me, item_id, reason, tasks.kind_for(s, me, load_settings(s)).items)
            return _next(s, me, asg._rng)

    return retried(run)


def _next(s: Session, me: Annotator, rng: random.Random) -> View:
    settings = load_settings(s)
    kind = tasks.kind_for(s, me, settings)
    items = kind.items
    study = s.get(Study, me.study_id) if me.study_id is not None else None
    done = pool.labels_given(s, me.id, items)
    quota = study.items_per_worker if study else None
    base = {"done": done, "quota": quota, "can_undo": asg.undoable(s, me, items) is not None}
    code = studies.finish_if_done(s, me, done)
    if code is not None:
        assert study is not None
        return View(
            "finished", code=code, finish=studies.return_link(study, me), done=done, quota=quota
        )
    if asg.paused(me, settings):
        return View("stopped", message="paused", **base)
    if me.qualification == "failed":
        return View("stopped", message="failed qualification", **base)
    now = utcnow()
    extra = {"question": settings.pair_question} if kind.name == "pairs" else {}
    lease = asg.current_lease(s, me, now, items)
    if study is not None and me.qualification == "pending":
        trained = _trained(s, me)
        if lease is None:
            found = pool.open_gold(s, me, training=True, kind=items)
            lease = pool.take(s, me, found, settings, now, capped=False, kind=items)
        if lease is not None:
            step = (trained + 1, study.qualification)
            return View("training", task=kind.show(s, lease), training=step, extra=extra, **base)
        _judge(s, me, study)  # fewer training items than asked for: judge what there is
        if me.qualification == "failed":
            return View("stopped", message="failed qualification", **base)
    lease = lease or asg.claim(rng, s, me, settings, now, items)
    if lease is None:
        return View("empty", **base)
    return View("task", task=kind.show(s, lease), extra=extra, **base)


def _training_answers(s: Session, me: Annotator) -> list[bool]:
    """Whether each qualification answer given (on SSA items and pairs) was right."""
    return [
        right
        for t in (TrainingAnswer, PairTrainingAnswer)
        for right in s.scalars(select(t.correct).where(t.annotator_id == me.id))
    ]


def _trained(s: Session, me: Annotator) -> int:
    return len(_training_answers(s, me))


def _train(s: Session, me: Annotator, gold: GoldItem, sensible: bool, specific: bool) -> View:
    """Keep a qualification answer apart from the labels and show whether it was right."""
    lease = pool.lease_of(s, me.id, gold.response_id)
    if lease is None:
        raise UserError("this item was not given to you; reload the page")
    specific = bool(sensible and specific)
    right = bool(is_correct(sensible, specific, gold.expected_sensible, gold.expected_specific))
    s.add(
        TrainingAnswer(
            annotator_id=me.id,
            response_id=gold.response_id,
            sensible=sensible,
            specific=specific,
            correct=right,
        )
    )
    shown = {"sensible": gold.expected_sensible, "specific": gold.expected_specific}
    return _feedback(s, me, lease, right, {**shown, "explanation": gold.explanation})


def _train_pair(s: Session, me: Annotator, item: PairItem, side: str) -> View:
    """The same for a qualification pair: the answer kept apart, the better side shown."""
    lease = pool.lease_of(s, me.id, item.id, tasks.TASKS["pairs"].items)
    if lease is None:
        raise UserError("this item was not given to you; reload the page")
    right = chosen(side, item.a_left) == item.expected
    s.add(PairTrainingAnswer(annotator_id=me.id, pair_id=item.id, side=side, correct=right))
    expected = shown(item.expected or "tie", item.a_left)
    return _feedback(s, me, lease, right, {"side": expected, "explanation": item.explanation})


def _feedback(s: Session, me: Annotator, lease: Any, right: bool, shown: dict[str, Any]) -> View:
    """Close the training lease, pass or fail the worker once the step is done, and say
    whether the answer was right with the expected one (``shown``)."""
    lease.state = "done"
    s.flush()
    study = s.get(Study, me.study_id)
    assert study is not None
    trained = _trained(s, me)
    if trained >= study.qualification:
        _judge(s, me, study)
    passed = None if me.qualification == "pending" else me.qualification == "passed"
    feedback = {"correct": right, **shown, "passed": passed}
    return View("feedback", feedback=feedback, training=(trained, study.qualification))


def _judge(s: Session, me: Annotator, study: Study) -> None:
    """Pass or fail the worker on their qualification answers."""
    answers = _training_answers(s, me)
    share = sum(answers) / len(answers) if answers else 1.0
    me.qualification = "passed" if share >= study.pass_mark else "failed"
    s.flush()


def mark_instructions_seen(db: str | Engine | None, token: str | None) -> None:
    """Remember that the annotator read the instructions (shown first until then)."""
    with session_scope(as_engine(db)) as s:
        authenticate(s, token).seen_instructions = True


def whoami(db: str | Engine | None, token: str | None) -> Annotator:
    """The annotator behind a token (detached), for the page's header and role checks."""
    with session_scope(as_engine(db), readonly=True) as s:
        return authenticate(s, token)
