"""A non-editable install carries the page, the shipped set and the migrations."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_app_data_and_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("evaltool-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "evaltool/data/ru-mtb.jsonl" in names
    assert "evaltool/migrations/env.py" in names
    assert "evaltool/migrations/script.py.mako" in names
    assert any(n.startswith("evaltool/migrations/versions/0001") for n in names)
    assert "annotate_app/app.py" in names and "annotate_app/texts.py" in names
