"""The tree names the pipeline and its arrows point down.

storage (bottom) <- generation | annotation | reporting (side by side, never each other)
<- demo <- cli and annotate_app (top). Every import in the package, at module level or inside
a function, is checked; so is what importing the lower layers loads, and module size.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {
    "evaltool.errors": 0,
    "evaltool.catalog": 0,
    "evaltool": 0,  # the package's __init__: the version only
    "evaltool.storage": 1,
    "evaltool.generation": 2,
    "evaltool.annotation": 2,
    "evaltool.reporting": 2,
    "evaltool.demo": 3,
    "evaltool.cli": 4,
    "annotate_app": 4,
    "evaltool.__main__": 5,
}
MAX_LINES = 400


def area(module: str) -> str:
    """The layer a module belongs to: the longest entry of LAYERS that prefixes it."""
    return max((a for a in LAYERS if module == a or module.startswith(a + ".")), key=len)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> list[Path]:
    return sorted([*ROOT.glob("evaltool/**/*.py"), *ROOT.glob("annotate_app/**/*.py")])


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every evaltool or annotate_app import in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return [(n, m) for n, m in found if m.split(".")[0] in ("evaltool", "annotate_app")]


def test_the_tree_names_the_pipeline() -> None:
    for package in ("storage", "generation", "annotation", "reporting", "cli"):
        assert (ROOT / "evaltool" / package / "__init__.py").is_file(), package
    assert (ROOT / "evaltool" / "storage" / "migrations" / "versions").is_dir()


def test_arrows_point_down() -> None:
    wrong = []
    for path in sources():
        here = area(module_name(path))
        for line, target in imports(path):
            there = area(target)
            if there != here and LAYERS[there] >= LAYERS[here]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {here} imports {target}")
    assert wrong == []


def test_the_checker_sees_an_upward_arrow(tmp_path: Path) -> None:
    bad = tmp_path / "m.py"
    bad.write_text("def f():\n    from evaltool.reporting.render import markdown\n")
    assert imports(bad) == [(2, "evaltool.reporting.render.markdown")]
    assert LAYERS[area("evaltool.reporting.render")] > LAYERS[area("evaltool.storage.db")]


def test_lower_layers_load_no_torch_and_no_generation() -> None:
    modules = [
        module_name(p)
        for p in sources()
        if area(module_name(p)) in ("evaltool.storage", "evaltool.annotation", "evaltool.reporting")
        and "migrations" not in p.parts  # run by alembic, not importable on their own
    ]
    probe = (
        f"import importlib, sys; [importlib.import_module(m) for m in {modules!r}]; "
        "print(*[m in sys.modules for m in ('torch', 'transformers', 'evaltool.generation')])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"], out.stdout


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{lines} lines: split it where it reads better"


def test_every_command_but_generate_starts_without_torch() -> None:
    """generate imports torch when it runs; the CLI, the demo and the run loop's module don't."""
    modules = [
        module_name(p)
        for p in sources()
        if area(module_name(p)) in ("evaltool.cli", "evaltool.demo")
    ] + [
        "evaltool.generation.loop",
        "evaltool.generation.backends",
        "evaltool.generation.responder",
        "evaltool.generation.served",
        "evaltool.generation.baselines",
    ]
    probe = (
        f"import importlib, sys; [importlib.import_module(m) for m in {modules!r}]; "
        "print(*[m in sys.modules for m in ('torch', 'transformers')])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"], out.stdout


def _strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string in the file but docstrings and comments."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


def test_library_messages_name_no_flag_and_no_command() -> None:
    """Below the CLI, a message names a setting as ``{name}`` (the CLI shows its flag) and a
    step to take first as ``step=`` (the CLI shows the command); the report's prose, the
    dataset card and the demo, which speak to the user directly, may name commands."""
    flag = re.compile(r"(^|[\s(`])--[a-z]")
    wrong = []
    for path in sources():
        module = module_name(path)
        talks_to_user = area(module) in ("evaltool.cli", "evaltool.demo", "annotate_app")
        prose = module in ("evaltool.reporting.render", "evaltool.reporting.sharing_card")
        if talks_to_user or "migrations" in module or prose:
            continue
        for line, text in _strings(path):
            if flag.search(text) or ("evaltool " in text and "`" in text):
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
    assert wrong == []


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(ROOT.glob("bench/*.py")), ids=lambda p: p.name)
def test_every_bench_imports(path: Path) -> None:
    """A bench is run by hand, so a renamed module would break it unseen: import each one
    (without running its main) in a fresh interpreter."""
    probe = (
        "import importlib.util, sys; "
        f"spec = importlib.util.spec_from_file_location('bench_probe', {str(path)!r}); "
        "sys.modules['bench_probe'] = m = importlib.util.module_from_spec(spec); "
        "spec.loader.exec_module(m)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
