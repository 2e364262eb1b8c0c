"""The ``evaltool`` command line: parse arguments, call the library, print the outcome.

User mistakes raise ``UserError`` anywhere below; they are printed here on one line and the
process exits with status 2.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from evaltool import __version__
from evaltool.cli_common import dataset_option, db_option, print_table
from evaltool.errors import UserError


class _Group(click.Group):
    """A click group that turns ``UserError`` into ``error: ...`` on stderr and exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)


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
    print_table(["system", "kind", "decoding", "items (rank 0)", "responses"], st.systems)
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


@cli.command()
@dataset_option
@click.option(
    "--out", default=None, metavar="FOLDER", help="Output folder (default: reports/DATASET)."
)
@click.option(
    "--resamples",
    type=int,
    default=10_000,
    show_default=True,
    help="Bootstrap resamples (at least 1000).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option(
    "--confidence",
    type=float,
    default=0.95,
    show_default=True,
    help="Confidence level of the intervals.",
)
@click.option(
    "--method",
    type=click.Choice(["bca", "percentile"]),
    default="bca",
    show_default=True,
    help="Bootstrap interval method.",
)
@click.option(
    "--min-labels",
    type=int,
    default=None,
    help="Leave out items with fewer labels (default: the project overlap k).",
)
@db_option
def report(
    dataset: str | None,
    out: str | None,
    resamples: int,
    seed: int,
    confidence: float,
    method: str,
    min_labels: int | None,
    db_url: str | None,
) -> None:
    """Write the SSA table with bootstrap CIs, comparisons and agreement (md, json, png, csv)."""
    from pathlib import Path

    from evaltool import db
    from evaltool.render import write_report
    from evaltool.report import ReportSettings, build_report

    settings = ReportSettings(resamples, seed, confidence, method, min_labels)
    data, items = build_report(db.connect(db_url), dataset, settings)
    folder = Path(out) if out else Path("reports") / data["dataset"]
    for path in write_report(data, items, folder):
        click.echo(str(path))
    for s in data["systems"]:
        ssa = s["ssa"]
        value = "no items with enough labels" if ssa is None else f"SSA {ssa['estimate']:.3f}"
        click.echo(f"  {s['name']}: {value} ({s['items']} items, {s['labels']} labels)")


@cli.group()
def responses() -> None:
    """Responses made outside evaltool."""


@responses.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--system", required=True, help="Name of the system these responses belong to.")
@dataset_option
@db_option
def responses_import(file: str, system: str, dataset: str | None, db_url: str | None) -> None:
    """Import responses (context_id, response; optional rank) from JSONL or CSV."""
    from evaltool import db
    from evaltool.imports import import_responses

    result = import_responses(db.connect(db_url), file, system, dataset)
    click.echo(f"{system}: added {result.added} responses, {result.unchanged} already there")


@cli.group()
def labels() -> None:
    """Labels collected outside evaltool."""


@labels.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@dataset_option
@db_option
def labels_import(file: str, dataset: str | None, db_url: str | None) -> None:
    """Import labels (context_id, system, annotator, sensible, specific) from JSONL or CSV."""
    from evaltool import db
    from evaltool.imports import import_labels

    result = import_labels(db.connect(db_url), file, dataset)
    click.echo(f"added {result.added} labels, {result.unchanged} already there")
    if result.note:
        click.echo(f"note: {result.note}")


@cli.command()
@click.argument("what", type=click.Choice(["labels", "responses", "items"]))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "parquet"]),
    default="csv",
    show_default=True,
    help="Output format.",
)
@click.option("--out", default=None, metavar="FILE", help="Output file (default: stdout).")
@dataset_option
@db_option
def export(what: str, fmt: str, out: str | None, dataset: str | None, db_url: str | None) -> None:
    """Export labels, responses or aggregated items."""
    from evaltool import db
    from evaltool import export as ex

    engine = db.connect(db_url)
    frame = {"labels": ex.labels_frame, "responses": ex.responses_frame, "items": ex.items_frame}[
        what
    ](engine, dataset)
    ex.write_frame(frame, fmt, out)


def _register() -> None:
    from evaltool import cli_annotate, cli_generate

    for command in (
        cli_generate.generate,
        cli_annotate.demo,
        cli_annotate.annotate,
        cli_annotate.annotators,
        cli_annotate.assign,
        cli_annotate.gold,
    ):
        cli.add_command(command)


_register()


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(prog_name="evaltool", standalone_mode=True))
