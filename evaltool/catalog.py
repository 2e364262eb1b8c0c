"""Names every layer shares: the reference pair of models whose cards report SSA, and the
baseline rules with what each is for and what a careful rater answers to it."""

from __future__ import annotations

from dataclasses import dataclass

REFERENCE_MODELS = ("tinkoff-ai/ruDialoGPT-small", "tinkoff-ai/ruDialoGPT-medium")
# The comparison reports lead with when both are present: medium minus small.
REFERENCE_PAIR = ("ruDialoGPT-medium", "ruDialoGPT-small")


@dataclass(frozen=True)
class Baseline:
    """A baseline rule: what it is for (as the report explains it) and the (sensible,
    specific) answers a careful rater gives its replies."""

    purpose: str
    expected: tuple[bool, bool]


BASELINES = {
    "reference": Baseline(
        "the human reference replies of the validation set: the ceiling to aim for", (True, True)
    ),
    "generic": Baseline(
        "a safe generic reply («Не знаю.», «Понятно.» ...): sensible often, specific never",
        (True, False),
    ),
    "shuffled": Baseline(
        "a reference reply from another context: expected not sensible", (False, False)
    ),
    "echo": Baseline("repeats the last turn: checks that raters punish parroting", (False, False)),
}
