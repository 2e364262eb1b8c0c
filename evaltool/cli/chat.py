"""``evaltool chat``: interactive campaigns, where people chat with the bots and others label
every bot turn (Meena's interactive mode)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import click

from evaltool.cli.common import db_option
from evaltool.cli.generate import decoding_options, decoding_settings, model_options, served_options
from evaltool.errors import UserError


@click.group()
def chat() -> None:
    """Chat campaigns: people chat with bots, then others label each bot turn."""


def split_bot(bot: str) -> tuple[str | None, str, str | None]:
    """``[NAME=]MODEL[@URL]``: the system name (default: the model's short name), the model,
    and the OpenAI-compatible server that serves it, if any.

    >>> split_bot("served=tiny@http://127.0.0.1:8000/v1"), split_bot("./models/small")
    (('served', 'tiny', 'http://127.0.0.1:8000/v1'), (None, './models/small', None))
    """
    name, eq, rest = bot.partition("=")
    if not eq or not name or "/" in name or "@" in name:
        name, rest = None, bot
    model, at, url = rest.rpartition("@")
    if at and url.startswith(("http://", "https://")) and model:
        return name, model, url
    return name, rest, None


@chat.command("create")
@click.argument("name")
@click.option(
    "--bot",
    "bots",
    multiple=True,
    required=True,
    metavar="[NAME=]MODEL[@URL]",
    help="A local folder, hub id or baseline:NAME, or MODEL@URL for a model an "
    "OpenAI-compatible server serves; NAME= names its system. Repeat for each bot.",
)
@click.option("--conversations", type=int, default=100, show_default=True, help="Chats per bot.")
@click.option("--min-turns", type=int, default=14, show_default=True, help="Turns before finish.")
@click.option("--max-turns", type=int, default=28, show_default=True, help="Turns at most.")
@click.option(
    "--opening", default="Привет!", show_default=True, help="The human's first turn, sent for them."
)
@click.option("--max-chars", type=int, default=1000, show_default=True, help="Longest human turn.")
@model_options
@served_options
@decoding_options
@db_option
def chat_create(
    name: str,
    bots: tuple[str, ...],
    conversations: int,
    min_turns: int,
    max_turns: int,
    opening: str,
    max_chars: int,
    do_sample: bool | None,
    db_url: str | None,
    **options: Any,
) -> None:
    """Create a chat campaign: load and register each bot as a system, as `generate` does
    (the decoding flags apply to every bot).

    Example: evaltool chat create pilot --bot ./ruDialoGPT-small --bot big=m@http://127.0.0.1:8000/v1
    """
    from evaltool.annotation import campaigns
    from evaltool.generation.chatbots import bot_spec, register_bots
    from evaltool.storage import db

    rules = campaigns.Rules(conversations, min_turns, max_turns, opening, max_chars).check()
    options.pop("endpoint", None)
    options["settings"] = decoding_settings(options, do_sample)
    parsed = [split_bot(bot) for bot in bots]
    specs = [bot_spec(model, url, options) for _, model, url in parsed]
    engine = db.connect(db_url)
    ids = register_bots(engine, specs, [name for name, _, _ in parsed], options["seed"])
    if len(set(ids)) != len(ids):
        raise UserError("two --bot flags make the same system; name them: --bot NAME=MODEL")
    with db.session_scope(engine) as s:
        campaigns.create_campaign(s, name, ids, specs, rules)
        names = campaigns.bot_names(s, name)
    click.echo(f"{name}: {len(ids)} bots ({', '.join(names)}), {conversations} chats each")
    click.echo(f"answer its turns: evaltool chat bots {name}")
    click.echo(f"crowd link: evaltool study create STUDY --chat {name} --platform ...")
    click.echo(f"personal link: a link from `evaltool annotators add` with &chat={name}")


@chat.command("bots")
@click.argument("name")
@click.option("--device", default=None, help="Load the local bots here (default: as created).")
@click.option(
    "--idle-exit",
    type=float,
    default=0,
    show_default=True,
    help="Stop after this many seconds with no turn to answer (0: run until Ctrl-C).",
)
@click.option(
    "--lease",
    type=float,
    default=120,
    show_default=True,
    help="Seconds a turn stays this process's; a turn not answered by then (the process "
    "died) goes to another.",
)
@click.option(
    "--slots",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Batches of one bot answered at once, so a new turn need not wait for a batch in "
    "progress (a bot seeded globally, such as --decoder hf, takes one).",
)
@db_option
def chat_bots(
    name: str,
    device: str | None,
    idle_exit: float,
    lease: float,
    slots: int,
    db_url: str | None,
) -> None:
    """Load the campaign's bots and answer its pending turns; run several (on several GPUs
    or machines) over PostgreSQL and each turn is still answered once.

    Example: evaltool chat bots pilot --device cuda:0
    """
    from evaltool.generation import chatbots
    from evaltool.storage import db

    engine = db.connect(db_url)
    bots = chatbots.load_campaign_bots(engine, name, device=device)
    click.echo(f"{name}: {len(bots)} bots loaded; answering (Ctrl-C stops)")
    last = [time.monotonic(), 0]

    def stop(done: chatbots.Served) -> bool:
        if done.answered + done.lost != last[1]:
            last[:] = [time.monotonic(), done.answered + done.lost]
        return bool(idle_exit) and time.monotonic() - last[0] > idle_exit

    try:
        done = chatbots.serve(
            engine, name, bots, stop=stop, lease=timedelta(seconds=lease), slots=slots
        )
    except KeyboardInterrupt:
        click.echo(f"{name}: stopped")
        return
    click.echo(f"{name}: {done.answered} turns answered, {done.lost} taken by another process")


@chat.command("list")
@db_option
def chat_list(db_url: str | None) -> None:
    """Each campaign's bots with chats finished, open and abandoned."""
    from evaltool.annotation import campaigns
    from evaltool.storage import db

    for campaign, bot, finished, open_, abandoned, quota in campaigns.overview(db.connect(db_url)):
        click.echo(
            f"{campaign}  {bot}: {finished}/{quota} finished, {open_} open, {abandoned} abandoned"
        )
