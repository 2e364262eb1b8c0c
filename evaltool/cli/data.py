"""Files in and out: ``contexts import``, ``responses import``, ``labels import``, ``export``."""

from __future__ import annotations

import click

from evaltool.cli.common import dataset_option, db_option
from evaltool.errors import UserError


@click.group()
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
    from evaltool.storage import db
    from evaltool.storage.contexts import BUILTIN_DATASET, builtin_path, import_contexts

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


@click.group()
def responses() -> None:
    """Responses made outside evaltool."""


@responses.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--system", required=True, help="Name of the system these responses belong to.")
@dataset_option
@db_option
def responses_import(file: str, system: str, dataset: str | None, db_url: str | None) -> None:
    """Import responses (context_id, response; optional rank) from JSONL or CSV."""
    from evaltool.storage import db
    from evaltool.storage.imports import import_responses

    result = import_responses(db.connect(db_url), file, system, dataset)
    click.echo(f"{system}: added {result.added} responses, {result.unchanged} already there")


@click.group()
def labels() -> None:
    """Labels collected outside evaltool."""


@labels.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@dataset_option
@db_option
def labels_import(file: str, dataset: str | None, db_url: str | None) -> None:
    """Import labels (context_id, system, annotator, sensible, specific) from JSONL or CSV."""
    from evaltool.storage import db
    from evaltool.storage.imports import import_labels

    result = import_labels(db.connect(db_url), file, dataset)
    click.echo(f"added {result.added} labels, {result.unchanged} already there")
    if result.note:
        click.echo(f"note: {result.note}")


@click.command()
@click.argument(
    "what", type=click.Choice(["labels", "responses", "items", "conversations", "pairs"])
)
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
    """Export labels, responses, aggregated items, pair answers (Chatbot Arena's fields:
    model_a, model_b, winner, judge, the side shown), or a chat campaign's conversations
    (JSONL, one conversation a line, with --dataset CAMPAIGN).

    Example: evaltool export conversations --dataset pilot --format jsonl --out chats.jsonl

    Example: evaltool export pairs --format parquet --out pairs.parquet
    """
    from evaltool.reporting.aggregate import items_frame
    from evaltool.storage import db, exports

    engine = db.connect(db_url)
    if what == "conversations":
        return _conversations(engine, dataset, fmt, out)
    make = {
        "labels": exports.labels_export,
        "responses": exports.responses_export,
        "pairs": exports.pairs_export,
    }
    frame = make.get(what, items_frame)(engine, dataset)
    exports.write_frame(frame, fmt, out)


def _conversations(engine, campaign: str | None, fmt: str, out: str | None) -> None:  # type: ignore[no-untyped-def]
    """A chat campaign's conversations as JSONL, one a line."""
    import json

    from evaltool.reporting.interactive import conversations
    from evaltool.storage import exports

    if campaign is None:
        raise UserError("name the chat campaign with --dataset CAMPAIGN", field="dataset")
    if fmt != "jsonl":
        raise UserError("conversations are nested: use --format jsonl", field="format")
    lines = [json.dumps(c, ensure_ascii=False) + "\n" for c in conversations(engine, campaign)]
    exports.write_text("".join(lines), out)
