"""``evaltool judge``: an automatic judge on every item of a dataset, for judge-assisted SSA."""

from __future__ import annotations

import click

from evaltool.cli.common import dataset_option, db_option, print_table, progress_bar
from evaltool.errors import UserError


@click.group()
def judge() -> None:
    """Automatic judges: label every item, then combine with people's labels on a share."""


@judge.command("run")
@click.argument("name")
@click.option("--endpoint", default=None, help="An LLM judge behind this OpenAI-compatible URL.")
@click.option("--model", default=None, help="The model the server serves (with --endpoint).")
@click.option(
    "--language",
    type=click.Choice(["ru", "en"]),
    default="ru",
    show_default=True,
    help="The language of the judge's prompt.",
)
@click.option(
    "--max-tokens", type=int, default=3, show_default=True, help="Longest answer asked for."
)
@click.option("--concurrency", type=int, default=4, show_default=True, help="Requests at once.")
@click.option(
    "--classifier",
    default=None,
    metavar="MODEL",
    help="A local folder or hub id laid out as tinkoff-ai/response-quality-classifier.",
)
@click.option("--revision", default=None, help="The classifier's hub revision.")
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="Where the classifier runs (auto: cuda when there).",
)
@click.option(
    "--batch-size",
    type=int,
    default=32,
    show_default=True,
    help="Items the classifier scores a forward pass (sorted by length, padded).",
)
@click.option(
    "--pairs",
    is_flag=True,
    help="Compare the dataset's pair items (an LLM judge, asked twice with the sides swapped) "
    "instead of judging SSA items.",
)
@dataset_option
@db_option
def judge_run(
    name: str,
    endpoint: str | None,
    model: str | None,
    language: str,
    max_tokens: int,
    concurrency: int,
    classifier: str | None,
    revision: str | None,
    device: str,
    batch_size: int,
    pairs: bool,
    dataset: str | None,
    db_url: str | None,
) -> None:
    """Judge every item of the dataset not judged yet by NAME (run again to resume).

    Example: evaltool judge run qwen --endpoint http://127.0.0.1:8000/v1 --model Qwen/Qwen3-8B

    Example: evaltool judge run rqc --classifier tinkoff-ai/response-quality-classifier-base

    Example: evaltool judge run rqc --classifier ./rqc --device cuda --batch-size 128

    Example: evaltool judge run qwen-pairs --pairs --endpoint http://127.0.0.1:8000/v1 --model M
    """
    from evaltool.annotation import judging
    from evaltool.generation import judges
    from evaltool.storage import db

    if (endpoint is None) == (classifier is None):
        raise UserError("give --endpoint (an LLM judge) or --classifier, one of them")
    task, kind = "pairs" if pairs else "ssa", "llm" if endpoint is not None else "classifier"
    made_by = judges.JUDGES[task].get(kind)
    if made_by is None:
        raise UserError(f"a {kind} judge cannot compare pairs: give --endpoint", field="classifier")
    if endpoint is not None:
        if not model:
            raise UserError("the model the server serves is needed", field="model")
        made = made_by(endpoint, model, language, max_tokens, concurrency)
    else:
        if batch_size < 1:
            raise UserError("must be 1 or more", field="batch-size")
        made = made_by(classifier, revision, device, batch_size=batch_size)
    progress, close = progress_bar(name, "pair" if pairs else "item")
    try:
        done = judging.run(db.connect(db_url), dataset, made, name, progress=progress, task=task)
    finally:
        close()
    click.echo(
        f"{done.judge}: {done.judged} items judged now, {done.before} before, "
        f"{done.before + done.judged} of {done.total} in {done.dataset}"
    )


@judge.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("name")
@click.option(
    "--model",
    default="external",
    show_default=True,
    help="What made the verdicts (kept with the judge).",
)
@dataset_option
@db_option
def judge_import(file: str, name: str, model: str, dataset: str | None, db_url: str | None) -> None:
    """Bring in a judge's verdicts made elsewhere: per item (response_id, or context_id and
    system) p_sensible and p_specific (specific given sensible), or sensible and specific as
    yes/no. All or nothing; the judge then works as one run here.

    Example: evaltool judge import verdicts.csv big-bert --model my-org/bert-large-ssa
    """
    from evaltool.storage import db
    from evaltool.storage.imports import import_judge_labels

    done = import_judge_labels(db.connect(db_url), file, name, model, dataset)
    click.echo(f"{name}: {done.added} verdicts imported, {done.unchanged} already there")


@judge.command("calibrate")
@click.argument("name")
@dataset_option
@db_option
def judge_calibrate(name: str, dataset: str | None, db_url: str | None) -> None:
    """Fit NAME's yes/no thresholds on the items people have voted (best Cohen's kappa).

    Example: evaltool judge calibrate rqc
    """
    from evaltool.reporting.calibration import calibrate
    from evaltool.storage import db
    from evaltool.storage.judging import set_thresholds

    engine = db.connect(db_url)
    fit = calibrate(engine, dataset, name)
    with db.session_scope(engine) as s:
        set_thresholds(s, name, fit.sensible, fit.specific)
    click.echo(
        f"{name}: sensible at {fit.sensible:.3f} (kappa {_k(fit.kappa_sensible)}), specific at "
        f"{fit.specific:.3f} (kappa {_k(fit.kappa_specific)}), on {fit.items} items"
    )


@judge.command("list")
@db_option
def judge_list(db_url: str | None) -> None:
    """Every judge with its kind, model, prompt version, thresholds and items judged."""
    from evaltool.storage import db
    from evaltool.storage.judging import judges

    with db.session_scope(db.connect(db_url), readonly=True) as s:
        rows = [
            (j.name, j.kind, j.model, j.prompt_version or "", f"{j.threshold_sensible:g}", n)
            for j, n in judges(s)
        ]
    print_table(["judge", "kind", "model", "prompt", "threshold", "items"], rows)


def _k(kappa: float | None) -> str:
    return "n/a" if kappa is None else f"{kappa:.2f}"
