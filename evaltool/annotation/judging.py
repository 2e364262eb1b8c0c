"""Running a judge over a dataset's items, resumably: the judge is registered with its
provenance, the items it has not labelled are judged (several at once for a served judge) and
stored a few at a time, so a run that is stopped keeps what it stored and the next run goes
on from there. Judge labels never count as people's (``storage.schema.judge``).

The judge itself comes from ``generation.judges``; anything with ``prepare``, ``spec(name)``,
``verdict(turns, reply)`` and ``concurrency`` will do.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from evaltool.storage.contexts import resolve_dataset
from evaltool.storage.db import session_scope
from evaltool.storage.judging import (
    items,
    judge_for,
    judged,
    note_provenance,
    store_judge_labels,
)
from evaltool.storage.schema import Context, Response

STORE_EVERY = 16  # verdicts stored per transaction


@dataclass(frozen=True)
class Judged:
    """What a run did."""

    judge: str
    dataset: str
    judged: int
    before: int
    total: int


def run(
    engine: Engine,
    dataset: str | None,
    judge: Any,
    name: str,
    progress: Callable[[int, int], None] | None = None,
) -> Judged:
    """Judge every item of the dataset this judge has not labelled yet; ``progress(total, 0)``
    once the first verdicts are stored, then ``progress(total, n)`` for each n stored (the
    convention of ``generation.loop``), so a run refused at its first answer draws no bar."""
    judge.prepare()
    with session_scope(engine) as s:
        ds = resolve_dataset(s, dataset)
        row = judge_for(s, judge.spec(name))
        everything = items(s, ds.id)
        done = judged(s, row.id)
        todo = everything[~everything["response_id"].isin(done)]["response_id"].tolist()
        work = _texts(s, todo)
    judge_id, stored = row.id, 0
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal stored
        with session_scope(engine) as s:
            now = store_judge_labels(s, judge_id, pending)
        if progress:
            if not stored:  # the bar appears with the first stored verdicts, not before
                progress(len(todo), 0)
            progress(len(todo), now)
        stored += now
        pending.clear()

    with ThreadPoolExecutor(judge.concurrency) as pool:
        queue = iter(work)
        running: dict[Any, int] = {}
        try:
            while True:
                while len(running) < judge.concurrency and (job := next(queue, None)):
                    running[pool.submit(judge.verdict, job[1], job[2])] = job[0]
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    rid = running.pop(future)
                    v = future.result()
                    pending.append(
                        {
                            "response_id": rid,
                            "p_sensible": v.p_sensible,
                            "p_specific": v.p_specific,
                            "raw": v.raw,
                        }
                    )
                if len(pending) >= STORE_EVERY:
                    flush()
        finally:
            for future in running:
                future.cancel()
            if pending:
                flush()
            if hasattr(judge, "facts"):
                with session_scope(engine) as s:
                    note_provenance(s, judge_id, judge.facts())
    return Judged(name, ds.name, stored, len(done), len(everything))


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
