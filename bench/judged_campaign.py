"""A judged campaign end to end through evaltool's own commands, with simulated people and a
simulated judge: how many people's labels the judge saves for the same SSA interval width.

1,477 contexts (Meena's count) answered by two baselines (``generate``); each item gets a
hidden truth (sensible with 0.7 or 0.6, specific given sensible with 0.6) and three raters'
labels, each right 90% of the time. People: the share ``collection --human-share`` draws,
its labels brought in with ``labels import``; the SSA their votes would give over every item
is what the intervals should hold. Judge: probabilities that see the truth through
noise (correlation with people's votes printed), stored as a judge's labels. Then ``report
--judge`` gives the judge-assisted SSA beside people's alone, and the labels people alone
would have needed for the same width. Baseline in the same run: the human-only interval.

    .venv/bin/python bench/judged_campaign.py [--share 0.1] [--noise 2.2] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaltool.storage import db  # noqa: E402
from evaltool.storage.judging import draw_of, judge_for, store_judge_labels  # noqa: E402
from evaltool.storage.schema import Context, Response, System  # noqa: E402

CONTEXTS = 1477
RATES = {"generic": 0.7, "echo": 0.6}  # hidden share sensible per system


def evaltool(folder: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "evaltool", *args, "--db", f"sqlite:///{folder / 'e.db'}"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"evaltool {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def build(folder: Path, share: float, seed: int) -> None:
    lines = [
        json.dumps({"id": f"c{i}", "turns": [f"реплика {i}", f"ответ {i}"]}, ensure_ascii=False)
        for i in range(CONTEXTS)
    ]
    (folder / "contexts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    evaltool(folder, "init")
    evaltool(folder, "contexts", "import", str(folder / "contexts.jsonl"), "--dataset", "meena")
    for name in RATES:
        evaltool(folder, "generate", "--model", f"baseline:{name}")
    evaltool(
        folder, "collection", "--overlap", "3", "--human-share", str(share), "--seed", str(seed)
    )


def simulate(folder: Path, noise: float, seed: int) -> tuple[dict[str, float], float]:
    """People's labels on the share (imported) and the judge's on every item (stored); the
    SSA people's votes would give over every item, per system, and the judge's correlation
    with people's item scores on the share."""
    rng = np.random.default_rng(seed)
    engine = db.make_engine(f"sqlite:///{folder / 'e.db'}")
    with db.session_scope(engine) as s:
        rows = s.execute(
            select(Response.id, System.name, Context.external_id, Context.id)
            .join(System, System.id == Response.system_id)
            .join(Context, Context.id == Response.context_id)
            .where(Response.rank == 0)
        ).all()
        _, drawn = draw_of(s, 1)
        judge = judge_for(
            s,
            {
                "name": "sim",
                "kind": "llm",
                "model": "simulated",
                "prompt_version": "-",
                "settings": {},
            },
        )
        labels, verdicts, pairs = [], [], []
        everyone: dict[str, list[float]] = {n: [] for n in RATES}
        for rid, name, external, context_id in rows:
            sensible = rng.random() < RATES[name]
            specific = sensible and rng.random() < 0.6
            p_s = 1 / (1 + np.exp(-(2 * sensible - 1) * 2 + rng.normal(0, noise)))
            p_sp = 1 / (1 + np.exp(-(2 * specific - 1) * 2 + rng.normal(0, noise)))
            verdicts.append({"response_id": rid, "p_sensible": p_s, "p_specific": p_sp})
            said = []
            for _ in range(3):
                right = rng.random() < 0.9
                said_s = sensible if right else not sensible
                said_sp = said_s and (specific if rng.random() < 0.9 else not specific)
                said.append((bool(said_s), bool(said_sp)))
            vote_s = sum(a for a, _ in said) >= 2
            vote_sp = vote_s and sum(b for _, b in said) >= 2
            everyone[name].append((vote_s + vote_sp) / 2)
            if context_id in drawn:
                labels += [
                    {
                        "context_id": external,
                        "system": name,
                        "annotator": f"rater{r}",
                        "sensible": a,
                        "specific": b,
                    }
                    for r, (a, b) in enumerate(said)
                ]
                pairs.append(((vote_s + vote_sp) / 2, (p_s + p_s * p_sp) / 2))
        store_judge_labels(s, judge.id, verdicts)
    path = folder / "labels.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in labels) + "\n", encoding="utf-8")
    evaltool(folder, "labels", "import", str(path))
    y, yhat = np.array(pairs).T
    return {n: float(np.mean(v)) for n, v in everyone.items()}, float(np.corrcoef(y, yhat)[0, 1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--share", type=float, default=0.1)
    ap.add_argument("--noise", type=float, default=2.2, help="The judge's noise (logit scale).")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="evaltool-judged-") as name:
        folder = Path(name)
        build(folder, args.share, args.seed)
        truth, rho = simulate(folder, args.noise, args.seed)
        evaltool(folder, "report", "--judge", "sim", "--resamples", "2000", "--out", "r")
        section = json.loads((folder / "r/report.json").read_text())["judged"]
    print(
        f"{CONTEXTS} contexts, 2 systems, people on {section['human_share']['contexts']} "
        f"contexts (3 labels each), judge-human correlation {rho:.2f} (SSA per item)"
    )
    print(
        "system   SSA, every item voted  judge-assisted SSA     people alone           labels  "
        "people alone would need"
    )
    for s in section["systems"]:
        j, h = s["ssa"], s["ssa"]["human_only"]
        print(
            f"{s['name']:<8} {truth[s['name']]:21.3f}  {j['estimate']:.3f} [{j['ci_low']:.3f}, "
            f"{j['ci_high']:.3f}]  {h['estimate']:.3f} [{h['ci_low']:.3f}, {h['ci_high']:.3f}]"
            f"  {s['human_labels']:6d}  {s['human_labels_without_judge']:6d}"
        )
    if section["refused"]:
        print("refused:", section["refused"])


if __name__ == "__main__":
    main()
