"""The ``evaltool`` command line: parse arguments, call the library, print the outcome.

One module per command group; user mistakes raise ``UserError`` anywhere below and are
printed here on one line, and the process exits with status 2.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from evaltool import __version__
from evaltool.cli import (
    annotate,
    annotators,
    chat,
    data,
    database,
    demo,
    generate,
    judge,
    pairs,
    perplexity,
    plan,
    report,
    study,
)
from evaltool.errors import UserError


class _Group(click.Group):
    """A click group that turns ``UserError`` into ``error: ...`` on stderr and exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"error: {_with_flag(exc)}", err=True)
            ctx.exit(2)


# The command behind each step a library error asks for first.
STEPS = {
    "init": "evaltool init --db URL",
    "import-contexts": "evaltool contexts import FILE",
    "import-responses": "evaltool responses import FILE",
    "list-annotators": "evaltool annotators list",
    "create-study": "evaltool study create NAME --platform ...",
    "list-chats": "evaltool chat list",
    "make-pairs": "evaltool pairs make SYSTEM SYSTEM ...",
    "run-judge": "evaltool judge run NAME ...",
}


def _with_flag(exc: UserError) -> str:
    """The message, its setting named as the command-line flag that sets it (``--overlap``),
    and the command that does the step it asks for first."""
    flags = _flags()
    text = exc.render(lambda name: flags.get(name, name))
    if exc.step in STEPS:
        text += f" (`{STEPS[exc.step]}`)"
    return text


def _flags() -> dict[str, str]:
    """Every option's flag by its parameter name and by the flag's own name."""
    flags: dict[str, str] = {}
    commands = list(cli.commands.values())
    while commands:
        command = commands.pop()
        if isinstance(command, click.Group):
            commands += list(command.commands.values())
        for param in command.params:
            if isinstance(param, click.Option):
                flag = max(param.opts, key=len)
                flags.setdefault(param.name or "", flag)
                for opt in param.opts:
                    flags.setdefault(opt.lstrip("-").replace("-", "_"), flag)
    return flags


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="evaltool")
def cli() -> None:
    """Human evaluation of dialog models with SSA (sensibleness and specificity average).

    Typical flow: init, contexts import, generate, annotators add, annotate, report.
    """


for command in (
    database.init,
    database.status,
    data.contexts,
    generate.generate,
    perplexity.perplexity,
    annotate.collection,
    pairs.pairs,
    annotators.annotators,
    annotators.gold,
    study.study,
    chat.chat,
    annotate.annotate,
    report.report,
    judge.judge,
    plan.plan,
    data.responses,
    data.labels,
    data.export,
    demo.demo,
):
    cli.add_command(command)
cli.add_command(annotate.assign, "assign")


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(prog_name="evaltool", standalone_mode=True))
