"""``evaltool study``: crowd studies with one public link per platform."""

from __future__ import annotations

import click

from evaltool.cli.common import db_option, link_options
from evaltool.storage.schema import PLATFORMS, TASK_KINDS


@click.group()
def study() -> None:
    """Crowd studies on Toloka, Prolific, MTurk or any platform: one link for a whole crowd."""


@study.command("create")
@click.argument("name")
@click.option(
    "--platform",
    type=click.Choice(PLATFORMS),
    required=True,
    help="Where the workers come from (decides the link's worker parameters).",
)
@click.option("--items-per-worker", type=int, required=True, help="Items each worker labels.")
@click.option("--gold-per-worker", type=int, default=0, show_default=True, help="Of them gold.")
@click.option(
    "--qualification",
    type=int,
    default=0,
    show_default=True,
    help="Training items with feedback before real ones (gold import --training).",
)
@click.option("--pass-mark", type=float, default=0.8, show_default=True, help="Share right.")
@click.option("--max-workers", type=int, default=None, help="Close the study after this many.")
@click.option(
    "--chat",
    default=None,
    metavar="CAMPAIGN",
    help="Workers chat with a chat campaign's bots (--items-per-worker chats each) instead.",
)
@click.option(
    "--task",
    type=click.Choice(TASK_KINDS),
    default="ssa",
    show_default=True,
    help="What workers do: SSA labels, or pairwise answers on pair items (evaltool pairs make).",
)
@link_options
@db_option
def study_create(
    name: str,
    platform: str,
    items_per_worker: int,
    gold_per_worker: int,
    qualification: int,
    pass_mark: float,
    max_workers: int | None,
    chat: str | None,
    task: str,
    host: str,
    port: int,
    db_url: str | None,
) -> None:
    """Create a study and print the one URL to paste into the platform."""
    from evaltool.annotation.studies import create_study, study_link
    from evaltool.storage import db

    created = create_study(
        db.connect(db_url),
        name,
        platform,
        items_per_worker,
        gold_per_worker,
        qualification,
        pass_mark,
        max_workers,
        chat,
        task,
    )
    click.echo(study_link(created, host, port))


@study.command("close")
@click.argument("name")
@db_option
def study_close(name: str, db_url: str | None) -> None:
    """Let no new worker in; workers already in may finish."""
    from evaltool.annotation.studies import close_study
    from evaltool.storage import db

    close_study(db.connect(db_url), name)
    click.echo(f"{name}: closed")


@study.command("workers")
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default="csv",
    show_default=True,
    help="Output format.",
)
@click.option("--out", default=None, metavar="FILE", help="Output file (default: stdout).")
@db_option
def study_workers(name: str, fmt: str, out: str | None, db_url: str | None) -> None:
    """Per worker: platform id, times, items, pace, accuracy, agreement, flag, code."""
    from evaltool.annotation import monitor
    from evaltool.annotation.studies import workers_frame
    from evaltool.reporting.agreement import annotator_table
    from evaltool.storage import db, exports

    engine = db.connect(db_url)
    raters = annotator_table(**vars(monitor.rater_counts(engine)))
    exports.write_frame(workers_frame(engine, name, raters), fmt, out)
