"""The one exception type for mistakes a user can fix (bad file, missing schema, bad flag)."""


class UserError(Exception):
    """A problem in the user's input or set-up; the CLI prints it on one line and exits 2.

    >>> str(UserError("data.jsonl:3: missing 'id'"))
    "data.jsonl:3: missing 'id'"
    """
