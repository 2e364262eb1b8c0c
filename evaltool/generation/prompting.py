"""Prompt formats: how dialog turns become model input and model output becomes a reply.

The ruDialoGPT format alternates ``@@ПЕРВЫЙ@@`` and ``@@ВТОРОЙ@@``, assigned backwards from the
last turn (always ``@@ПЕРВЫЙ@@``), and ends with ``@@ВТОРОЙ@@``: the model answers as the second
speaker. Other formats can be added to ``FORMATS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

FIRST = "@@ПЕРВЫЙ@@"
SECOND = "@@ВТОРОЙ@@"


class PromptFormat(Protocol):
    """Turns a context into a prompt and a generated continuation into a reply."""

    name: str
    special_tokens: tuple[str, ...]

    def build(self, turns: list[str], context_turns: int) -> str:
        """The prompt text for the last ``context_turns`` turns."""
        ...

    def extract(self, continuation: str) -> str:
        """The reply: the continuation cut at the first speaker marker, stripped."""
        ...

    def continuation(self, reply: str) -> str:
        """What the model should write after the prompt to give ``reply`` and end its turn."""
        ...


@dataclass(frozen=True)
class RuDialoGPTFormat:
    """The format tinkoff-ai/ruDialoGPT-small and -medium were trained on.

    >>> RuDialoGPTFormat().build(["привет", "привет", "как дела?"], 3)
    '@@ПЕРВЫЙ@@ привет @@ВТОРОЙ@@ привет @@ПЕРВЫЙ@@ как дела? @@ВТОРОЙ@@'
    >>> RuDialoGPTFormat().build(["a", "b", "c", "d"], 3)
    '@@ПЕРВЫЙ@@ b @@ВТОРОЙ@@ c @@ПЕРВЫЙ@@ d @@ВТОРОЙ@@'
    >>> RuDialoGPTFormat().extract(" Хорошо, а у тебя? @@ПЕРВЫЙ@@ отлично")
    'Хорошо, а у тебя?'
    >>> RuDialoGPTFormat().continuation(" Хорошо. ")
    ' Хорошо. @@ПЕРВЫЙ@@'
    """

    name: str = "rudialogpt"
    special_tokens: tuple[str, ...] = (FIRST, SECOND)

    def build(self, turns: list[str], context_turns: int) -> str:
        kept = turns[-context_turns:] if context_turns > 0 else list(turns)
        n = len(kept)
        parts = []
        for i, turn in enumerate(kept):
            # Counting back from the last turn: distance 0, 2, 4 ... is the first speaker.
            speaker = FIRST if (n - 1 - i) % 2 == 0 else SECOND
            parts.append(f"{speaker} {turn.strip()}")
        return " ".join(parts) + f" {SECOND}"

    def continuation(self, reply: str) -> str:
        return f" {reply.strip()} {FIRST}"

    def extract(self, continuation: str) -> str:
        cut = len(continuation)
        for marker in self.special_tokens:
            pos = continuation.find(marker)
            if pos != -1:
                cut = min(cut, pos)
        return continuation[:cut].strip()


FORMATS: dict[str, PromptFormat] = {"rudialogpt": RuDialoGPTFormat()}
