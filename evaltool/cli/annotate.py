"""``evaltool annotate`` serves the labelling page; ``collection`` sets how labels are collected
(``assign``, its old name, still works)."""

from __future__ import annotations

import copy
import os
import sys
from importlib import resources
from typing import Any

import click

from evaltool.cli.common import dataset_option, db_option, link_options
from evaltool.errors import UserError
from evaltool.storage.schema.base import TASK_KINDS


@click.command()
@link_options
@click.option(
    "--bot-timeout",
    type=float,
    default=60,
    show_default=True,
    help="Seconds a chat waits for a bot's reply before the page says no bot is answering "
    "(the turn is kept and answered when a bot process comes).",
)
@db_option
def annotate(host: str, port: int, bot_timeout: float, db_url: str | None) -> None:
    """Serve the annotation page (Streamlit, headless) and print its address.

    Example: evaltool annotate --port 8501
    """
    from evaltool.storage import db

    url = db.resolve_url(db_url)
    db.connect(url)  # fail here, in one line, when the database is missing or old
    app = resources.files("annotate_app") / "app.py"
    click.echo(
        f"annotation page: http://{host}:{port}/  (database {db.shown(url)}); Ctrl-C stops it"
    )
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "minimal",
        # A full collection after every rerun holds the GIL for 50-100 ms, about half of each
        # item's round trip; Python's own generational collector still runs.
        "--runner.postScriptGC",
        "false",
    ]
    env = {**os.environ, "EVALTOOL_DB": url, "EVALTOOL_BOT_TIMEOUT": str(bot_timeout)}
    sys.stdout.flush()
    # Become the Streamlit server: SIGTERM and SIGINT then reach it directly, and no server is
    # left behind when this process is stopped.
    os.execve(sys.executable, cmd, env)


@click.command()
@click.option("--overlap", type=int, default=None, help="Labels per response, k [3].")
@click.option(
    "--lease-minutes", type=float, default=None, help="Minutes an item stays leased [15]."
)
@click.option("--gold-rate", type=float, default=None, help="Share of gold items mixed in [0.1].")
@click.option(
    "--gold-threshold", type=float, default=None, help="Gold accuracy below this flags [0.7]."
)
@click.option("--gold-min-items", type=int, default=None, help="Gold items before flagging [5].")
@click.option(
    "--adaptive/--fixed",
    default=None,
    help="Stop an item's labels once more cannot change its majority (with k=3: two agreeing) "
    "[fixed].",
)
@click.option(
    "--stop-flagged/--keep-flagged",
    default=None,
    help="Stop flagged annotators from labelling [keep].",
)
@click.option(
    "--human-share",
    type=float,
    default=None,
    help="For a judged campaign: people label only this random share of the dataset's "
    "contexts (every system's item on each), drawn with --seed and recorded.",
)
@click.option(
    "--human-contexts",
    type=int,
    default=None,
    help="As --human-share, a number of contexts (the same for every system).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the human share.")
@click.option(
    "--active",
    is_flag=True,
    help="Draw the human share actively: each context's chance from the judge's uncertainty "
    "on its items (expected share --human-share), keeping a uniform share drawn before as "
    "the pilot.",
)
@click.option(
    "--judge",
    "judge_name",
    default=None,
    metavar="NAME",
    help="With --active: the judge whose labels set the chances [the only judge].",
)
@click.option(
    "--floor",
    type=float,
    default=None,
    help="With --active: the uniform part of each chance, in (0, 1] (1: uniform) [chosen on "
    "the pilot's labels; 0.5 without a pilot].",
)
@click.option(
    "--task",
    type=click.Choice(TASK_KINDS),
    default=None,
    help="What raters outside a study do: SSA labels, or pairwise answers (evaltool pairs "
    "make) [ssa].",
)
@click.option(
    "--pair-question",
    default=None,
    metavar="TEXT",
    help="The pairwise page's question, in place of its default (Russian or English by the "
    "page's language).",
)
@dataset_option
@db_option
def collection(
    overlap: int | None,
    lease_minutes: float | None,
    gold_rate: float | None,
    gold_threshold: float | None,
    gold_min_items: int | None,
    adaptive: bool | None,
    stop_flagged: bool | None,
    human_share: float | None,
    human_contexts: int | None,
    seed: int,
    active: bool,
    judge_name: str | None,
    floor: float | None,
    task: str | None,
    pair_question: str | None,
    dataset: str | None,
    db_url: str | None,
) -> None:
    """Set how labels are collected (overlap k, leases, gold checks, the human share of a
    judged campaign) and show the pool.

    Example: evaltool collection --overlap 3 --gold-rate 0.1 --adaptive

    Example: evaltool collection --human-share 0.1 --seed 7

    Example: evaltool collection --human-share 0.1 --active --judge bert --seed 7

    Example: evaltool collection --task pairs --overlap 3
    """
    from evaltool.annotation.pool import recount_all
    from evaltool.storage import db
    from evaltool.storage.project import save_settings
    from evaltool.storage.status import collect_status

    engine = db.connect(db_url)
    sharing = None
    if human_share is not None or human_contexts is not None:
        from evaltool.annotation import human_share as sharing

        sharing.check(human_share, human_contexts)
    design = _active_design(engine, dataset, human_share, active, judge_name, floor)
    with db.session_scope(engine) as s:
        new = save_settings(
            s,
            overlap=overlap,
            lease_minutes=lease_minutes,
            gold_rate=gold_rate,
            gold_threshold=gold_threshold,
            gold_min_items=gold_min_items,
            stop_flagged=stop_flagged,
            adaptive=adaptive,
            task=task,
            pair_question=pair_question,
        )
        recount_all(s, new)
    click.echo(
        f"overlap k={new.overlap}, lease {new.lease_minutes:g} min, gold rate "
        f"{new.gold_rate:g}, flag below {new.gold_threshold:g} after {new.gold_min_items} "
        f"gold items, flagged annotators {'stopped' if new.stop_flagged else 'kept'}, "
        f"{'adaptive' if new.adaptive else 'fixed'} overlap, task {new.task}"
    )
    if design is not None:
        assert sharing is not None and human_share is not None
        about = {"judge_id": design.judge_id, "floor": design.floor, "pilot": len(design.pilot)}
        got = sharing.draw_active(
            engine, dataset, design.chances, design.pilot, human_share, seed, about
        )
        click.echo(
            f"{got.dataset}: people label {got.contexts} of {got.of} contexts, drawn actively "
            f"(expected {human_share * got.of:.0f}, seed {got.seed}; floor {design.floor:g}, "
            f"{FLOOR_FROM[design.floor_from].format(n=design.pilot_labelled)}; "
            f"{len(design.pilot)} pilot contexts kept); the rest are the judge's"
        )
    elif sharing is not None:
        got = sharing.draw(engine, dataset, human_share, human_contexts, seed)
        click.echo(
            f"{got.dataset}: people label {got.contexts} of {got.of} contexts (seed {got.seed}); "
            "the rest are the judge's"
            + (
                f"; {got.labels_outside} labels already given outside the share are kept but "
                "left out of the judge-assisted estimates"
                if got.labels_outside
                else ""
            )
        )
    counts = collect_status(engine)
    total = sum(done + short for _, _, done, short in counts.labels_by_system)
    short = sum(s for *_, s in counts.labels_by_system)
    click.echo(f"{total} items (rank 0) in the pool, {short} still need labels")


FLOOR_FROM = {
    "given": "as given",
    "pilot": "chosen on {n} labelled pilot contexts",
    "default": "the default: no labelled pilot to choose it on",
}


def _active_design(
    engine: Any,
    dataset: str | None,
    share: float | None,
    active: bool,
    judge_name: str | None,
    floor: float | None,
) -> Any:
    """The active draw's design (``reporting.design``), or None for a uniform one; checked
    before anything is saved."""
    if not active:
        if judge_name is not None or floor is not None:
            raise UserError("--judge and --floor go with --active", field="active")
        return None
    if share is None:
        raise UserError("--active needs --human-share P, the expected share", field="active")
    from evaltool.reporting.design import active_design, only_judge

    return active_design(engine, dataset, judge_name or only_judge(engine), share, floor)


# The old name, kept for scripts: the same command, not listed in --help.
assign = copy.copy(collection)
assign.hidden = True
