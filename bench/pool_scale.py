"""Benchmark: the cost of one label (answer + next item, the page's round trip) as the pool grows.

Builds pools of --sizes items (rank-0 responses of 4 systems, overlap k = 3, no gold) and
times ``flow.answer``, which stores the label and leases the next item in one transaction, as
the page does. One worker: --labels answers spread over raters who switch every 10 items, as a
crowd does. With --pg URL (an empty PostgreSQL server the bench may create databases on) the
same runs on PostgreSQL, and --workers threads label at once there (labels per second).
Prints p50 and p95 per size and the ratio of p95 at the largest pool to p95 at the smallest:
a claim whose cost does not grow with the pool keeps that ratio near 1. Targets (issue 20):
p95 at 120,000 items at most 20 ms on SQLite with one worker, ratio at most 1.5. With
--task pairs the database holds both kinds (the SSA pool and, on the same contexts, a pair
item for each two of the 4 systems: 1.5 pair items per response) and the pairwise round
trip (``flow.choose``) is timed instead, against the same targets (issue 27).

    .venv/bin/python bench/pool_scale.py [--sizes 1200 12000 120000] [--labels 100]
        [--task ssa|pairs] [--pg postgresql://postgres@127.0.0.1:5432] [--workers 32]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaltool.annotation import flow
from evaltool.annotation.accounts import add_annotator
from evaltool.storage import db
from evaltool.storage.project import save_settings
from evaltool.storage.schema import DRAW_KEYS, Context, Dataset, PairItem, Response, System

SYSTEMS = 4
SWITCH_EVERY = 10  # answers before the next rater takes over (one worker)


def build(url: str, items: int, task: str = "ssa") -> None:
    """A pool of ``items`` rank-0 responses: items / 4 contexts answered by 4 systems, and
    with ``task`` pairs a pair item for each two systems on each context."""
    engine = db.make_engine(url, must_exist=False)
    db.upgrade(engine)
    contexts = items // SYSTEMS
    with engine.begin() as conn:
        conn.execute(insert(Dataset), [{"id": 1, "name": "scale"}])
        rows = [
            {"id": i + 1, "dataset_id": 1, "external_id": f"c{i}", "turns": ["привет", "как ты?"]}
            for i in range(contexts)
        ]
        conn.execute(insert(Context), rows)
        systems = [
            {"id": s + 1, "name": f"s{s}", "kind": "baseline", "settings": {}}
            for s in range(SYSTEMS)
        ]
        conn.execute(insert(System), systems)
        answers = [
            {"context_id": i + 1, "system_id": s + 1, "rank": 0, "text": "хорошо", "meta": {}}
            for s in range(SYSTEMS)
            for i in range(contexts)
        ]
        for start in range(0, len(answers), 20_000):
            conn.execute(insert(Response), answers[start : start + 20_000])
        if task == "pairs":
            pairs = list(pair_rows(contexts))
            for start in range(0, len(pairs), 20_000):
                conn.execute(insert(PairItem), pairs[start : start + 20_000])
    with db.session_scope(engine) as s:
        save_settings(s, overlap=3, gold_rate=0.0, task=task)
    engine.dispose()


def pair_rows(contexts: int):  # type: ignore[no-untyped-def]
    """Pair items of every two systems on every context (response ids as ``build`` makes
    them: system-major), sides and draw keys from a fixed seed."""
    rng = random.Random(0)
    for i in range(contexts):
        for a in range(SYSTEMS):
            for b in range(a + 1, SYSTEMS):
                yield {
                    "dataset_id": 1, "context_id": i + 1, "system_a": a + 1, "system_b": b + 1,
                    "response_a": a * contexts + i + 1, "response_b": b * contexts + i + 1,
                    "a_left": rng.random() < 0.5, "design": "all", "seed": 0, "open": True,
                    "draw_key": rng.randrange(DRAW_KEYS), "training": False,
                }  # fmt: skip


def answer(engine, token: str, task, rng: random.Random):  # type: ignore[no-untyped-def]
    """One answer on the screen's item, of either kind; the next screen."""
    if hasattr(task, "response_id"):
        return flow.answer(engine, token, task.response_id, True, False, rng=rng)
    return flow.choose(engine, token, task.item_id, rng.choice(["left", "right", "tie"]), rng=rng)


def one_worker(url: str, labels: int, seed: int) -> list[float]:
    """Seconds per answer + next item for ``labels`` answers by raters taking turns."""
    engine = db.connect(url)
    rng = random.Random(seed)
    times: list[float] = []
    while len(times) < labels:
        token = add_annotator(engine, f"w{len(times)}-{uuid.uuid4().hex[:6]}")
        screen = flow.view(engine, token, rng)
        for _ in range(SWITCH_EVERY):
            if screen.task is None or len(times) >= labels:
                break
            t0 = time.perf_counter()
            screen = answer(engine, token, screen.task, rng)
            times.append(time.perf_counter() - t0)
    engine.dispose()
    return times


def crowd(url: str, workers: int, seconds: float) -> tuple[list[float], float]:
    """``workers`` threads labelling for ``seconds``: answer times and labels per second."""
    engine = db.connect(url)
    tokens = [add_annotator(engine, f"crowd{i}-{uuid.uuid4().hex[:6]}") for i in range(workers)]
    times: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def work(token: str) -> None:
        rng = random.Random(token)
        screen = flow.view(engine, token)
        while screen.task is not None and time.perf_counter() < deadline:
            t0 = time.perf_counter()
            screen = answer(engine, token, screen.task, rng)
            with lock:
                times.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=work, args=(t,)) for t in tokens]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    engine.dispose()
    return times, len(times) / wall


def pg_database(server: str) -> str:
    """A fresh database on the PostgreSQL server; its URL."""
    name = f"scale_{uuid.uuid4().hex[:10]}"
    admin = create_engine(db.resolve_url(f"{server}/postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server}/{name}"


def ms(times: list[float], q: float) -> float:
    return float(np.percentile(np.array(times) * 1000, q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1200, 12_000, 120_000])
    ap.add_argument("--labels", type=int, default=100, help="timed answers per size")
    ap.add_argument("--pg", default=None, metavar="URL", help="a PostgreSQL server to use too")
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=30, help="length of each crowd run")
    ap.add_argument("--task", choices=["ssa", "pairs"], default="ssa", help="the kind timed")
    args = ap.parse_args()
    print("database    items  workers  p50 ms  p95 ms  labels/s")
    p95: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            url = f"sqlite:///{tmp}/scale-{size}.db"
            build(url, size, args.task)
            times = one_worker(url, args.labels, size)
            p95[size] = ms(times, 95)
            print(f"sqlite  {size:9d} {1:8d} {ms(times, 50):7.1f} {p95[size]:7.1f}         -")
            if args.pg:
                url = pg_database(args.pg)
                build(url, size, args.task)
                times = one_worker(url, args.labels, size)
                print(
                    f"postgres{size:9d} {1:8d} {ms(times, 50):7.1f} {ms(times, 95):7.1f}         -"
                )
                times, rate = crowd(url, args.workers, args.seconds)
                print(
                    f"postgres{size:9d} {args.workers:8d} {ms(times, 50):7.1f} "
                    f"{ms(times, 95):7.1f} {rate:9.1f}"
                )
    small, large = min(p95), max(p95)
    ratio = p95[large] / p95[small]
    met = p95[large] <= 20 and ratio <= 1.5
    print(
        f"SQLite, one worker: p95 at {large} items / p95 at {small}: {ratio:.1f}x; "
        f"targets (p95 <= 20 ms at {large}, ratio <= 1.5): {'met' if met else 'MISSED'}"
    )
    if not args.pg:
        print("PostgreSQL rows: give --pg URL of a server the bench may create databases on")


if __name__ == "__main__":
    main()
