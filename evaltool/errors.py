"""The one exception type for mistakes a user can fix (bad file, missing schema, bad setting)."""

from __future__ import annotations

from collections.abc import Callable


class UserError(Exception):
    """A problem in the user's input or set-up; the CLI prints it on one line and exits 2.

    ``field`` names the setting at fault, and ``{name}`` in the message names the settings in
    ``settings``; the CLI shows them as flags (``--overlap``), other callers as the settings'
    names, so that library messages name no command-line flag. ``step`` names what to do first
    (``init``); the CLI shows the command that does it.

    >>> str(UserError("data.jsonl:3: missing 'id'"))
    "data.jsonl:3: missing 'id'"
    >>> str(UserError("must be 1 or more", field="overlap"))
    'overlap: must be 1 or more'
    >>> UserError("use {api} vllm", settings=("api",)).render(lambda n: "--" + n)
    'use --api vllm'
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        step: str | None = None,
        settings: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.step = step
        self.settings = settings

    def render(self, name: Callable[[str], str]) -> str:
        """The message with each setting (and the field at fault) written as ``name`` says."""
        text = (
            self.message.format_map({n: name(n) for n in self.settings})
            if self.settings
            else self.message
        )
        return f"{name(self.field)}: {text}" if self.field else text

    def __str__(self) -> str:
        return self.render(lambda n: n)
