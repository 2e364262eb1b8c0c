"""Benchmark: concurrent simulated annotators on the page's own labelling path, SQLite.

Each annotator is a thread (as sessions are in one Streamlit server) that answers through
``flow.answer``, which stores the label and brings the next item in one call as the page
does, until nothing is left, pausing between items like a person reading (exponential, mean
--think seconds; people take 10-30 s, so 0.5 s is a 20-60x harsher load). Prints labels per
second, p50/p95 latency of one answer + next item, and checks that nothing was lost
and no item got more than k labels. Reference rows in the same run: one annotator alone, and
the crowd with no pause at all (the saturation throughput; its latency is queueing, since
SQLite takes one writer at a time). Target: p95 under 50 ms at 32 annotators, nothing lost.

    .venv/bin/python bench/annotate_load.py [--annotators 32] [--items 1500] [--overlap 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaltool.annotation import flow
from evaltool.annotation.accounts import add_annotator
from evaltool.storage import db
from evaltool.storage.project import save_settings
from evaltool.storage.schema import Context, Dataset, Label, Response, System


def setup(url: str, items: int, overlap: int, annotators: int) -> list[str]:
    engine = db.make_engine(url, must_exist=False)
    db.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(Dataset), [{"id": 1, "name": "bench"}])
        half = items // 2
        conn.execute(
            insert(Context),
            [
                {
                    "id": i + 1,
                    "dataset_id": 1,
                    "external_id": f"c{i}",
                    "turns": ["привет", "как дела?"],
                }
                for i in range(half)
            ],
        )
        conn.execute(
            insert(System),
            [
                {"id": 1, "name": "a", "kind": "model", "settings": {}},
                {"id": 2, "name": "b", "kind": "model", "settings": {}},
            ],
        )
        conn.execute(
            insert(Response),
            [
                {"context_id": i + 1, "system_id": s, "rank": 0, "text": "нормально", "meta": {}}
                for s in (1, 2)
                for i in range(half)
            ],
        )
    with db.session_scope(engine) as s:
        save_settings(s, overlap=overlap, gold_rate=0.0)
    return [add_annotator(engine, f"a{i}") for i in range(annotators)]


def run(
    url: str, tokens: list[str], limit_s: float, think: float
) -> tuple[list[float], int, float]:
    engine = db.connect(url)
    latencies: list[float] = []
    stored = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + limit_s

    def work(token: str, seed: int) -> None:
        rng = random.Random(seed)
        screen = flow.view(engine, token)
        while time.perf_counter() < deadline and screen.task is not None:
            t0 = time.perf_counter()
            rid = screen.task.response_id
            screen = flow.answer(engine, token, rid, rng.random() < 0.7, True)
            with lock:
                latencies.append(time.perf_counter() - t0)
                stored[0] += screen.stored
            if think > 0:
                time.sleep(rng.expovariate(1 / think))

    threads = [threading.Thread(target=work, args=(t, i)) for i, t in enumerate(tokens)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, stored[0], time.perf_counter() - start


def measure(
    annotators: int, items: int, overlap: int, limit_s: float, think: float
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/load.db"
        tokens = setup(url, items, overlap, annotators)
        lat, stored, wall = run(url, tokens, limit_s, think)
        engine = db.connect(url)
        with db.session_scope(engine) as s:
            in_db = s.scalar(select(func.count(Label.id))) or 0
            per_item = [
                n for (n,) in s.execute(select(func.count(Label.id)).group_by(Label.response_id))
            ]
        engine.dispose()
    ms = np.array(lat) * 1000
    return {
        "annotators": annotators,
        "think": think,
        "labels": stored,
        "in_db": in_db,
        "over_k": sum(n > overlap for n in per_item),
        "per_s": stored / wall,
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--annotators", type=int, default=32)
    ap.add_argument("--items", type=int, default=600)
    ap.add_argument("--think", type=float, default=0.5, help="mean pause between items, s")
    ap.add_argument("--overlap", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=60, help="stop each run after this long")
    args = ap.parse_args()
    alone = measure(1, args.items, args.overlap, min(args.seconds, 15), 0.0)
    flood = measure(args.annotators, args.items, args.overlap, args.seconds, 0.0)
    crowd = measure(args.annotators, args.items, args.overlap, args.seconds, args.think)
    print("annotators  pause s  labels  labels/s  p50 ms  p95 ms  lost  over k")
    for r in (alone, flood, crowd):
        print(
            f"{r['annotators']:10d} {r['think']:8.2f} {r['labels']:7d} {r['per_s']:9.1f} "
            f"{r['p50']:7.1f} {r['p95']:7.1f} {r['labels'] - r['in_db']:5d} {r['over_k']:7d}"
        )
    ok = crowd["p95"] < 50 and all(
        r["labels"] == r["in_db"] and r["over_k"] == 0 for r in (alone, flood, crowd)
    )
    print(
        f"p95 with {args.annotators} pausing annotators / p95 alone: "
        f"{crowd['p95'] / alone['p95']:.1f}x; "
        f"target (p95 < 50 ms, nothing lost): {'met' if ok else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
