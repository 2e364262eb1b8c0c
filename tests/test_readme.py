"""Every ``bash`` block of the README and then of the documentation's pages (in the site's
order) runs, top to bottom, so they cannot rot; and the site builds in strict mode.

Hub models are replaced by tiny local ones with the same names, the PostgreSQL URL by the test
server's, ``make`` targets are dry-run (they would install or recurse), the page is started and
checked, and before a ``report`` simulated raters label what people would have.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from evaltool.demo import simulate_labels
from evaltool.storage import db

from .conftest import free_port, make_tiny_model, serve

ROOT = Path(__file__).resolve().parents[1]
PG_IN_README = "postgresql://evaltool@127.0.0.1:5432/evaltool"


def pages() -> list[Path]:
    """The README, then every page of the site's navigation in its order."""
    import yaml

    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]

    def walk(entries: list) -> list[str]:  # type: ignore[type-arg]
        found = []
        for entry in entries:
            for value in entry.values():
                found += walk(value) if isinstance(value, list) else [value]
        return found

    return [ROOT / "README.md", *(ROOT / "docs" / page for page in walk(nav))]


def bash_blocks(paths: list[Path] | None = None) -> list[list[str]]:
    blocks = []
    for path in paths or [ROOT / "README.md"]:
        blocks += re.findall(r"```bash\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)
    return [
        [ln for ln in b.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        for b in blocks
    ]


def test_readme_has_the_two_setup_commands() -> None:
    blocks = bash_blocks()
    assert blocks[0] == ["make demo"] and blocks[1] == ["make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "make test"


@pytest.mark.slow
def test_every_bash_block_runs(tmp_path: Path, pg_url: str) -> None:
    models = {
        f"tinkoff-ai/ruDialoGPT-{size}": make_tiny_model(tmp_path / f"ruDialoGPT-{size}")
        for size in ("small", "medium")
    }
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop(db.ENV_VAR, None)
    ran = []
    for line in (ln for block in bash_blocks(pages()) for ln in block):
        line = line.replace(PG_IN_README, pg_url)
        for hub_id, folder in models.items():
            line = line.replace(hub_id, str(folder))
        words = shlex.split(line)
        if words[0] == "make":
            out = subprocess.run(
                ["make", "-n", *words[1:]], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout
            assert out.strip(), line
        elif words[0] == "export":
            key, value = words[1].split("=", 1)
            env[key] = value
        elif words[0] == ".venv/bin/evaltool":
            args = words[1:]
            if args[0] == "annotate":
                port = free_port()
                proc = serve(env.get(db.ENV_VAR, "sqlite:///evaltool.db"), port, work)
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
                    assert r.status == 200
                proc.terminate()
                proc.wait(timeout=10)
            else:
                if args[0] == "report":
                    url = env[db.ENV_VAR].replace("sqlite:///", f"sqlite:///{work}/")
                    assert simulate_labels(db.make_engine(url), raters=4) > 0
                result = subprocess.run(
                    [sys.executable, "-m", "evaltool", *args],
                    cwd=work,
                    env=env,
                    capture_output=True,
                    text=True,
                )
                assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
        else:
            raise AssertionError(f"the README test does not know how to run: {line}")
        ran.append(words[0] if words[0] != ".venv/bin/evaltool" else words[1])
    assert {"demo", "init", "generate", "annotate", "report", "status"} <= set(ran)
    assert (work / "reports" / "ru-mtb" / "report.md").exists()
    assert (work / "demo-sim" / "reports" / "ru-mtb" / "report.json").exists()
    assert (work / "ru-mtb-ssa" / "README.md").exists()  # docs/sharing.md's export


def test_every_page_is_in_the_site_and_it_builds_strictly(tmp_path: Path) -> None:
    """No page left out of the navigation; mkdocs --strict fails on a broken link, a missing
    page or a docstring it cannot render."""
    listed = {p.name for p in pages()[1:]}
    assert {p.name for p in (ROOT / "docs").glob("*.md")} == listed
    try:
        import mkdocs  # noqa: F401
    except ImportError:  # pragma: no cover - CI installs it (the docs extra)
        if os.environ.get("CI"):
            raise
        pytest.skip("mkdocs is not installed (pip install .[docs])")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ipw_score" in (tmp_path / "site" / "api" / "index.html").read_text()
    assert "export dataset" in (tmp_path / "site" / "cli" / "index.html").read_text()


def test_readme_shows_the_page_on_a_laptop_and_a_phone() -> None:
    """`make screenshots` pictures, linked from the README, of a rendered page (not blank)."""
    from PIL import Image

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for width, height in ((1280, 800), (390, 844)):
        path = f"docs/img/page-{width}x{height}.png"
        assert f"]({path})" in text
        with Image.open(ROOT / path) as img:
            assert img.size == (width, height)
            colors = img.convert("RGB").getcolors(maxcolors=1 << 20) or []
            assert len(colors) > 50
