"""Measure adaptive overlap on the simulated demo: labels saved, and the SSA table beside full k.

Builds the demo database twice (baselines only, no hub models), once with fixed overlap k and
once with `collection --adaptive`, and lets the same simulated raters (same seed, same accuracy)
label both through the page's labelling path (flow). A second fixed run with other rater draws
(seed + 1000) shows how far two runs differ by the simulation's noise alone. Prints labels
stored, labels the adaptive run saved, and per system the SSA of each run, over --seeds seeds.
Not a timing: the figures are labels and SSA.

    .venv/bin/python bench/adaptive_overlap.py [--overlap 3] [--raters 5] [--seeds 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaltool.demo import configure, prepare, simulate_labels
from evaltool.reporting.aggregate import ReportSettings, build_report
from evaltool.storage import db
from evaltool.storage.project import save_settings


def one_run(folder: Path, overlap: int, adaptive: bool, raters: int, seed: int) -> dict:  # type: ignore[type-arg]
    """A fresh demo, labelled by simulated raters; returns the report's numbers."""
    engine, _ = prepare(folder, models=(), seed=seed, say=lambda _m: None)
    configure(engine, overlap)
    with db.session_scope(engine) as s:
        save_settings(s, adaptive=adaptive)
    stored = simulate_labels(engine, raters=raters, seed=seed)
    report, _ = build_report(engine, None, ReportSettings(resamples=1000, seed=seed))
    report["stored"] = stored
    engine.dispose()
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--overlap", type=int, default=3)
    ap.add_argument("--raters", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=1)
    args = ap.parse_args()
    print(f"k={args.overlap}, {args.raters} simulated raters (accuracy 0.85)")
    print("seed  system      fixed SSA [95% interval]   fixed, other draws   adaptive")
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            fixed = one_run(Path(tmp) / "fixed", args.overlap, False, args.raters, seed)
            other = one_run(Path(tmp) / "other", args.overlap, False, args.raters, seed + 1000)
            adapt = one_run(Path(tmp) / "adaptive", args.overlap, True, args.raters, seed)
        again = {s["name"]: s["ssa"]["estimate"] for s in other["systems"]}
        by_name = {s["name"]: s["ssa"]["estimate"] for s in adapt["systems"]}
        for s in fixed["systems"]:
            f = s["ssa"]
            print(
                f"{seed:>4}  {s['name']:<10}  {f['estimate']:.3f} [{f['ci_low']:.3f}, "
                f"{f['ci_high']:.3f}]       {again[s['name']]:.3f}             "
                f"{by_name[s['name']]:.3f}"
            )
        saved = adapt["adaptive"]["labels_saved"] if adapt.get("adaptive") else 0
        share = 1 - adapt["stored"] / fixed["stored"]
        print(
            f"      labels: {fixed['stored']} fixed, {adapt['stored']} adaptive "
            f"({share:.0%} fewer; the report counts {saved} saved)"
        )


if __name__ == "__main__":
    main()
