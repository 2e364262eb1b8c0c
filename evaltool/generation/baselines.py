"""Baseline systems: fixed rules that calibrate raters and the metric, as responders.

A good evaluation puts ``reference`` high on both questions, ``shuffled`` low on
sensibleness, and ``generic`` (Meena's GenericBot) near zero on specificity; a rater who
calls «Не знаю.» specific is misreading the guidelines.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from evaltool.catalog import BASELINES
from evaltool.errors import UserError
from evaltool.generation.responder import Answered, Candidate, Conversation, Identity, Responder

GENERIC_REPLIES = ("Не знаю.", "Понятно.", "Интересно.", "Хорошо.", "Может быть.", "Ясно.")

RULES = tuple(BASELINES)
PREFIX = "baseline:"


def rule_of(model: str) -> str:
    """The rule a ``baseline:NAME`` model names.

    >>> rule_of("baseline:echo")
    'echo'
    """
    name = model.removeprefix(PREFIX)
    if name not in RULES:
        raise UserError(f"unknown baseline {name!r}; choose from {', '.join(RULES)}")
    return name


class BaselineResponder(Responder):
    """Answers by a fixed rule: one reply (rank 0), none where the rule has none (a context
    without a reference reply). Each context draws from its own stream, so a reply does not
    depend on which contexts are answered with it."""

    def __init__(self, model: str) -> None:
        self.rule = rule_of(model)
        self.name = self.rule
        self.pool: list[Conversation] = []
        self.identity = Identity("baseline", f"{PREFIX}{self.rule}", None, {"rule": self.rule})

    def prepare(self, pending: list[Conversation], everything: list[Conversation]) -> None:
        """``shuffled`` draws from the whole dataset's reference replies."""
        del pending
        if self.rule == "shuffled":
            self.pool = [c for c in everything if c.reference]
            if len({c.reference for c in self.pool}) < 2:
                raise UserError("baseline:shuffled needs at least 2 different reference replies")

    def respond(self, batch: list[Conversation]) -> Iterator[Answered]:
        """Every reply of the batch at once."""
        answered: Answered = []
        for conv in batch:
            text = self._reply(conv, random.Random(f"{self.rule}:{conv.key}")) or ""
            meta = {"baseline": self.rule}
            answered.append((conv, [Candidate(text.strip(), meta)] if text.strip() else []))
        yield answered

    def _reply(self, conv: Conversation, rng: random.Random) -> str | None:
        if self.rule == "reference":
            return conv.reference
        if self.rule == "generic":
            return rng.choice(GENERIC_REPLIES)
        if self.rule == "echo":
            return conv.turns[-1]
        for _ in range(32):  # a random other reply; most draws find one at once
            other = rng.choice(self.pool)
            if other.reference != conv.reference:
                return other.reference
        return rng.choice([c.reference for c in self.pool if c.reference != conv.reference])

    def describe(self) -> str:
        """The rule."""
        return f" [baseline rule {self.rule}]"
