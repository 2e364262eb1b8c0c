"""``evaltool plan``: how many contexts and raters detect an SSA difference, before paying."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from typing import Any

import click

from evaltool.cli.common import dataset_option, db_option, print_table
from evaltool.errors import UserError


@click.command()
@click.option(
    "--difference", type=float, default=0.05, show_default=True, help="SSA gap to detect."
)
@click.option("--power", type=float, default=0.8, show_default=True, help="Chance to detect it.")
@click.option("--confidence", type=float, default=0.95, show_default=True, help="Interval level.")
@click.option(
    "--pilot",
    is_flag=True,
    help="Take rates and rater accuracy from the labels in the database (a pilot study).",
)
@click.option("--sensibleness", type=float, default=None, help="Assumed sensible share [0.7].")
@click.option(
    "--specificity", type=float, default=None, help="Assumed specific share of sensible [0.5]."
)
@click.option("--rater-accuracy", type=float, default=None, help="Assumed rater accuracy [0.85].")
@click.option(
    "--contexts",
    type=int,
    multiple=True,
    help="Contexts to try; repeat (default: 50 100 200 300 500 1000).",
)
@click.option("--raters", type=int, multiple=True, help="Raters per item to try (default: 1 3 5).")
@click.option("--simulations", type=int, default=400, show_default=True, help="Studies simulated.")
@click.option("--seed", type=int, default=0, show_default=True, help="Simulation seed.")
@click.option("--json", "json_out", default=None, metavar="FILE", help="Also write the plan here.")
@click.option(
    "--judge-rho",
    type=float,
    default=None,
    help="Plan a judged campaign instead: the judge-human correlation of a pilot (SSA per item).",
)
@click.option(
    "--judge",
    "judge_name",
    default=None,
    metavar="NAME",
    help="Plan a judged campaign, taking the correlation from this judge's pilot labels.",
)
@click.option(
    "--width",
    type=float,
    default=0.1,
    show_default=True,
    help="With --judge-rho: the full width of the SSA interval wanted.",
)
@click.option(
    "--judged-items",
    type=int,
    default=1477,
    show_default=True,
    help="With --judge-rho: items per system the judge labels (Meena's contexts by default).",
)
@click.option(
    "--variance",
    type=float,
    default=0.25,
    show_default=True,
    help="With --judge-rho: the variance of an item's SSA (0.25 at most).",
)
@click.option(
    "--active",
    is_flag=True,
    help="With --judge: also plan an active share (collection --active), its chances from "
    "the judge's uncertainty on the dataset's items.",
)
@click.option(
    "--floor",
    type=float,
    default=None,
    help="With --active: the uniform part of each chance [0.5].",
)
@dataset_option
@db_option
def plan(
    pilot: bool,
    contexts: tuple[int, ...],
    raters: tuple[int, ...],
    json_out: str | None,
    judge_rho: float | None,
    judge_name: str | None,
    width: float,
    judged_items: int,
    variance: float,
    active: bool,
    floor: float | None,
    dataset: str | None,
    db_url: str | None,
    **given: Any,
) -> None:
    """Simulate studies: the power to detect an SSA difference per contexts and raters per item;
    with --judge-rho, the people's items a judged campaign needs for an interval width.

    Example: evaltool plan --difference 0.05 --raters 3

    Example: evaltool plan --judge-rho 0.7 --width 0.1 --judged-items 1477

    Example: evaltool plan --judge bert --width 0.1 --active
    """
    ratio = _active_ratio(db_url, dataset, judge_name, floor) if active else None
    if judge_name is not None:
        from evaltool.reporting.calibration import pilot_correlation
        from evaltool.storage import db

        judge_rho, n = pilot_correlation(db.connect(db_url), dataset, judge_name)
        click.echo(
            f"from the pilot: {judge_name} correlates {judge_rho:.2f} with people ({n} items)"
        )
    if judge_rho is not None:
        rho = max(judge_rho, 0.0)
        return _judged(rho, width, judged_items, variance, given["confidence"], ratio)
    from evaltool.reporting.planning import PlanSettings, from_labels
    from evaltool.reporting.planning import plan as make_plan

    known = {f.name for f in fields(PlanSettings)}
    values = {k: v for k, v in given.items() if v is not None and k in known}
    if pilot:
        from evaltool.storage import db
        from evaltool.storage.contexts import resolve_dataset
        from evaltool.storage.labels import label_frame

        engine = db.connect(db_url)
        with db.session_scope(engine, readonly=True) as s:
            labels = label_frame(s, resolve_dataset(s, dataset).id)
        values = {**from_labels(labels), **values}
        click.echo(
            "from the pilot: sensibleness {sensibleness:.3f}, specificity {specificity:.3f}, "
            "rater accuracy {rater_accuracy:.3f}".format(**values)
        )
    if contexts:
        values["contexts"] = contexts
    if raters:
        values["raters"] = raters
    result = make_plan(PlanSettings(**values))
    chosen = result.settings
    click.echo(
        f"power to find an SSA difference of {chosen['difference']:g} "
        f"({chosen['ssa_weaker']:.3f} vs {chosen['ssa_stronger']:.3f}) at "
        f"{chosen['confidence']:.0%} confidence, "
        f"{chosen['simulations']} simulated studies each:"
    )
    ks = sorted(result.power)
    rows = [(n, *(f"{result.power[k][n]:.2f}" for k in ks)) for n in sorted(chosen["contexts"])]
    print_table(["contexts", *(f"{k} raters" for k in ks)], rows)
    for k in ks:
        n = result.needed[k]
        enough = f"{n} contexts" if n else f"more than {max(chosen['contexts'])} contexts"
        click.echo(f"{k} raters per item: {enough} for power {chosen['power']:g}")
    if json_out:
        with open(json_out, "w", encoding="utf-8") as f:
            json.dump(asdict(result), f, indent=2)
        click.echo(json_out)


def _active_ratio(
    db_url: str | None, dataset: str | None, judge_name: str | None, floor: float | None
) -> tuple[float, float, int]:
    """(label ratio, floor, items judged) of an active share, from the judge's labels."""
    from evaltool.reporting.active import DEFAULT_FLOOR
    from evaltool.reporting.design import planned_ratio
    from evaltool.storage import db

    if judge_name is None:
        raise UserError(
            "--active needs --judge NAME: its labels give each context's uncertainty",
            field="active",
        )
    floor = DEFAULT_FLOOR if floor is None else floor
    if not 0 < floor <= 1:
        raise UserError(f"{floor:g} is not a floor; use a number above 0, at most 1", field="floor")
    ratio, items = planned_ratio(db.connect(db_url), dataset, judge_name, floor)
    return ratio, floor, items


def _judged(
    rho: float,
    width: float,
    judged: int,
    variance: float,
    confidence: float,
    active: tuple[float, float, int] | None = None,
) -> None:
    """People's items for an SSA interval of ``width``, alone and beside a judge (and drawn
    actively)."""
    from evaltool.reporting.ppi import labels_for_width

    if not 0 <= rho < 1 or not 0 < width < 1 or judged < 1 or not 0 < variance <= 0.25:
        raise UserError(
            "use a correlation in [0, 1), a width in (0, 1), judged items of 1 or more and a "
            "variance in (0, 0.25]",
            field="judge_rho",
        )
    alone, with_judge = labels_for_width(variance, rho, width / 2, judged, confidence)
    click.echo(f"for a {confidence:.0%} SSA interval {width:g} wide (variance {variance:g}):")
    click.echo(f"  people alone: {math.ceil(alone)} items per system")
    if with_judge is None:
        click.echo(
            f"  with a judge of correlation {rho:g} on {judged} items: no number of people's "
            "items reaches it; judge more items"
        )
    else:
        saved = 1 - with_judge / alone
        click.echo(
            f"  with a judge of correlation {rho:g} on {judged} items: {math.ceil(with_judge)} "
            f"items per system ({saved:.0%} fewer)"
        )
        if active is not None:
            ratio, floor, items = active
            click.echo(
                f"  drawn actively (floor {floor:g}; the judge's uncertainty on {items} items, "
                f"taken as calibrated): {math.ceil(with_judge * ratio)} items per system "
                f"({1 - ratio:.0%} fewer than the uniform share)"
            )
