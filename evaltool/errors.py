"""The one exception type for mistakes a user can fix (bad file, missing schema, bad setting)."""

from __future__ import annotations


class UserError(Exception):
    """A problem in the user's input or set-up; the CLI prints it on one line and exits 2.

    ``field`` names the setting at fault; the CLI shows it as its flag (``--overlap``), other
    callers as the setting's name.

    >>> str(UserError("data.jsonl:3: missing 'id'"))
    "data.jsonl:3: missing 'id'"
    >>> str(UserError("must be 1 or more", field="overlap"))
    'overlap: must be 1 or more'
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message
