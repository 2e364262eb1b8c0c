"""``evaltool demo``: the whole loop offline in one folder."""

from __future__ import annotations

import click

from evaltool.cli.annotate import annotate
from evaltool.cli.common import link_options


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
        from evaltool.reporting.aggregate import ReportSettings, build_report
        from evaltool.reporting.render import write_report

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
