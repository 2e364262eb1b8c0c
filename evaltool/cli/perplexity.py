"""``evaltool perplexity``: a model's perplexity on a dataset's reference replies."""

from __future__ import annotations

import click

from evaltool.cli.common import dataset_option, db_option
from evaltool.generation.prompting import FORMAT_NAMES


@click.command()
@click.option("--model", required=True, metavar="ID_OR_PATH", help="Hub id or local folder.")
@click.option(
    "--system", required=True, help="The system (made by this model) to keep the result with."
)
@click.option("--revision", default=None, help="Hub revision (branch, tag or commit).")
@click.option("--context-turns", type=int, default=3, show_default=True, help="Turns of context.")
@click.option("--batch-size", type=int, default=16, show_default=True, help="Contexts per batch.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--dtype", default="auto", show_default=True, help="auto, fp32, fp16 or bf16.")
@click.option(
    "--prompt-format",
    type=click.Choice(FORMAT_NAMES),
    default="auto",
    show_default=True,
    help="auto: the format the system's responses were generated with.",
)
@click.option(
    "--system-prompt", default=None, metavar="TEXT", help="Default: the system's own, if any."
)
@dataset_option
@db_option
def perplexity(
    model: str,
    system: str,
    revision: str | None,
    context_turns: int,
    batch_size: int,
    device: str,
    dtype: str,
    prompt_format: str,
    system_prompt: str | None,
    dataset: str | None,
    db_url: str | None,
) -> None:
    """Score the reference replies with the model, prompted as generate prompts it; the report
    shows the result beside SSA."""
    from evaltool.generation.perplexity import PerplexityConfig, run
    from evaltool.storage import db

    config = PerplexityConfig(
        model=model,
        system=system,
        dataset=dataset,
        revision=revision,
        context_turns=context_turns,
        batch_size=batch_size,
        device=device,
        dtype=dtype,
        prompt_format=prompt_format,
        system_prompt=system_prompt,
    )
    result = run(db.connect(db_url), config)
    click.echo(
        f"{system}: perplexity {result.perplexity:.2f} on {result.tokens} tokens of "
        f"{result.contexts} reference replies"
    )
