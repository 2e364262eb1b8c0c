"""A griffe extension for the API page: docstring examples (``>>>`` lines and the output
under them) are shown as Python code, not read as Markdown."""

from __future__ import annotations

from typing import Any

import griffe


def fence(text: str) -> str:
    """Wrap each run of doctest lines (a ``>>>`` line, its ``...`` lines and output up to a
    blank line) in a fenced code block.

    >>> fence("Sum.\\n\\n>>> 1 + 1\\n2")
    'Sum.\\n\\n```python\\n>>> 1 + 1\\n2\\n```'
    """
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.lstrip().startswith(">>>") and not inside:
            out.append("```python")
            inside = True
        elif inside and not line.strip():
            out.append("```")
            inside = False
        out.append(line)
    if inside:
        out.append("```")
    return "\n".join(out)


class Doctests(griffe.Extension):
    """Fence the examples of every documented object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:  # noqa: ARG002
        if obj.docstring is not None:
            obj.docstring.value = fence(obj.docstring.value)
