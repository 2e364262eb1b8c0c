"""Commands for collecting labels: accounts, assignment settings, gold items, the page."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from importlib import resources
from typing import Any

import click

from evaltool.cli_common import db_option, print_table

HOST = "127.0.0.1"
PORT = 8501


def link_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--host and --port of the annotation page, used to build personal links."""
    func = click.option(
        "--port", type=int, default=PORT, show_default=True, help="Port of the annotation page."
    )(func)
    return click.option(
        "--host", default=HOST, show_default=True, help="Host name people reach the page at."
    )(func)


@click.command()
@link_options
@db_option
def annotate(host: str, port: int, db_url: str | None) -> None:
    """Serve the annotation page (Streamlit, headless) and print its address."""
    from evaltool import db

    url = db.resolve_url(db_url)
    db.connect(url)  # fail here, in one line, when the database is missing or old
    app = resources.files("annotate_app") / "app.py"
    click.echo(f"annotation page: http://{host}:{port}/  (database {url}); Ctrl-C stops it")
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
    ]
    env = {**os.environ, "EVALTOOL_DB": url}
    try:
        sys.exit(subprocess.call(cmd, env=env))
    except KeyboardInterrupt:
        sys.exit(0)


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
    from evaltool import db
    from evaltool.accounts import add_annotator, link

    token = add_annotator(db.connect(db_url), name, admin=admin)
    click.echo(link(token, host, port))


@annotators.command("list")
@db_option
def annotators_list(db_url: str | None) -> None:
    """List annotators, their role, state and labels (links are not stored)."""
    from evaltool import db
    from evaltool.accounts import list_annotators

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
    from evaltool import db
    from evaltool.accounts import disable

    disable(db.connect(db_url), name)
    click.echo(f"{name}: disabled")


@annotators.command("rotate")
@click.argument("name")
@link_options
@db_option
def annotators_rotate(name: str, host: str, port: int, db_url: str | None) -> None:
    """Give an annotator a new link; the old one stops working."""
    from evaltool import db
    from evaltool.accounts import link, rotate

    click.echo(link(rotate(db.connect(db_url), name), host, port))


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
    "--stop-flagged/--keep-flagged",
    default=None,
    help="Stop flagged annotators from labelling [keep].",
)
@db_option
def assign(
    overlap: int | None,
    lease_minutes: float | None,
    gold_rate: float | None,
    gold_threshold: float | None,
    gold_min_items: int | None,
    stop_flagged: bool | None,
    db_url: str | None,
) -> None:
    """Set how labels are collected (overlap k, leases, gold checks) and show the pool."""
    from evaltool import db
    from evaltool.project import save_settings
    from evaltool.status import collect_status

    engine = db.connect(db_url)
    with db.session_scope(engine) as s:
        new = save_settings(
            s,
            overlap=overlap,
            lease_minutes=lease_minutes,
            gold_rate=gold_rate,
            gold_threshold=gold_threshold,
            gold_min_items=gold_min_items,
            stop_flagged=stop_flagged,
        )
    click.echo(
        f"overlap k={new.overlap}, lease {new.lease_minutes:g} min, gold rate "
        f"{new.gold_rate:g}, flag below {new.gold_threshold:g} after {new.gold_min_items} "
        f"gold items, flagged annotators {'stopped' if new.stop_flagged else 'kept'}"
    )
    st = collect_status(engine)
    total = sum(done + short for _, _, done, short in st.labels_by_system)
    short = sum(s for *_, s in st.labels_by_system)
    click.echo(f"{total} items (rank 0) in the pool, {short} still need labels")


@click.group()
def gold() -> None:
    """Gold items with known answers, to check annotators."""


@gold.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
def gold_import(file: str, db_url: str | None) -> None:
    """Mark responses as gold (response_id, or context_id + system; sensible, specific)."""
    from evaltool import db
    from evaltool.gold import import_gold

    added, updated = import_gold(db.connect(db_url), file)
    click.echo(f"gold items: {added} added, {updated} updated")


@click.command()
@click.option(
    "--dir",
    "folder",
    default="demo",
    show_default=True,
    help="Folder for the demo database and report.",
)
@click.option(
    "--simulate-labels",
    is_flag=True,
    help="Label with simulated raters and write the report instead of serving the page.",
)
@click.option("--raters", type=int, default=5, show_default=True, help="Simulated raters.")
@click.option(
    "--accuracy",
    type=float,
    default=0.85,
    show_default=True,
    help="Chance a simulated rater answers each question right.",
)
@click.option("--overlap", type=int, default=3, show_default=True, help="Labels per response, k.")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed for baselines and raters."
)
@click.option(
    "--report-out",
    default=None,
    metavar="FOLDER",
    help="Where the simulated report goes (default: DIR/reports/ru-mtb).",
)
@click.option("--no-serve", is_flag=True, help="Prepare everything but do not start the page.")
@link_options
def demo(
    folder: str,
    simulate_labels: bool,
    raters: int,
    accuracy: float,
    overlap: int,
    seed: int,
    report_out: str | None,
    no_serve: bool,
    host: str,
    port: int,
) -> None:
    """Run the whole loop offline in one folder: data, baselines, links, page or report."""
    from pathlib import Path

    from evaltool import demo as dm
    from evaltool.errors import UserError

    if not 0.5 <= accuracy <= 1:
        raise UserError("--accuracy must be between 0.5 and 1")
    if raters < overlap:
        raise UserError("--raters must be at least --overlap")
    engine, result = dm.prepare(Path(folder), seed=seed, say=click.echo)
    dm.configure(engine, overlap)
    if result.links:
        click.echo("personal links (shown once; `evaltool annotators rotate NAME` makes new ones):")
        for name, url in result.links.items():
            click.echo(f"  {name:12} {url.replace('127.0.0.1:8501', f'{host}:{port}')}")
    if simulate_labels:
        from evaltool.render import write_report
        from evaltool.report import ReportSettings, build_report

        n = dm.simulate_labels(engine, raters=raters, accuracy=accuracy, seed=seed)
        click.echo(f"simulated labels: {n} from {raters} raters with accuracy {accuracy:g}")
        data, items = build_report(engine, None, ReportSettings(seed=seed))
        out = Path(report_out) if report_out else Path(folder) / "reports" / data["dataset"]
        for path in write_report(data, items, out):
            click.echo(str(path))
        for s in data["systems"]:
            click.echo(
                f"  {s['name']:10} sensibleness {s['sensibleness']['estimate']:.3f}  "
                f"specificity {s['specificity']['estimate']:.3f}  SSA {s['ssa']['estimate']:.3f}"
            )
        click.echo(f"then, as usual: evaltool report --db {result.url}")
        return
    if no_serve:
        click.echo(f"start the page with: evaltool annotate --db {result.url}")
        return
    annotate.callback(host=host, port=port, db_url=result.url)  # type: ignore[misc]
