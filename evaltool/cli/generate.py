"""``evaltool generate``: flags for the run and for every decoding setting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from evaltool.cli.common import dataset_option, db_option
from evaltool.errors import UserError
from evaltool.generation.prompting import FORMAT_NAMES

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


_SERVED = ("api", "api_key_env", "concurrency", "timeout", "retries")


def served_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Flags for a model behind an OpenAI-compatible server (vLLM, TGI, transformers serve)."""
    options = [
        click.option(
            "--endpoint",
            default=None,
            metavar="URL",
            help="Base URL of an OpenAI-compatible server (http://host:8000/v1); --model is "
            "the name it serves. Beam search and n-gram bans are refused: a server samples.",
        ),
        click.option(
            "--api",
            type=click.Choice(["openai", "vllm"]),
            default="openai",
            show_default=True,
            help="Request fields: openai's only, or with vLLM's top_k, repetition_penalty and "
            "min_tokens.",
        ),
        click.option(
            "--api-key-env",
            default=None,
            metavar="VAR",
            help="Environment variable holding the API key (never stored or printed).",
        ),
        click.option(
            "--concurrency", type=int, default=4, show_default=True, help="Requests in flight."
        ),
        click.option(
            "--timeout", type=float, default=120.0, show_default=True, help="Seconds per request."
        ),
        click.option(
            "--retries",
            type=int,
            default=6,
            show_default=True,
            help="Retries per request on 429, 5xx, timeouts and lost connections, with "
            "exponential backoff.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


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
@click.option(
    "--prompt-format",
    type=click.Choice(FORMAT_NAMES),
    default="auto",
    show_default=True,
    help="How turns become the prompt. auto: chat-template for a tokenizer with a chat template "
    "(and for --endpoint), rudialogpt for the ruDialoGPT vocabulary, else plain.",
)
@click.option(
    "--system-prompt",
    default=None,
    metavar="TEXT",
    help="A system message (chat-template) or first line (plain); stored with the system.",
)
@served_options
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
    prompt_format: str,
    system_prompt: str | None,
    endpoint: str | None,
    do_sample: bool | None,
    db_url: str | None,
    **options: Any,
) -> None:
    """Generate responses to a dataset's contexts with causal LMs, local or served
    (--endpoint); re-runs resume."""
    from evaltool.generation.run import DEFAULT_MODELS, RunConfig
    from evaltool.storage import db

    served = {k: options.pop(k) for k in _SERVED}
    _check_flags(endpoint is not None)
    engine_db = db.connect(db_url)
    chosen = models or DEFAULT_MODELS
    if system and len(chosen) > 1:
        raise UserError("--system names one system: give it with a single --model")
    _check_counts(batch_size=batch_size, limit=limit, context_turns=context_turns)
    changes = {k: v for k, v in options.items() if v is not None}
    changes["decoding"] = decoding
    if do_sample is not None:
        changes["do_sample"] = do_sample
    common = {
        "dataset": dataset,
        "system": system,
        "limit": limit,
        "context_turns": context_turns,
        "prompt_format": prompt_format,
        "system_prompt": system_prompt,
        "seed": seed,
    }
    if endpoint is not None:
        if len(models) != 1:
            raise UserError("--endpoint needs exactly one --model: the name the server knows")
        _run_served(engine_db, endpoint, models[0], changes, common, served)
        return
    for model in chosen:
        if model.startswith("baseline:"):
            _run_baseline(engine_db, model, dataset, limit, seed)
            continue
        _run_model(
            engine_db,
            RunConfig(
                model=model,
                settings=changes,
                revision=revision,
                batch_size=batch_size,
                device=device,
                dtype=dtype,
                engine=engine,
                **common,
            ),
        )


def _check_counts(**counts: int | None) -> None:
    """Refuse counts below 1 (None: not given)."""
    for name, value in counts.items():
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')} must be 1 or more")


_LOCAL = ("revision", "batch_size", "device", "dtype", "engine", "decoding")


def _check_flags(served: bool) -> None:
    """Refuse flags given on the command line that mean nothing for this kind of run."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    wrong = _LOCAL if served else _SERVED
    given = [n for n in wrong if ctx.get_parameter_source(n) is ParameterSource.COMMANDLINE]
    if given:
        flags = ", ".join("--" + n.replace("_", "-") for n in given)
        if served:
            raise UserError(f"{flags}: only for local models; leave out with --endpoint")
        raise UserError(f"{flags}: only for served models; give --endpoint URL too")


def _progress_bar(name: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A tqdm bar made on the first call ``(total, 0)`` and moved by later calls; and a closer."""
    from tqdm import tqdm

    bar: list[Any] = []

    def progress(total: int, done: int) -> None:
        if not bar:
            bar.append(tqdm(total=total, unit="ctx", desc=name))
        else:
            bar[0].update(done)

    def close() -> None:
        if bar:
            bar[0].close()

    return progress, close


def _run_served(
    engine_db: Any,
    endpoint: str,
    model: str,
    changes: dict[str, Any],
    common: dict[str, Any],
    served: dict[str, Any],
) -> None:
    from evaltool.generation.run import system_name
    from evaltool.generation.served import ServedConfig, run_served
    from evaltool.generation.settings import GenerationSettings

    config = ServedConfig(
        endpoint=endpoint,
        model=model,
        settings=GenerationSettings(**changes),
        **common,
        **served,
    )
    progress, close = _progress_bar(config.system or system_name(model))
    try:
        summary = run_served(engine_db, config, progress=progress)
    finally:
        close()
    click.echo(
        f"{summary.system}: {summary.contexts} contexts, {summary.responses} responses "
        f"({summary.empty} empty), {summary.skipped} already done; {summary.seconds:.1f} s, "
        f"{summary.tokens_per_second:.1f} new tokens/s, {summary.retried} requests retried "
        f"[served by {endpoint}]"
    )


def _run_model(engine_db: Any, config: Any) -> None:
    from dataclasses import replace

    from evaltool.generation import run as gen
    from evaltool.generation.settings import GenerationSettings

    config = replace(config, settings=GenerationSettings(**config.settings))
    progress, close = _progress_bar(config.system or gen.system_name(config.model))
    try:
        summary = gen.run(engine_db, config, progress=progress)
    finally:
        close()
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
