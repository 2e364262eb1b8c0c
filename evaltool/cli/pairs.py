"""``evaltool pairs``: pair items for side-by-side evaluation (ACUTE-Eval, Chatbot Arena)."""

from __future__ import annotations

import click

from evaltool.cli.common import dataset_option, db_option


@click.group()
def pairs() -> None:
    """Pair items: two systems' replies to one context (or two chats), side by side."""


@pairs.command("make")
@click.argument("systems", nargs=-1, required=True)
@click.option(
    "--comparisons",
    type=int,
    default=None,
    help="A random design: this many contexts per pair of systems [every shared context].",
)
@click.option(
    "--chats",
    "campaign",
    default=None,
    metavar="CAMPAIGN",
    help="Pair a chat campaign's finished chats across its bots instead (SYSTEMS: all).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of sides and draws.")
@dataset_option
@db_option
def pairs_make(
    systems: tuple[str, ...],
    comparisons: int | None,
    campaign: str | None,
    seed: int,
    dataset: str | None,
    db_url: str | None,
) -> None:
    """Make pair items from two or more systems' responses: every pair of systems on every
    context both answered, or --comparisons random contexts per pair. The side each reply is
    shown on is drawn from --seed and stored; running it again adds only what is new.

    Example: evaltool pairs make small medium

    Example: evaltool pairs make small medium large --comparisons 200 --seed 7

    Example: evaltool pairs make all --chats spring
    """
    from evaltool.annotation.pairing import build_chat_pairs, build_pairs
    from evaltool.storage import db

    engine = db.connect(db_url)
    if campaign is not None:
        built = build_chat_pairs(engine, campaign, comparisons, seed)
    else:
        built = build_pairs(engine, dataset, list(systems), comparisons, seed)
    click.echo(
        f"{built.added} pair items made ({built.design} design, seed {built.seed}), "
        f"{built.kept} already there"
    )
