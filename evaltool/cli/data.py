"""Files in and out: ``contexts import``, ``responses import``, ``labels import``, ``export``."""

from __future__ import annotations

import click

from evaltool.cli.common import dataset_option, db_option
from evaltool.errors import UserError
from evaltool.reporting.choices import LICENSES


@click.group()
def contexts() -> None:
    """Validation sets of dialog contexts."""


@contexts.command("import")
@click.argument("file", required=False, type=click.Path())
@click.option("--builtin", is_flag=True, help="Import the shipped Russian set (ru-mtb).")
@click.option("--dataset", default=None, help="Dataset name (default: the file name's stem).")
@click.option(
    "--config", default=None, help="A dataset folder's config to read (load_dataset's name)."
)
@click.option("--id-column", default="id", show_default=True, help="Parquet/dataset: the id.")
@click.option(
    "--turns-column", default="turns", show_default=True, help="Parquet/dataset: the turns."
)
@click.option(
    "--reference-column",
    default="reference",
    show_default=True,
    help="Parquet/dataset: the reference reply (optional).",
)
@click.option(
    "--messages-column",
    default=None,
    help="Parquet/dataset: turns from this chat-format column ([{role, content}], the "
    "system's left out) instead of --turns-column.",
)
@db_option
def contexts_import(
    file: str | None,
    builtin: bool,
    dataset: str | None,
    config: str | None,
    id_column: str,
    turns_column: str,
    reference_column: str,
    messages_column: str | None,
    db_url: str | None,
) -> None:
    """Import contexts from JSONL, CSV, Parquet or a Hugging Face dataset folder (a
    save_to_disk folder, or one load_dataset reads); re-importing the same file adds nothing.

    Example: evaltool contexts import dialogs.jsonl --dataset ru-val

    Example: evaltool contexts import chats/ --config default --messages-column messages
    """
    from evaltool.storage import db
    from evaltool.storage.contexts import BUILTIN_DATASET, Columns, builtin_path, import_contexts

    if builtin == (file is not None):
        raise UserError("give either FILE or --builtin")
    path = builtin_path() if builtin else file
    name = dataset or (BUILTIN_DATASET if builtin else None)
    columns = Columns(id_column, turns_column, reference_column, messages_column)
    result = import_contexts(db.connect(db_url), path, name, columns, config)  # type: ignore[arg-type]
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
    """Import responses (context_id, response; optional rank) from JSONL, CSV or Parquet; a
    file with a system column (export dataset's items) gives --system its own rows.

    Example: evaltool responses import theirs.parquet --system their-bot
    """
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
    """Import labels (context_id, system, annotator, sensible, specific) from JSONL, CSV or
    Parquet (export dataset's labels config reads back as it is).

    Example: evaltool labels import crowd.csv
    """
    from evaltool.storage import db
    from evaltool.storage.imports import import_labels

    result = import_labels(db.connect(db_url), file, dataset)
    click.echo(f"added {result.added} labels, {result.unchanged} already there")
    if result.note:
        click.echo(f"note: {result.note}")


@click.command()
@click.argument(
    "what",
    type=click.Choice(["labels", "responses", "items", "conversations", "pairs", "dataset"]),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "parquet"]),
    default="csv",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--out",
    default=None,
    metavar="FILE",
    help="Output file (default: stdout); a new folder for dataset.",
)
@click.option(
    "--license",
    "license_",
    type=click.Choice(LICENSES),
    default="cc-by-4.0",
    show_default=True,
    help="With dataset: the license the card states.",
)
@click.option(
    "--push-to-hub",
    default=None,
    metavar="REPO",
    help="With dataset: also upload it to the Hub as this dataset (token from HF_TOKEN).",
)
@click.option(
    "--salt",
    default=None,
    help="With dataset: the salt of the annotators' hashes (default: random, so hashes link "
    "nothing across exports).",
)
@dataset_option
@db_option
def export(
    what: str,
    fmt: str,
    out: str | None,
    license_: str,
    push_to_hub: str | None,
    salt: str | None,
    dataset: str | None,
    db_url: str | None,
) -> None:
    """Export labels, responses, aggregated items, pair answers (Chatbot Arena's fields:
    model_a, model_b, winner, judge, the side shown), a chat campaign's conversations
    (JSONL, one conversation a line, with --dataset CAMPAIGN), or the whole campaign as a
    Hugging Face dataset folder with its card (needs evaltool[hub]).

    Example: evaltool export conversations --dataset pilot --format jsonl --out chats.jsonl

    Example: evaltool export pairs --format parquet --out pairs.parquet

    Example: evaltool export dataset --out ru-mtb-ssa --license cc-by-4.0
    """
    from evaltool.reporting.aggregate import items_frame
    from evaltool.storage import db, exports

    engine = db.connect(db_url)
    if what == "dataset":
        return _dataset(engine, dataset, out, license_, push_to_hub, salt)
    if what == "conversations":
        return _conversations(engine, dataset, fmt, out)
    make = {
        "labels": exports.labels_export,
        "responses": exports.responses_export,
        "pairs": exports.pairs_export,
    }
    frame = make.get(what, items_frame)(engine, dataset)
    exports.write_frame(frame, fmt, out)


def _dataset(engine, dataset, out, license_, repo, salt) -> None:  # type: ignore[no-untyped-def]
    """A Hugging Face dataset folder (and the Hub, with --push-to-hub)."""
    from evaltool.reporting.sharing import export_dataset, hub_token, push

    if out is None:
        raise UserError("give the new folder to write with --out DIR", field="out")
    token = hub_token() if repo else ""
    got = export_dataset(engine, dataset, out, license_, salt)
    rows = ", ".join(f"{name} {n}" for name, n in got.rows.items())
    click.echo(f"{got.out}: a dataset of {got.report['dataset']} ({rows} rows) with its card")
    if repo:
        click.echo(f"pushed to {push(got.out, repo, token)}")


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
