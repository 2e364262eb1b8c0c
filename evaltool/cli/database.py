"""``evaltool init`` and ``evaltool status``: the database and what it holds."""

from __future__ import annotations

import click

from evaltool.cli.common import db_option, print_table


@click.command()
@db_option
def init(db_url: str | None) -> None:
    """Create the database, or upgrade its schema to this version of evaltool."""
    from evaltool.storage import db

    engine = db.make_engine(db_url, must_exist=False)
    before, after = db.upgrade(engine)
    url = db.shown(engine)
    if before == after:
        click.echo(f"{url}: schema already at {after}")
    elif before is None:
        click.echo(f"{url}: created evaltool schema {after}")
    else:
        click.echo(f"{url}: upgraded schema {before} -> {after}")


@click.command()
@db_option
def status(db_url: str | None) -> None:
    """Show contexts, responses and labels, and the items still short of labels."""
    from evaltool.storage import db
    from evaltool.storage.status import collect_status

    counts = collect_status(db.connect(db_url))
    click.echo("Datasets")
    print_table(["dataset", "contexts"], counts.datasets)
    click.echo("\nSystems")
    print_table(["system", "kind", "decoding", "items (rank 0)", "responses"], counts.systems)
    click.echo(f"\nLabels per system (overlap k={counts.overlap})")
    print_table(["system", "labels", "items done", "items short"], counts.labels_by_system)
    if counts.gold_items:
        click.echo(f"{counts.gold_items} gold items check the raters; they do not count towards k")
    if counts.skips.get("items"):
        reasons = ", ".join(f"{r}: {n}" for r, n in sorted(counts.skips["by_reason"].items()))
        click.echo(f"{counts.skips['items']} items skipped as impossible to judge ({reasons})")
    click.echo("\nLabels per annotator")
    rows = [(n, c, "flagged" if f else "") for n, c, f in counts.labels_by_annotator]
    print_table(["annotator", "labels", ""], rows)
