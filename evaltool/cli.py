"""The ``evaltool`` command line: parse arguments, call the library, print the outcome.

User mistakes raise ``UserError`` anywhere below; they are printed here on one line and the
process exits with status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from evaltool import __version__
from evaltool.errors import UserError


class _Group(click.Group):
    """A click group that turns ``UserError`` into ``error: ...`` on stderr and exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)


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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="evaltool")
def cli() -> None:
    """Human evaluation of dialog models with SSA (sensibleness and specificity average).

    Typical flow: init, contexts import, generate, annotators add, annotate, report.
    """


@cli.command()
@db_option
def init(db_url: str | None) -> None:
    """Create the database, or upgrade its schema to this version of evaltool."""
    from evaltool import db

    engine = db.make_engine(db_url, must_exist=False)
    before, after = db.upgrade(engine)
    url = engine.url.render_as_string(hide_password=True)
    if before == after:
        click.echo(f"{url}: schema already at {after}")
    elif before is None:
        click.echo(f"{url}: created evaltool schema {after}")
    else:
        click.echo(f"{url}: upgraded schema {before} -> {after}")


@cli.command()
@db_option
def status(db_url: str | None) -> None:
    """Show contexts, responses and labels, and the items still short of labels."""
    from evaltool import db
    from evaltool.status import collect_status

    st = collect_status(db.connect(db_url))
    click.echo("Datasets")
    print_table(["dataset", "contexts"], st.datasets)
    click.echo("\nSystems")
    print_table(["system", "kind", "items (rank 0)", "responses"], st.systems)
    click.echo(f"\nLabels per system (overlap k={st.overlap})")
    print_table(["system", "labels", "items done", "items short"], st.labels_by_system)
    click.echo("\nLabels per annotator")
    rows = [(n, c, "flagged" if f else "") for n, c, f in st.labels_by_annotator]
    print_table(["annotator", "labels", ""], rows)


@cli.group()
def contexts() -> None:
    """Validation sets of dialog contexts."""


@contexts.command("import")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--builtin", is_flag=True, help="Import the shipped Russian set (ru-mtb).")
@click.option("--dataset", default=None, help="Dataset name (default: the file name's stem).")
@db_option
def contexts_import(
    file: str | None, builtin: bool, dataset: str | None, db_url: str | None
) -> None:
    """Import contexts from JSONL or CSV; re-importing the same file adds nothing."""
    from evaltool import db
    from evaltool.contexts import BUILTIN_DATASET, builtin_path, import_contexts

    if builtin == (file is not None):
        raise UserError("give either FILE or --builtin")
    path = builtin_path() if builtin else file
    name = dataset or (BUILTIN_DATASET if builtin else None)
    result = import_contexts(db.connect(db_url), path, name)  # type: ignore[arg-type]
    if result.added == 0:
        click.echo(f"{result.dataset}: nothing new ({result.unchanged} contexts already there)")
    else:
        click.echo(
            f"{result.dataset}: added {result.added} contexts"
            + (f", {result.unchanged} already there" if result.unchanged else "")
        )


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(prog_name="evaltool", standalone_mode=True))
