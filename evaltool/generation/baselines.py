"""Baseline systems: fixed rules that calibrate raters and the metric.

A good evaluation puts ``reference`` high on both questions, ``shuffled`` low on
sensibleness, and ``generic`` (Meena's GenericBot) near zero on specificity; a rater who
calls «Не знаю.» specific is misreading the guidelines.
"""

from __future__ import annotations

import random

from sqlalchemy import Engine

from evaltool.errors import UserError
from evaltool.storage.schema import Context, Response
from evaltool.storage.systems import SystemSpec, pending_contexts, register_system, store_batch

GENERIC_REPLIES = ("Не знаю.", "Понятно.", "Интересно.", "Хорошо.", "Может быть.", "Ясно.")


RULES = ("reference", "generic", "shuffled", "echo")


def replies(
    name: str, contexts: list[Context], all_contexts: list[Context], rng: random.Random
) -> list[str | None]:
    """The baseline's reply to each context (None: it has none, e.g. no reference reply)."""
    if name == "reference":
        return [c.reference for c in contexts]
    if name == "generic":
        return [rng.choice(GENERIC_REPLIES) for _ in contexts]
    if name == "echo":
        return [c.turns[-1] for c in contexts]
    return _shuffled(contexts, all_contexts, rng)


def _shuffled(
    contexts: list[Context], all_contexts: list[Context], rng: random.Random
) -> list[str | None]:
    pool = [c for c in all_contexts if c.reference]
    if len(pool) < 2:
        raise UserError("baseline:shuffled needs at least 2 contexts with reference replies")
    out: list[str | None] = []
    for c in contexts:
        other = rng.choice(pool)
        while other.id == c.id or other.reference == c.reference:
            other = rng.choice(pool)
        out.append(other.reference)
    return out


def run_baseline(
    engine: Engine, name: str, dataset: str | None, limit: int | None, seed: int = 0
) -> tuple[int, int, int]:
    """Store the baseline's reply (rank 0) for every pending context.

    Returns (added, already done, skipped for lack of a reference reply).
    """
    if name not in RULES:
        raise UserError(f"unknown baseline {name!r}; choose from {', '.join(RULES)}")
    _, todo, done = pending_contexts(engine, dataset, name, limit)
    _, everything, _ = pending_contexts(engine, dataset, "", None)
    spec = SystemSpec(name, "baseline", f"baseline:{name}", None, {"rule": name, "seed": seed})
    system_id = register_system(engine, spec)
    rng = random.Random(f"{seed}:{name}")
    texts = replies(name, todo, everything, rng)
    rows = [
        Response(
            context_id=c.id,
            system_id=system_id,
            rank=0,
            text=text.strip(),
            meta={"baseline": name, "seed": seed},
        )
        for c, text in zip(todo, texts, strict=True)
        if text is not None and text.strip()
    ]
    store_batch(engine, rows)
    return len(rows), done, len(todo) - len(rows)
