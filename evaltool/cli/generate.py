"""``evaltool generate``: flags for the run and for every decoding setting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from evaltool.cli.common import dataset_option, db_option
from evaltool.errors import UserError

_DECODING = [
    ("--top-k", int, "top_k", "Keep the k most likely tokens (0: off)."),
    ("--top-p", float, "top_p", "Nucleus sampling mass."),
    ("--num-beams", int, "num_beams", "Beams per context."),
    ("--num-return-sequences", int, "num_return_sequences", "Candidates stored per context."),
    ("--no-repeat-ngram-size", int, "no_repeat_ngram_size", "Ban repeating n-grams of this size."),
    ("--temperature", float, "temperature", "Sampling temperature."),
    ("--repetition-penalty", float, "repetition_penalty", "Penalty for tokens already present."),
    ("--length-penalty", float, "length_penalty", "Beam score length exponent."),
    ("--eos-token-id", int, "eos_token_id", "Stop token id (default: the first speaker marker)."),
    ("--max-new-tokens", int, "max_new_tokens", "Most tokens generated per response."),
    ("--min-new-tokens", int, "min_new_tokens", "Fewest tokens generated per response."),
]


def decoding_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """One flag per decoding setting; the defaults are the ruDialoGPT model card's."""
    for flag, kind, dest, text in reversed(_DECODING):
        func = click.option(flag, dest, type=kind, default=None, help=text + " [card default]")(
            func
        )
    return click.option(
        "--sample/--no-sample", "do_sample", default=None, help="Sample (card) or decode greedily."
    )(func)


@click.command()
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="ID_OR_PATH",
    help="Hub id or local folder; repeat for several (default: ruDialoGPT small+medium).",
)
@click.option("--system", default=None, help="System name (default: the model's short name).")
@click.option("--revision", default=None, help="Hub revision (branch, tag or commit).")
@dataset_option
@click.option("--limit", type=int, default=None, help="Only the first N contexts of the dataset.")
@click.option(
    "--context-turns",
    type=int,
    default=3,
    show_default=True,
    help="Turns of context in the prompt.",
)
@click.option("--batch-size", type=int, default=None, help="Contexts per batch (default: auto).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option(
    "--dtype",
    default="auto",
    show_default=True,
    help="auto (fp32 on CPU, bf16/fp16 on GPU), fp32, fp16 or bf16.",
)
@click.option(
    "--engine",
    default="auto",
    show_default=True,
    help="auto (fast loop for GPT-2, else transformers), fast or hf.",
)
@click.option(
    "--decoding",
    type=click.Choice(["card", "transformers"]),
    default="card",
    show_default=True,
    help="Beam-sampling rule: the model card's (transformers 4.25.1, three independent searches) "
    "or the locked transformers release's (one search, its best three). docs/protocol.md.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed for sampling; each context draws from its own stream, so replies do not "
    "depend on the batch.",
)
@decoding_options
@db_option
def generate(
    models: tuple[str, ...],
    system: str | None,
    revision: str | None,
    dataset: str | None,
    limit: int | None,
    context_turns: int,
    batch_size: int | None,
    device: str,
    dtype: str,
    engine: str,
    decoding: str,
    seed: int,
    do_sample: bool | None,
    db_url: str | None,
    **options: Any,
) -> None:
    """Generate responses to a dataset's contexts with causal LMs; re-runs resume."""
    from evaltool.generation.run import DEFAULT_MODELS, RunConfig
    from evaltool.storage import db

    engine_db = db.connect(db_url)
    chosen = models or DEFAULT_MODELS
    if system and len(chosen) > 1:
        raise UserError("--system names one system: give it with a single --model")
    if batch_size is not None and batch_size < 1:
        raise UserError("--batch-size must be 1 or more")
    if limit is not None and limit < 1:
        raise UserError("--limit must be 1 or more")
    if context_turns < 1:
        raise UserError("--context-turns must be 1 or more")
    changes = {k: v for k, v in options.items() if v is not None}
    changes["decoding"] = decoding
    if do_sample is not None:
        changes["do_sample"] = do_sample
    for model in chosen:
        if model.startswith("baseline:"):
            _run_baseline(engine_db, model, dataset, limit, seed)
            continue
        _run_model(
            engine_db,
            RunConfig(
                model=model,
                settings=changes,
                dataset=dataset,
                system=system,
                revision=revision,
                limit=limit,
                context_turns=context_turns,
                batch_size=batch_size,
                device=device,
                dtype=dtype,
                seed=seed,
                engine=engine,
            ),
        )


def _run_model(engine_db: Any, config: Any) -> None:
    from dataclasses import replace

    from tqdm import tqdm

    from evaltool.generation import run as gen
    from evaltool.generation.settings import GenerationSettings

    config = replace(config, settings=GenerationSettings(**config.settings))
    bar: list[Any] = []

    def progress(total: int, done: int) -> None:
        if not bar:
            bar.append(
                tqdm(total=total, unit="ctx", desc=config.system or gen.system_name(config.model))
            )
        else:
            bar[0].update(done)

    summary = gen.run(engine_db, config, progress=progress)
    if bar:
        bar[0].close()
    x = summary.extra
    click.echo(
        f"{summary.system}: {summary.contexts} contexts, {summary.responses} responses "
        f"({summary.empty} empty), {summary.skipped} already done; {summary.seconds:.1f} s, "
        f"{summary.tokens_per_second:.1f} new tokens/s [{x['decoding']} decoding, {x['engine']} "
        f"engine, {x['device']}, {x['dtype']}, batch {x['batch_size']}]"
        + (
            f"; {x['truncated_prompts']} prompts cut to the model's length from the left"
            if x.get("truncated_prompts")
            else ""
        )
    )


def _run_baseline(
    engine_db: Any, model: str, dataset: str | None, limit: int | None, seed: int
) -> None:
    from evaltool.generation.baselines import run_baseline

    name = model.split(":", 1)[1]
    added, done, skipped = run_baseline(engine_db, name, dataset, limit, seed)
    note = f", {skipped} skipped (no reference reply)" if skipped else ""
    click.echo(f"{name}: {added} responses, {done} already done{note}")
