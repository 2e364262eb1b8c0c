"""``evaltool generate``: flags for the run and for every decoding setting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from evaltool.cli.common import dataset_option, db_option, progress_bar
from evaltool.errors import UserError
from evaltool.generation.backends import BACKENDS, DEFAULT_MODELS
from evaltool.generation.openai_api import API_STYLES
from evaltool.generation.prompting import FORMAT_NAMES
from evaltool.generation.settings import DECODING_RULES

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
            type=click.Choice(API_STYLES),
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


_MODEL_OPTIONS = [
    click.option("--revision", default=None, help="Hub revision (branch, tag or commit)."),
    click.option(
        "--context-turns",
        type=int,
        default=3,
        show_default=True,
        help="Turns of context in the prompt.",
    ),
    click.option(
        "--batch-size", type=int, default=None, help="Contexts per batch (default: auto)."
    ),
    click.option(
        "--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps."
    ),
    click.option(
        "--dtype",
        default="auto",
        show_default=True,
        help="auto (fp32 on CPU, bf16/fp16 on GPU), fp32, fp16 or bf16.",
    ),
    click.option(
        "--decoder",
        "--engine",
        "decoder",
        default="auto",
        show_default=True,
        help="auto (evaltool's fast loop for GPT-2, else transformers' generate), fast or hf. "
        "(--engine is the old name.)",
    ),
    click.option(
        "--decoding",
        type=click.Choice(DECODING_RULES),
        default="card",
        show_default=True,
        help="Beam-sampling rule: the model card's (transformers 4.25.1, three independent "
        "searches) or the locked transformers release's (one search, its best three). "
        "docs/protocol.md.",
    ),
    click.option(
        "--seed",
        type=int,
        default=0,
        show_default=True,
        help="Seed for sampling; each context draws from its own stream, so replies do not "
        "depend on the batch.",
    ),
    click.option(
        "--prompt-format",
        type=click.Choice(FORMAT_NAMES),
        default="auto",
        show_default=True,
        help="How turns become the prompt. auto: chat-template for a tokenizer with a chat "
        "template (and for --endpoint), rudialogpt for the ruDialoGPT vocabulary, else plain.",
    ),
    click.option(
        "--system-prompt",
        default=None,
        metavar="TEXT",
        help="A system message (chat-template) or first line (plain); stored with the system.",
    ),
]


def model_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Flags for how a model is loaded and prompted (``generate`` and ``chat create``)."""
    for option in reversed(_MODEL_OPTIONS):
        func = option(func)
    return func


@click.command()
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="ID_OR_PATH",
    help="Hub id, local folder or baseline:NAME; repeat for several (default: ruDialoGPT "
    "small+medium).",
)
@click.option("--system", default=None, help="System name (default: the model's short name).")
@dataset_option
@click.option("--limit", type=int, default=None, help="Only the first N contexts of the dataset.")
@model_options
@served_options
@decoding_options
@db_option
def generate(
    models: tuple[str, ...],
    system: str | None,
    dataset: str | None,
    limit: int | None,
    endpoint: str | None,
    do_sample: bool | None,
    db_url: str | None,
    **options: Any,
) -> None:
    """Generate responses to a dataset's contexts with local models, served models
    (--endpoint) or baselines; re-runs resume.

    Example: evaltool generate --model tinkoff-ai/ruDialoGPT-small --model baseline:generic
    """
    from evaltool.generation import backends, loop
    from evaltool.storage import db

    chosen = models or DEFAULT_MODELS
    backends.check_models(chosen, endpoint, system)
    _check_counts(
        batch_size=options["batch_size"], limit=limit, context_turns=options["context_turns"]
    )
    options["settings"] = decoding_settings(options, do_sample)
    run_options = loop.RunOptions(dataset, system, limit, options["seed"])
    engine_db = db.connect(db_url)
    for model in chosen:
        backend = backends.backend_for(model, endpoint)
        _check_flags(backend)
        responder = backend.make(model, {**options, "endpoint": endpoint})
        progress, close = progress_bar(system or responder.name, "ctx")
        try:
            summary = loop.run(engine_db, responder, run_options, progress=progress)
        finally:
            close()
        click.echo(closing_line(summary, responder.describe()))


_SETTINGS = [dest for _, _, dest, _ in _DECODING]


def decoding_settings(options: dict[str, Any], do_sample: bool | None) -> Any:
    """The ``GenerationSettings`` the decoding flags ask for (taken out of ``options``)."""
    from evaltool.generation.settings import GenerationSettings

    changes = {f: options.pop(f) for f in _SETTINGS if options.get(f) is not None}
    changes["decoding"] = options["decoding"]
    if do_sample is not None:
        changes["do_sample"] = do_sample
    return GenerationSettings(**changes)


def closing_line(summary: Any, how: str) -> str:
    """What a run did, on one line."""
    line = (
        f"{summary.system}: {summary.contexts} contexts, {summary.responses} responses "
        f"({summary.empty} empty), {summary.skipped} already done; {summary.seconds:.1f} s, "
        f"{summary.tokens_per_second:.1f} new tokens/s{how}"
    )
    if summary.unanswered:
        line += f"; {summary.unanswered} without a reply (no reference reply)"
    return line


def _check_counts(**counts: int | None) -> None:
    """Refuse counts below 1 (None: not given)."""
    for name, value in counts.items():
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')} must be 1 or more")


def _check_flags(backend: Any) -> None:
    """Refuse flags given on the command line that mean nothing for this kind of run."""
    from click.core import ParameterSource

    from evaltool.generation.backends import wrong_options

    ctx = click.get_current_context()
    names = {n for b in BACKENDS.values() for n in b.only}
    given = {n for n in names if ctx.get_parameter_source(n) is ParameterSource.COMMANDLINE}
    wrong = wrong_options(backend, given)
    if wrong:
        flags = ", ".join("--" + n.replace("_", "-") for n in sorted(wrong[0]))
        raise UserError(f"{flags}: {wrong[1]}", settings=("endpoint",))
