"""Benchmark: the rest of a big campaign, step by step, at 12,000 and 120,000 items.

For each size: contexts (items / 4) imported from a file, the four baselines generated,
``collection --overlap 3``, 3 labels per item imported (360,000 at 120,000 items), then
``status``, the admin page (rendered by Streamlit's own test runner, as a signed-in admin;
the first render imports and builds its tables, the next reuses them, a third builds them
again as a running server does each minute) and ``report``. Every command
runs as the user runs it, in its own process; the table gives seconds and peak memory per step,
and the ratio of each step at the largest size to the smallest (the baseline in the same run):
10x the items costs about 10x for the steps that read every row, and near 1x for the rest.

    .venv/bin/python bench/campaign_scale.py [--sizes 12000 120000] [--resamples 10000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVALTOOL = [sys.executable, "-m", "evaltool"]
BASELINES = ("reference", "generic", "shuffled", "echo")
RATERS = 300
ADMIN_PAGE = """
import os, sys, time
from streamlit.testing.v1 import AppTest
sys.path.insert(0, {root!r})
from evaltool.annotation import flow
flow.mark_instructions_seen(None, {token!r})
import streamlit as st
times = []
for run in range(3):
    if run == 2:
        st.cache_data.clear()  # what a running server meets once its minute's cache is gone
    app = AppTest.from_file({app!r}, default_timeout=600)
    app.query_params["token"] = {token!r}
    app.query_params["page"] = "admin"
    t0 = time.perf_counter()
    app.run()
    times.append(time.perf_counter() - t0)
    assert not app.exception, app.exception
    assert len(app.subheader) >= 3 and app.dataframe, "no admin page"
print(" ".join(f"{{t:.3f}}" for t in times))
"""


def run_timed(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Run one command; (seconds, peak MiB of its process read by /usr/bin/time, stdout)."""
    t0 = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return seconds, peak_kib / 1024, done.stdout


def write_inputs(folder: Path, items: int) -> tuple[Path, Path]:
    """Contexts for items / 4 and a labels file with 3 raters per item (seeded)."""
    rng = random.Random(0)
    contexts = folder / "contexts.jsonl"
    n = items // len(BASELINES)
    with contexts.open("w") as f:
        for i in range(n):
            row = {
                "id": f"c{i}",
                "turns": ["привет", f"как прошёл день {i}?"],
                "reference": f"хорошо {i % 97}",
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    labels = folder / "labels.csv"
    with labels.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["context_id", "system", "annotator", "sensible", "specific"])
        for i in range(n):
            for system in BASELINES:
                for rater in rng.sample(range(RATERS), 3):
                    sensible = rng.random() < 0.7
                    out.writerow(
                        [f"c{i}", system, f"r{rater}", sensible, sensible and rng.random() < 0.5]
                    )
    return contexts, labels


def campaign(items: int, resamples: int) -> dict[str, tuple[float, float]]:
    """Seconds and peak MiB per step for one size."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        contexts, labels = write_inputs(folder, items)
        env = {**os.environ, "EVALTOOL_DB": f"sqlite:///{folder / 'campaign.db'}"}
        env["PYTHONPATH"] = str(ROOT)
        models = [a for b in BASELINES for a in ("--model", f"baseline:{b}")]
        steps = {
            "init": ["init"],
            "contexts import": ["contexts", "import", str(contexts)],
            "generate (4 baselines)": ["generate", *models],
            "collection --overlap 3": ["collection", "--overlap", "3", "--gold-rate", "0"],
            "labels import": ["labels", "import", str(labels)],
            "status": ["status"],
            "report": [
                "report",
                "--out",
                str(folder / "report"),
                "--resamples",
                str(resamples),
                "--compare",
                "reference",
                "generic",
            ],
        }
        costs: dict[str, tuple[float, float]] = {}
        for name, args in steps.items():
            seconds, peak, _ = run_timed([*EVALTOOL, *args], env, folder)
            costs[name] = (seconds, peak)
            if name == "labels import":
                time_labels(folder / "campaign.db")
            if name == "status":
                costs.update(admin_page(env, folder))
        return costs


def time_labels(database: Path) -> None:
    """Give the imported labels the seconds the page would have recorded (1 to 30 s, seeded),
    so the admin page's medians work as they do in a real campaign."""
    with sqlite3.connect(database) as con:
        con.execute("UPDATE labels SET seconds = 1 + (id * 7919 % 29000) / 1000.0")


def admin_page(env: dict[str, str], folder: Path) -> dict[str, tuple[float, float]]:
    """The admin page's first render in a new process (imports, tables built), the second
    (tables reused) and a third with the cache cleared (tables built again, imports done)."""
    _, _, out = run_timed([*EVALTOOL, "annotators", "add", "boss", "--admin"], env, folder)
    token = out.split("token=")[1].split()[0]
    script = ADMIN_PAGE.format(
        root=str(ROOT), app=str(ROOT / "annotate_app" / "app.py"), token=token
    )
    _, peak, out = run_timed([sys.executable, "-c", script], env, folder)
    first, again, rebuilt = (float(x) for x in out.split())
    return {
        "admin page, first render": (first, peak),
        "admin page, again": (again, peak),
        "admin page, cache expired": (rebuilt, peak),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[12_000, 120_000])
    parser.add_argument("--resamples", type=int, default=10_000)
    args = parser.parse_args()
    results = {size: campaign(size, args.resamples) for size in args.sizes}
    small, large = min(args.sizes), max(args.sizes)
    header = "".join(f"{f'{s} items: s':>16}{'MiB':>7}" for s in args.sizes)
    print(f"{'step':<28}{header}{'ratio':>8}")
    for name in results[large]:
        cells = "".join(
            f"{results[s][name][0]:>16.2f}{results[s][name][1]:>7.0f}" for s in args.sizes
        )
        ratio = results[large][name][0] / max(results[small][name][0], 1e-9)
        print(f"{name:<28}{cells}{ratio:>7.1f}x")


if __name__ == "__main__":
    main()
