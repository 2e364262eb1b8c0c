"""The one generation loop: a dataset's pending contexts, through any responder, into storage.

Every check runs before the system is registered, so a refused run leaves nothing behind. Each
group of answers a responder yields is committed in one transaction: an interrupted run loses
at most what was in flight, and a re-run skips the (context, system) pairs already answered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from evaltool.generation.responder import Answered, Conversation, Responder
from evaltool.generation.settings import context_key
from evaltool.storage.systems import (
    SystemSpec,
    close_run,
    dataset_contexts,
    register_system,
    store_responses,
)


@dataclass(frozen=True)
class RunOptions:
    """What to answer and under which name: the fields every run shares, whatever answers."""

    dataset: str | None = None
    system: str | None = None
    limit: int | None = None
    seed: int = 0


@dataclass
class Summary:
    """What a run did, for the closing line."""

    system: str
    contexts: int = 0
    responses: int = 0
    empty: int = 0
    skipped: int = 0
    unanswered: int = 0
    new_tokens: int = 0
    seconds: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        """New tokens generated per second of wall time."""
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0

    def add(self, answered: Answered) -> None:
        """Count one stored group of answers."""
        for _, candidates in answered:
            self.contexts += bool(candidates)
            self.unanswered += not candidates
            for c in candidates:
                self.responses += 1
                self.empty += c.text == ""
                self.new_tokens += c.meta.get("new_tokens") or 0


def run(
    engine: Engine,
    responder: Responder,
    options: RunOptions,
    *,
    progress: Callable[[int, int], Any] | None = None,
) -> Summary:
    """Answer every pending context of the dataset with ``responder`` and store the replies.

    ``progress(total, 0)`` is called once, then ``progress(total, n)`` as contexts are stored.
    """
    name = options.system or responder.name
    dataset, contexts, done = dataset_contexts(engine, options.dataset, name)
    everything = [
        Conversation(
            c.turns, context_key(options.seed, dataset.name, c.external_id), c.reference, c.id
        )
        for c in contexts
    ]
    wanted = everything[: options.limit] if options.limit is not None else everything
    pending = [c for c in wanted if c.id not in done]
    responder.prepare(pending, everything)
    me = responder.identity
    settings = {**me.settings, "seed": options.seed}  # the streams' seed binds a resumed run
    spec = SystemSpec(name, me.kind, me.model, me.revision, settings, me.provenance, me.binding)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    log = {**responder.run_log(), "started": started, "contexts": len(pending)}
    system_id = register_system(engine, spec, log)
    summary = Summary(system=name, skipped=len(wanted) - len(pending))
    if progress:
        progress(len(pending), 0)
    start = time.perf_counter()
    try:
        for batch in responder.batches(pending):
            for answered in responder.respond(batch):
                rows = [
                    (conv.id, rank, cand.text, cand.meta)
                    for conv, candidates in answered
                    for rank, cand in enumerate(candidates)
                ]
                store_responses(engine, system_id, rows)
                summary.add(answered)
                if progress:
                    progress(len(pending), len(answered))
    finally:  # an interrupted run's log says what it did, too
        summary.seconds = time.perf_counter() - start
        summary.facts = responder.facts()
        close_run(engine, system_id, {**summary.facts, "answered": summary.contexts})
        responder.close()
    return summary
