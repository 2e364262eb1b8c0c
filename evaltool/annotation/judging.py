"""Running a judge over a dataset's items, resumably: the judge is registered with its
provenance, the items it has not labelled are judged (several at once for a served judge) and
stored a few at a time, so a run that is stopped keeps what it stored and the next run goes
on from there. Judge labels never count as people's (``storage.schema.judge``).

The judge itself comes from ``generation.judges``; anything with ``prepare``, ``spec(name)``,
``concurrency`` and ``verdict(turns, reply)`` (SSA items) or ``compare(turns, a, b, chats)``
(pair items, both sides as system a's and b's) will do. A judge with a ``batch_size`` above
1 and ``verdicts(jobs)`` (the classifier) is given that many items a call instead.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from evaltool.annotation.tasks import pair_sides
from evaltool.storage.contexts import resolve_dataset
from evaltool.storage.db import session_scope
from evaltool.storage.judging import (
    items,
    judge_for,
    judged,
    note_provenance,
    pair_items,
    pairs_judged,
    store_judge_labels,
    store_judge_pair_labels,
)
from evaltool.storage.schema import Context, PairItem, Response

STORE_EVERY = 16  # verdicts stored per transaction
BATCHES_PER_STORE = 8  # a batched judge's batches per call and transaction


@dataclass(frozen=True)
class Judged:
    """What a run did."""

    judge: str
    dataset: str
    judged: int
    before: int
    total: int


@dataclass(frozen=True)
class Work:
    """What a run judges: the items still to do with what the judge is shown of each, how
    to ask, what to store of a verdict, and where."""

    todo: Callable[[Any, int, int], tuple[list[tuple[int, tuple[Any, ...]]], int, int]]
    ask: str
    ask_many: str | None  # the method that takes a batch, where a judge may have one
    row: Callable[[int, Any], dict[str, Any]]
    store: Callable[[Any, int, list[dict[str, Any]]], int]


def _ssa_todo(s: Any, dataset_id: int, judge_id: int) -> tuple[list, int, int]:  # type: ignore[type-arg]
    everything = items(s, dataset_id)
    done = judged(s, judge_id)
    todo = everything[~everything["response_id"].isin(done)]["response_id"].tolist()
    return (
        [(rid, (turns, text)) for rid, turns, text in _texts(s, todo)],
        len(done),
        len(everything),
    )


def _pair_todo(s: Any, dataset_id: int, judge_id: int) -> tuple[list, int, int]:  # type: ignore[type-arg]
    everything = pair_items(s, dataset_id)
    done = pairs_judged(s, judge_id)
    jobs = [(pid, pair_sides(s, s.get(PairItem, pid))) for pid in everything if pid not in done]
    return jobs, len(done), len(everything)


WORK = {
    "ssa": Work(
        _ssa_todo,
        "verdict",
        "verdicts",
        lambda rid, v: {
            "response_id": rid, "p_sensible": v.p_sensible, "p_specific": v.p_specific,
            "raw": v.raw,
        },
        store_judge_labels,
    ),
    "pairs": Work(
        _pair_todo,
        "compare",
        None,
        lambda pid, v: {
            "pair_id": pid, "first": v.first, "second": v.second, "winner": v.winner,
            "raw": v.raw,
        },
        store_judge_pair_labels,
    ),
}  # fmt: skip


def run(
    engine: Engine,
    dataset: str | None,
    judge: Any,
    name: str,
    progress: Callable[[int, int], None] | None = None,
    task: str = "ssa",
) -> Judged:
    """Judge every item of the dataset (SSA items, or with ``task`` pairs its pair items)
    this judge has not judged yet; ``progress(total, 0)`` once the first verdicts are stored,
    then ``progress(total, n)`` for each n stored (the convention of ``generation.loop``), so
    a run refused at its first answer draws no bar."""
    work = WORK[task]
    judge.prepare()
    with session_scope(engine) as s:
        ds = resolve_dataset(s, dataset)
        row = judge_for(s, judge.spec(name))
        jobs, before, total = work.todo(s, ds.id, row.id)
    judge_id, stored = row.id, 0
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal stored
        with session_scope(engine) as s:
            now = work.store(s, judge_id, pending)
        if progress:
            if not stored:  # the bar appears with the first stored verdicts, not before
                progress(len(jobs), 0)
            progress(len(jobs), now)
        stored += now
        pending.clear()

    try:
        batch = getattr(judge, "batch_size", 1)
        many = getattr(judge, work.ask_many, None) if work.ask_many else None
        if many is not None and batch > 1:
            _in_batches(many, jobs, batch, work, pending, flush)
        else:
            _each(getattr(judge, work.ask), jobs, judge.concurrency, work, pending, flush)
    finally:
        if pending:
            flush()
        if hasattr(judge, "facts"):
            with session_scope(engine) as s:
                note_provenance(s, judge_id, judge.facts())
    return Judged(name, ds.name, stored, before, total)


def _each(ask: Any, jobs: list, concurrency: int, work: Work, pending: list, flush: Any) -> None:  # type: ignore[type-arg]
    """Ask item by item, ``concurrency`` at once (a served judge), storing as they come."""
    with ThreadPoolExecutor(concurrency) as pool:
        queue = iter(jobs)
        running: dict[Any, int] = {}
        try:
            while True:
                while len(running) < concurrency and (job := next(queue, None)):
                    running[pool.submit(ask, *job[1])] = job[0]
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    key = running.pop(future)
                    pending.append(work.row(key, future.result()))
                if len(pending) >= STORE_EVERY:
                    flush()
        finally:
            for future in running:
                future.cancel()


def _in_batches(many: Any, jobs: list, batch: int, work: Work, pending: list, flush: Any) -> None:  # type: ignore[type-arg]
    """Ask a chunk of several batches a call (sorted by length inside it), storing each."""
    chunk = batch * BATCHES_PER_STORE
    for start in range(0, len(jobs), chunk):
        part = jobs[start : start + chunk]
        for (key, _), verdict in zip(part, many([args for _, args in part]), strict=True):
            pending.append(work.row(key, verdict))
        flush()


def _texts(s: Any, response_ids: list[int]) -> list[tuple[int, list[str], str]]:
    """(response id, context turns, reply) for each response, in id order."""
    out = []
    for start in range(0, len(response_ids), 900):
        part = response_ids[start : start + 900]
        query = (
            select(Response.id, Context.turns, Response.text)
            .join(Context, Context.id == Response.context_id)
            .where(Response.id.in_(part))
            .order_by(Response.id)
        )
        out += [(rid, list(turns), text) for rid, turns, text in s.execute(query)]
    return out
