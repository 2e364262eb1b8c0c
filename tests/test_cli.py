"""The command line as a whole: help text everywhere, errors as one line and exit 2."""

from __future__ import annotations

import subprocess
import sys

import click

from evaltool.cli import cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


def test_every_command_has_help_text(run_cli) -> None:
    seen = []
    for path, command in _commands(cli):
        assert command.help and command.help.strip(), f"{' '.join(path)} has no help"
        assert command.get_short_help_str().strip()
        result = run_cli(*path, "--help")
        assert result.exit_code == 0, path
        assert "Usage:" in result.output
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"{' '.join(path)} {param.opts[0]} has no help"
        seen.append(path)
    assert ("init",) in seen and ("contexts", "import") in seen


def test_top_level_help_lists_commands(run_cli) -> None:
    result = run_cli("--help")
    for name, command in cli.commands.items():
        assert (name in result.output) != command.hidden


def test_old_command_names_still_work(run_cli) -> None:
    assert run_cli("init").exit_code == 0
    assert "overlap k=4" in run_cli("assign", "--overlap", "4").output  # now `collection`
    assert "overlap k=4" in run_cli("collection").output


def test_missing_database_is_one_line_exit_2(run_cli, tmp_path) -> None:
    result = run_cli("status")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "evaltool init" in result.stderr
    assert not (tmp_path / "evaltool.db").exists(), "a failed command must not create a database"


def test_console_script_exit_status_and_no_traceback(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "evaltool", "contexts", "import", "nope.jsonl"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "EVALTOOL_DB": f"sqlite:///{tmp_path}/x.db"},
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ")


def _loaded_after(code: str, modules: tuple[str, ...]) -> list[bool]:
    """Run ``code`` in a fresh interpreter; which of ``modules`` did it import?"""
    probe = f"{code}; import sys; print(*[m in sys.modules for m in {modules!r}])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return [word == "True" for word in out.stdout.split()]


def test_cli_help_does_not_import_torch() -> None:
    """The other commands, the page and the report start fast: torch loads for generate only."""
    code = "from evaltool.cli import cli; from click.testing import CliRunner; "
    code += "CliRunner().invoke(cli, ['--help'])"
    assert _loaded_after(code, ("torch", "transformers", "pandas")) == [False, False, False]


def test_database_password_is_never_printed(run_cli) -> None:
    url = "postgresql://ev:secret@127.0.0.1:9/ev"  # nothing listens on port 9
    for command in (["status"], ["annotate"], ["init"]):
        result = run_cli(*command, "--db", url)
        assert result.exit_code == 2, result.output
        assert "secret" not in result.output and "ev:***@" in result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
