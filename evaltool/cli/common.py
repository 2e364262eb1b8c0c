"""Options and printing shared by the command modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

HOST = "127.0.0.1"
PORT = 8501


def db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--db URL`` option every command that touches the database takes."""
    return click.option(
        "--db",
        "db_url",
        metavar="URL",
        default=None,
        help="Database URL (default: $EVALTOOL_DB, else sqlite:///evaltool.db).",
    )(func)


def dataset_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--dataset NAME`` option; optional where the database holds one dataset."""
    return click.option(
        "--dataset", default=None, help="Dataset name (may be left out when there is only one)."
    )(func)


def print_table(headers: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Print rows as an aligned plain-text table."""
    cells = [headers, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def link_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--host and --port of the annotation page, used to build personal links."""
    func = click.option(
        "--port", type=int, default=PORT, show_default=True, help="Port of the annotation page."
    )(func)
    return click.option(
        "--host", default=HOST, show_default=True, help="Host name people reach the page at."
    )(func)


def progress_bar(name: str, unit: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A tqdm bar made on the first call ``(total, 0)`` and moved by later calls; and a closer."""
    from tqdm import tqdm

    bar: list[Any] = []

    def progress(total: int, done: int) -> None:
        if not bar:
            bar.append(tqdm(total=total, unit=unit, desc=name))
        else:
            bar[0].update(done)

    def close() -> None:
        if bar:
            bar[0].close()

    return progress, close
