"""Benchmark: `evaltool report` on 10,000 contexts x 2 systems x 3 labels, 10,000 resamples.

Baseline in the same run: the straightforward use of scipy.stats.bootstrap, one paired call per
system and per pair over per-context arrays. Target for evaltool: under 3 s on a 2-core machine.

    .venv/bin/python bench/report.py [--contexts 10000] [--resamples 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats as sps
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaltool.reporting.aggregate import ReportSettings, aggregate_items, build_report, load_labels
from evaltool.reporting.render import write_report
from evaltool.storage import db
from evaltool.storage.schema import Annotator, Context, Dataset, Label, Response, System


def fill(url: str, contexts: int) -> None:
    """A database with two systems answering every context and 3 labels per response."""
    engine = db.make_engine(url, must_exist=False)
    db.upgrade(engine)
    rng = np.random.default_rng(0)
    with engine.begin() as conn:
        conn.execute(insert(Dataset), [{"id": 1, "name": "bench"}])
        conn.execute(
            insert(Context),
            [
                {"id": i + 1, "dataset_id": 1, "external_id": f"c{i}", "turns": ["привет"]}
                for i in range(contexts)
            ],
        )
        conn.execute(
            insert(System),
            [
                {"id": 1, "name": "medium", "kind": "model", "settings": {}},
                {"id": 2, "name": "small", "kind": "model", "settings": {}},
            ],
        )
        conn.execute(insert(Annotator), [{"id": a + 1, "name": f"r{a}"} for a in range(30)])
        responses, labels = [], []
        for system, quality in ((1, 0.78), (2, 0.64)):
            for i in range(contexts):
                rid = (system - 1) * contexts + i + 1
                responses.append(
                    {
                        "id": rid,
                        "context_id": i + 1,
                        "system_id": system,
                        "rank": 0,
                        "text": "ответ",
                        "meta": {},
                    }
                )
                for a in rng.choice(30, size=3, replace=False):
                    sensible = bool(rng.random() < quality)
                    specific = sensible and bool(rng.random() < 0.8)
                    labels.append(
                        {
                            "response_id": rid,
                            "annotator_id": int(a) + 1,
                            "sensible": sensible,
                            "specific": specific,
                        }
                    )
        conn.execute(insert(Response), responses)
        conn.execute(insert(Label), labels)


def baseline(url: str, resamples: int) -> float:
    """Seconds for separate paired scipy bootstraps per system and per pair (the usual way)."""
    _, labels, systems, _ = load_labels(db.make_engine(url), None)
    items = aggregate_items(labels)
    start = time.perf_counter()

    def rates(s, p, n, axis=-1):  # type: ignore[no-untyped-def]
        a, b, m = s.sum(axis), p.sum(axis), n.sum(axis)
        return np.stack([a / m, b / m, (a + b) / (2 * m)])

    per = {}
    for sid in systems["system_id"]:
        x = items[items["system_id"] == sid].sort_values("context_id")
        per[sid] = (x["sensible"].to_numpy(float), x["specific"].to_numpy(float), np.ones(len(x)))
        sps.bootstrap(
            per[sid],
            rates,
            paired=True,
            vectorized=True,
            n_resamples=resamples,
            random_state=np.random.default_rng(0),
            batch=400,
        )
    a, b = per.values()

    def diff(*x, axis=-1):  # type: ignore[no-untyped-def]
        return rates(*x[:3], axis=axis) - rates(*x[3:], axis=axis)

    sps.bootstrap(
        (*a, *b),
        diff,
        paired=True,
        vectorized=True,
        n_resamples=resamples,
        random_state=np.random.default_rng(0),
        batch=400,
    )
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contexts", type=int, default=10_000)
    ap.add_argument("--resamples", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        fill(url, args.contexts)
        engine = db.connect(url)
        start = time.perf_counter()
        report, items = build_report(engine, None, ReportSettings(resamples=args.resamples))
        built = time.perf_counter() - start
        write_report(report, items, Path(tmp) / "out")
        total = time.perf_counter() - start
        base = baseline(url, args.resamples)
    labels = sum(s["labels"] for s in report["systems"])
    print(
        f"{args.contexts} contexts x 2 systems, {labels} labels, {args.resamples} resamples (BCa)"
    )
    print(f"baseline (scipy bootstrap per system and pair, CIs only): {base:.2f} s")
    print(
        f"evaltool report (load, aggregate, all CIs, agreement): {built:.2f} s; "
        f"with the four files written: {total:.2f} s"
    )
    print(
        f"speed-up over the baseline: {base / built:.1f}x; target under 3 s: "
        f"{'met' if total < 3 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
