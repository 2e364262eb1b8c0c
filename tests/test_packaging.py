"""A non-editable install works from anywhere: the wheel carries the page, the shipped set and
the migrations, and its console script runs init, import, report and the page."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from .conftest import free_port, serve

ROOT = Path(__file__).resolve().parents[1]
PIP = [sys.executable, "-m", "pip"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (found,) = out.glob("evaltool-*.whl")
    return found


def test_wheel_contains_app_data_migrations_and_license(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "evaltool/storage/data/ru-mtb.jsonl" in names
    assert "evaltool/storage/migrations/env.py" in names
    assert "evaltool/storage/migrations/script.py.mako" in names
    assert any(n.startswith("evaltool/storage/migrations/versions/0002") for n in names)
    assert "annotate_app/app.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith("tests/") for n in names)


@pytest.mark.slow
def test_installed_wheel_runs_from_another_folder(wheel: Path, tmp_path: Path) -> None:
    """A fresh venv gets the wheel alone; its dependencies come from the test venv's
    site-packages through a path file, so nothing is downloaded and no checkout is on the path."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    py = venv / "bin" / "python"
    subprocess.run(
        [*PIP, "--python", str(py), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    evaltool = [str(venv / "bin" / "evaltool")]

    def run(*args: str) -> str:
        proc = subprocess.run([*evaltool, *args], cwd=work, capture_output=True, text=True)
        assert proc.returncode == 0, (args, proc.stderr)
        return proc.stdout

    where = subprocess.run(
        [str(py), "-c", "import evaltool; print(evaltool.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), where
    run("init")
    assert "added 300 contexts" in run("contexts", "import", "--builtin")
    answers = [{"context_id": f"mtb-{i:03d}", "response": "Понятно."} for i in range(1, 4)]
    (work / "r.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    run("responses", "import", "r.jsonl", "--system", "s")
    labels = [
        {"context_id": a["context_id"], "system": "s", "annotator": f"r{r}", "sensible": 1}
        | {"specific": 0}
        for a in answers
        for r in range(3)
    ]
    (work / "l.jsonl").write_text("".join(json.dumps(x) + "\n" for x in labels))
    run("labels", "import", "l.jsonl")
    assert "report.json" in run("report", "--resamples", "1000")
    assert json.loads((work / "reports/ru-mtb/report.json").read_text())["systems"][0]["items"] == 3
    proc = serve(f"sqlite:///{work / 'evaltool.db'}", free_port(), work, command=evaltool)
    proc.terminate()
    assert proc.wait(timeout=20) is not None
