"""The one interface every way of answering shares: a ``Responder`` answers conversations.

A responder is a local model, a model behind an OpenAI-compatible server, or a baseline rule.
It says what it is (``identity``: what the system is registered with and must match on a
resumed run), answers batches of conversations with candidates, and can stay loaded to answer
one live conversation at a time (``reply``). ``generation.loop`` is the one loop that turns a
dataset's pending contexts into stored responses through any responder. Torch-free.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from evaltool.generation.prompting import AUTO

# Groups of answered conversations, each group stored in one transaction.
Answered = list[tuple["Conversation", list["Candidate"]]]


@dataclass(frozen=True)
class Conversation:
    """What a responder answers: the turns so far (the last one is the user's), the key of its
    random stream, and the human reference reply where the dataset has one. ``id`` is the
    caller's (a context id), opaque to responders."""

    turns: list[str]
    key: int = 0
    reference: str | None = None
    id: int = 0


@dataclass(frozen=True)
class Candidate:
    """One reply with what is known of how it was made (timing, token counts, server facts)."""

    text: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Identity:
    """What a responder registers as. ``binding`` names the provenance keys that a resumed
    run must match (the rest, such as device or versions, may change between runs)."""

    kind: str
    model: str | None
    revision: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    binding: tuple[str, ...] = ()


@dataclass(frozen=True)
class PromptConfig:
    """The fields every model run shares: which model, and how turns become its prompt."""

    model: str
    context_turns: int = 3
    prompt_format: str = AUTO
    system_prompt: str | None = None


class Responder:
    """Base class: subclasses set ``name`` when made and ``identity`` by the end of ``prepare``,
    and implement ``respond``.

    The loop calls ``prepare`` (loading and every check; nothing is written before it
    returns), then ``batches`` and ``respond`` per batch, then ``facts`` for the run log, then
    ``close``. ``prepare`` may be called again (live use) and then does nothing new.
    """

    name: str  # the system name when none is given
    identity: Identity
    # respond may run in several threads at once: its replies do not depend on what runs
    # beside it (no global seed) and it keeps no per-call state.
    concurrent: bool = False

    def run_log(self) -> dict[str, Any]:
        """Facts of this run recorded with the system (device, versions, endpoint)."""
        return {}

    def prepare(self, pending: list[Conversation], everything: list[Conversation]) -> None:
        """Check that every pending conversation can be answered; ``everything`` is the whole
        dataset (a baseline may draw from it)."""
        del pending, everything

    def batches(self, pending: list[Conversation]) -> list[list[Conversation]]:
        """The order and grouping to answer in (default: one batch)."""
        return [pending] if pending else []

    def respond(self, batch: list[Conversation]) -> Iterator[Answered]:
        """Answer a batch; yields groups of (conversation, candidates) as they are done, so a
        served run can store each context when its last candidate arrives."""
        raise NotImplementedError

    def facts(self) -> dict[str, Any]:
        """What the run learnt while it ran, for the run log and the closing line."""
        return {}

    def describe(self) -> str:
        """A few words for the closing line: how the replies were made."""
        return self.identity.kind

    def close(self) -> None:
        """Let go of what ``prepare`` took (threads, connections)."""

    def reply(self, turns: list[str], key: int = 0) -> list[Candidate]:
        """Candidates for one live conversation (rank 0 first), for interactive use."""
        conversation = Conversation(turns=list(turns), key=key)
        self.prepare([conversation], [conversation])
        return [c for group in self.respond([conversation]) for _, cands in group for c in cands]
