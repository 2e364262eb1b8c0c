"""``evaltool report``: the SSA table with intervals, comparisons and agreement."""

from __future__ import annotations

import click

from evaltool.cli.common import dataset_option, db_option
from evaltool.reporting.choices import AGGREGATORS, INTERVAL_METHODS


@click.command()
@dataset_option
@click.option(
    "--out", default=None, metavar="FOLDER", help="Output folder (default: reports/DATASET)."
)
@click.option(
    "--resamples",
    type=int,
    default=10_000,
    show_default=True,
    help="Bootstrap resamples (at least 1000).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option(
    "--confidence",
    type=float,
    default=0.95,
    show_default=True,
    help="Confidence level of the intervals.",
)
@click.option(
    "--method",
    type=click.Choice(INTERVAL_METHODS),
    default="score",
    show_default=True,
    help="Interval method: score intervals over contexts (Wilson's for rates; right near 0 and "
    "1 and with few contexts), or the BCa or percentile bootstrap.",
)
@click.option(
    "--aggregate",
    type=click.Choice(AGGREGATORS),
    default="majority",
    show_default=True,
    help="How an item's label is decided: majority vote, or a rater model (crowd-kit; "
    "pip install 'evaltool[crowd]') shown beside the majority vote.",
)
@click.option(
    "--compare",
    nargs=2,
    metavar="A B",
    default=None,
    help="The pair of systems to compare first (default: ruDialoGPT-medium and -small).",
)
@click.option(
    "--min-labels",
    type=int,
    default=None,
    help="Leave out items with fewer labels (default: the project overlap k).",
)
@click.option(
    "--chat",
    default=None,
    metavar="CAMPAIGN",
    help="The interactive SSA of a chat campaign instead, resampling conversations, with each "
    "bot's static SSA from --dataset beside it.",
)
@click.option(
    "--judge",
    default=None,
    metavar="NAME",
    help="Add the judge-assisted table: this judge's labels on every item with people's on "
    "the human share (evaltool collection --human-share), prediction-powered intervals.",
)
@click.option(
    "--anchor",
    default=None,
    metavar="SYSTEM",
    help="The system whose side-by-side strength is 0 (default: the first by name).",
)
@click.option(
    "--pairs-only",
    is_flag=True,
    help="Only the side-by-side section (pair answers): no SSA table.",
)
@db_option
def report(
    dataset: str | None,
    out: str | None,
    resamples: int,
    seed: int,
    confidence: float,
    method: str,
    aggregate: str,
    compare: tuple[str, str] | None,
    min_labels: int | None,
    chat: str | None,
    judge: str | None,
    anchor: str | None,
    pairs_only: bool,
    db_url: str | None,
) -> None:
    """Write the SSA table with intervals, comparisons and agreement (md, json, png, csv).

    Example: evaltool report --compare ruDialoGPT-medium ruDialoGPT-small

    Example: evaltool report --pairs-only --anchor ruDialoGPT-small
    """
    from pathlib import Path

    from evaltool.reporting.aggregate import ReportSettings, build_report
    from evaltool.reporting.render import write_report
    from evaltool.storage import db

    settings = ReportSettings(
        resamples,
        seed,
        confidence,
        method,
        min_labels,
        aggregate,
        tuple(compare) if compare else None,
        judge,
        anchor,
        pairs_only,
    )
    if chat is not None:
        return _interactive(db.connect(db_url), chat, dataset, settings, out)
    data, items = build_report(db.connect(db_url), dataset, settings)
    folder = Path(out) if out else Path("reports") / data["dataset"]
    for path in write_report(data, items, folder):
        click.echo(str(path))
    for s in (data.get("pairwise") or {}).get("systems", []):
        click.echo(
            f"  {s['name']}: side-by-side strength {s['strength']:+.3f} "
            f"({s['ci_low']:+.3f} to {s['ci_high']:+.3f}), rank {s['rank_low']}-{s['rank_high']}"
        )
    for s in data.get("systems", []):
        ssa = s["ssa"]
        value = "no items with enough labels" if ssa is None else f"SSA {ssa['estimate']:.3f}"
        click.echo(f"  {s['name']}: {value} ({s['items']} items, {s['labels']} labels)")
    judged = data.get("judged")
    if judged and judged["refused"]:
        click.echo(f"judge-assisted estimates refused: {judged['refused']}")
    elif judged:
        for s in judged["systems"]:
            if "ssa" in s:
                click.echo(
                    f"  {s['name']}, judge-assisted: SSA {s['ssa']['estimate']:.3f} from "
                    f"{s['human_labels']} people's labels (people alone would need "
                    f"{s['human_labels_without_judge']})"
                )


def _interactive(engine, campaign: str, dataset: str | None, settings, out: str | None) -> None:  # type: ignore[no-untyped-def]
    """``report --chat``: report.md, report.json and ssa.png of the campaign's interactive
    SSA."""
    from pathlib import Path

    from evaltool.reporting import interactive

    data = interactive.build(engine, campaign, dataset, settings)
    for path in interactive.write(data, Path(out) if out else Path("reports") / campaign):
        click.echo(str(path))
    for b in data["bots"]:
        ssa = "no labelled conversations" if b["ssa"] is None else f"SSA {b['ssa']['estimate']:.3f}"
        click.echo(
            f"  {b['name']}: {ssa} ({b['conversations']} conversations, {b['bot_turns']} bot turns)"
        )
