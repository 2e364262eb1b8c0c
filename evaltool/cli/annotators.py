"""``evaltool annotators`` and ``evaltool gold``: who labels, and the checks on them."""

from __future__ import annotations

import click

from evaltool.cli.common import dataset_option, db_option, link_options, print_table
from evaltool.errors import UserError


@click.group()
def annotators() -> None:
    """Annotator accounts and their personal links."""


@annotators.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May open the admin page.")
@link_options
@db_option
def annotators_add(name: str, admin: bool, host: str, port: int, db_url: str | None) -> None:
    """Add an annotator and print their personal link (shown once)."""
    from evaltool.annotation.accounts import add_annotator, link
    from evaltool.storage import db

    token = add_annotator(db.connect(db_url), name, admin=admin)
    click.echo(link(token, host, port))


@annotators.command("list")
@db_option
def annotators_list(db_url: str | None) -> None:
    """List annotators, their role, state and labels (links are not stored)."""
    from evaltool.annotation.accounts import list_annotators
    from evaltool.storage import db

    rows = [
        (
            a.name,
            a.role,
            "active" if a.active else "disabled",
            "flagged" if a.flagged else "",
            a.labels,
            "yes" if a.has_link else "no",
        )
        for a in list_annotators(db.connect(db_url))
    ]
    print_table(["name", "role", "state", "gold", "labels", "link"], rows)


@annotators.command("disable")
@click.argument("name")
@db_option
def annotators_disable(name: str, db_url: str | None) -> None:
    """Disable an annotator's link; their labels stay."""
    from evaltool.annotation.accounts import disable
    from evaltool.storage import db

    disable(db.connect(db_url), name)
    click.echo(f"{name}: disabled")


@annotators.command("flag")
@click.argument("name")
@db_option
def annotators_flag(name: str, db_url: str | None) -> None:
    """Flag an annotator by hand: their labels stop counting and their items are refilled.

    Example: evaltool annotators flag anna
    """
    from evaltool.annotation.accounts import flag
    from evaltool.storage import db

    flag(db.connect(db_url), name)
    click.echo(f"{name}: flagged; their labels no longer count")


@annotators.command("unflag")
@click.argument("name")
@db_option
def annotators_unflag(name: str, db_url: str | None) -> None:
    """Clear an annotator's gold-check flag; their labels count again."""
    from evaltool.annotation.accounts import unflag
    from evaltool.storage import db

    unflag(db.connect(db_url), name)
    click.echo(f"{name}: no longer flagged")


@annotators.command("rotate")
@click.argument("name")
@link_options
@db_option
def annotators_rotate(name: str, host: str, port: int, db_url: str | None) -> None:
    """Give an annotator a new link; the old one stops working."""
    from evaltool.annotation.accounts import link, rotate
    from evaltool.storage import db

    click.echo(link(rotate(db.connect(db_url), name), host, port))


@click.group()
def gold() -> None:
    """Gold items with known answers, to check annotators."""


@gold.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--pairs",
    is_flag=True,
    help="Gold pairs instead: context_id, better, worse (system names) per row.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of a new pair's side.")
@dataset_option
@db_option
def gold_import(file: str, pairs: bool, seed: int, dataset: str | None, db_url: str | None) -> None:
    """Mark responses as gold (response_id, or context_id + system; sensible, specific), or
    with --pairs pair items (context_id, better, worse); optional columns training (a
    teaching item for a study's qualification step) and explanation.

    Example: evaltool gold import gold.csv

    Example: evaltool gold import gold-pairs.csv --pairs
    """
    from evaltool.storage import db

    if pairs:
        from evaltool.annotation.pairing import import_gold_pairs

        added, updated = import_gold_pairs(db.connect(db_url), file, dataset, seed)
        click.echo(f"gold pairs: {added} added, {updated} updated")
        return
    from evaltool.annotation.gold import import_gold

    if dataset is not None:
        raise UserError("gold responses are named by id or context and system", field="dataset")
    added, updated = import_gold(db.connect(db_url), file)
    click.echo(f"gold items: {added} added, {updated} updated")
