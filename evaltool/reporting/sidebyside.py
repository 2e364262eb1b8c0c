"""The report's pairwise section: people's answers on pair items turned into win/tie/loss,
win rates, Bradley-Terry strengths with ranks, the position bias and agreement (the numbers
are ``reporting.pairwise``'s); its Markdown and the win-rate matrix plot.

Every counted answer is one comparison (Chatbot Arena's rule; with k answers per item the
bootstrap resamples contexts, so their dependence is allowed for). Flagged raters' answers
and gold pairs are left out. Strengths are log-odds from the anchor system (0), also shown on
Arena's Elo-like scale (1000 + 400 log10-odds).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaltool import __version__
from evaltool.errors import UserError
from evaltool.reporting import pairwise as pw

ELO_BASE, ELO_SCALE = 1000.0, 400.0 / math.log(10)
SCORE = {"a": 1.0, "b": 0.0, "tie": 0.5}


def scores(frame: pd.DataFrame) -> np.ndarray:
    """Each answer as the score of the item's system ``a`` (1, 0.5 or 0)."""
    left = frame["side"] == "left"
    a_won = np.where(frame["a_left"], left, frame["side"] == "right")
    return np.where(frame["side"] == "tie", 0.5, a_won.astype(float))


def comparisons(frame: pd.DataFrame, names: list[str]) -> pw.Comparisons:
    """The answers as comparisons of systems indexed by ``names``; each chat pair (no shared
    context) is its own resampling unit."""
    index = {n: i for i, n in enumerate(names)}
    unit = frame["context_id"].fillna(-frame["pair_id"]).astype(np.int64)
    return pw.Comparisons.of(
        unit,
        frame["model_a"].map(index),
        frame["model_b"].map(index),
        scores(frame),
        frame["a_left"],
    )


def _kept(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[~frame["flagged"] & frame["expected"].isna()]


def section(
    frame: pd.DataFrame,
    anchor: str | None,
    resamples: int,
    seed: int,
    confidence: float,
) -> dict[str, Any] | None:
    """The pairwise section of report.json, or None without pair answers."""
    kept = _kept(frame)
    if kept.empty:
        return None
    names = sorted(set(kept["model_a"]) | set(kept["model_b"]))
    anchor = anchor if anchor in names else names[0]
    c = comparisons(kept, names)
    out: dict[str, Any] = {
        "anchor": anchor,
        "answers": len(kept),
        "items": int(kept["pair_id"].nunique()),
        "units": len(np.unique(c.context)),
        "raters": int(kept["annotator_id"].nunique()),
        "left_out": {
            "flagged": int(frame["flagged"].sum()),
            "gold": int(frame["expected"].notna().sum()),
        },
        "pairs": [_record(r, names) for r in pw.records(c, len(names), confidence)],
        "systems": [],
        "position_bias": vars(pw.position_bias(c, confidence)),
        "agreement": pw.agreement(_answer_matrix(kept)),
        "notes": [],
    }
    if not pw.connected(c, len(names)):
        out["notes"].append("the comparisons do not link every system: no strengths")
        return out
    fitted = pw.strengths(
        c, len(names), anchor=names.index(anchor), resamples=resamples, seed=seed,
        confidence=confidence,
    )  # fmt: skip
    per_system = pd.concat([kept["model_a"], kept["model_b"]]).value_counts()
    out["systems"] = sorted(
        (_strength(s, names, int(per_system.get(names[s.system], 0))) for s in fitted),
        key=lambda e: (-e["strength"], e["name"]),
    )
    return out


def with_judge(
    engine: Any, dataset: str, frame: pd.DataFrame, settings: Any
) -> dict[str, Any] | None:
    """The section from people's answers, with the judge's (``settings.judge``) inside it
    when it compared pairs; None when neither answered any."""
    args = (settings.anchor, settings.resamples, settings.seed, settings.confidence)
    found = section(frame, *args)
    mine = judged(engine, dataset, settings.judge, frame, *args) if settings.judge else None
    if mine is not None:
        found = found or {
            "anchor": settings.anchor, "answers": 0, "items": 0, "units": 0, "raters": 0,
            "left_out": {"flagged": 0, "gold": 0}, "pairs": [], "systems": [],
            "position_bias": {"left_share": None}, "agreement": {"raw": None},
            "notes": ["no people's answers on pair items yet"],
        }  # fmt: skip
        found["judged"] = mine
    return found


def pairs_only(engine: Any, dataset: str, frame: pd.DataFrame, settings: Any) -> dict[str, Any]:
    """``report --pairs-only``: the side-by-side section and what it was computed with."""
    found = with_judge(engine, dataset, frame, settings)
    if found is None:
        raise UserError(
            f"dataset {dataset!r} has no pair answers yet: make pair items and label them first",
            step="make-pairs",
        )
    return {
        "evaltool_version": __version__,
        "dataset": dataset,
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "settings": {**asdict(settings), "compare": None},
        "simulated": bool((frame["source"] == "simulated").any()),
        "pairwise": found,
    }


def judged(
    engine: Any, dataset: str, name: str, people: pd.DataFrame, anchor: str | None,
    resamples: int, seed: int, confidence: float,
) -> dict[str, Any] | None:  # fmt: skip
    """The judge's side of the section: its strengths from its verdicts (one comparison an
    item), how often its verdict flipped with the side (counted as ties), and how often it
    agreed with people's majority on items both answered; None when it compared no pairs."""
    from evaltool.storage.contexts import resolve_dataset
    from evaltool.storage.db import session_scope
    from evaltool.storage.judging import get_judge, judge_pair_frame

    with session_scope(engine, readonly=True) as s:
        verdicts = judge_pair_frame(s, get_judge(s, name).id, resolve_dataset(s, dataset).id)
    if verdicts.empty:
        return None
    as_answers = verdicts.assign(
        side=verdicts["winner"].map({"a": "left", "b": "right", "tie": "tie"}),
        a_left=True, flagged=False, expected=None, annotator_id=0,
    )  # fmt: skip
    found = section(as_answers, anchor, resamples, seed, confidence)
    assert found is not None
    flips = int((verdicts["first"] != verdicts["second"]).sum())
    mine = verdicts.set_index("pair_id")["winner"].map(SCORE)
    kept = _kept(people)
    majority = kept.assign(score=scores(kept)).groupby("pair_id")["score"].mean()
    majority = np.sign(majority - 0.5)
    both = majority.index.intersection(mine.index)
    agree = float((np.sign(mine[both] - 0.5) == majority[both]).mean()) if len(both) else None
    return {
        "judge": name,
        "verdicts": len(verdicts),
        "flipped": flips,
        "flip_share": flips / len(verdicts),
        "systems": found["systems"],
        "pairs": found["pairs"],
        "agreement_with_people": agree,
        "items_both": len(both),
    }


def _record(r: pw.PairRecord, names: list[str]) -> dict[str, Any]:
    return {
        "model_a": names[r.a],
        "model_b": names[r.b],
        "wins": r.wins,
        "ties": r.ties,
        "losses": r.losses,
        "win_rate": r.rate,
        "ci_low": r.low,
        "ci_high": r.high,
    }


def _strength(s: pw.Strength, names: list[str], comparisons: int) -> dict[str, Any]:
    def elo(x: float | None) -> float | None:
        return None if x is None else ELO_BASE + ELO_SCALE * x

    return {
        "name": names[s.system],
        "strength": s.strength,
        "ci_low": s.low,
        "ci_high": s.high,
        "elo": elo(s.strength),
        "elo_low": elo(s.low),
        "elo_high": elo(s.high),
        "rank": s.rank,
        "rank_low": s.rank_low,
        "rank_high": s.rank_high,
        "comparisons": comparisons,
    }


def _answer_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Items x raters of the score of system ``a``, NaN where a rater did not answer."""
    table = frame.assign(score=scores(frame)).pivot_table(
        index="pair_id", columns="annotator_id", values="score", aggfunc="first"
    )
    return table.to_numpy(dtype=float)


def markdown(p: dict[str, Any], confidence: float) -> list[str]:
    """The pairwise section of report.md."""
    ci = f"{confidence:.0%} CI"
    lines = [
        "## Side by side",
        "",
        f"{p['answers']} answers on {p['items']} pair items from {p['raters']} raters "
        f"({p['units']} contexts resampled). Ties count as half a win.",
        "",
    ]
    if p["systems"]:
        lines += [
            f"Bradley-Terry strength (log-odds against {p['anchor']}; Arena scale in brackets), "
            f"{ci} from the context bootstrap; rank: one plus the systems surely better.",
            "",
            "| Rank | System | Strength | " + ci + " | Arena scale | Comparisons |",
            "|---:|---|---:|---|---:|---:|",
        ]
        for s in p["systems"]:
            rank = (
                str(s["rank_low"])
                if s["rank_low"] == s["rank_high"]
                else (f"{s['rank_low']}-{s['rank_high']}")
            )
            lines.append(
                f"| {rank} | {s['name']} | {s['strength']:+.3f} | "
                f"{s['ci_low']:+.3f} to {s['ci_high']:+.3f} | {s['elo']:.0f} | "
                f"{s['comparisons']} |"
            )
        lines.append("")
    lines += [
        "| A | B | A wins | Ties | B wins | A's win rate (" + ci + ") |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in p["pairs"]:
        lines.append(
            f"| {r['model_a']} | {r['model_b']} | {r['wins']} | {r['ties']} | {r['losses']} | "
            f"{r['win_rate']:.3f} ({r['ci_low']:.3f}-{r['ci_high']:.3f}) |"
        )
    bias = p["position_bias"]
    if bias["left_share"] is not None:
        lines += [
            "",
            f"Position bias: the reply shown left won {bias['left_share']:.1%} of "
            f"{bias['decided']} decided answers ({ci} {bias['low']:.1%}-{bias['high']:.1%}; "
            "50% is none; sides are drawn at random per item).",
        ]
    agree = p["agreement"]
    if agree["raw"] is not None:
        alpha = agree["krippendorff_alpha"]
        lines.append(
            f"Agreement on A / B / tie: raw {agree['raw']:.3f}, Krippendorff's alpha "
            + ("n/a" if alpha is None else f"{alpha:.3f}")
            + "."
        )
    lines += [f"- {n}" for n in p["notes"]]
    if p.get("judged"):
        lines += _judged_markdown(p["judged"])
    return lines


def _judged_markdown(j: dict[str, Any]) -> list[str]:
    """The judge's strengths, flips and agreement with people."""
    agree = j["agreement_with_people"]
    lines = [
        "",
        f"### Judge {j['judge']}",
        "",
        f"{j['verdicts']} pair items compared, each asked twice with the sides swapped; "
        f"{j['flipped']} verdicts ({j['flip_share']:.1%}) flipped with the side and count as "
        "ties. "
        + (
            f"It agreed with people's majority on {agree:.1%} of {j['items_both']} items both "
            "answered."
            if agree is not None
            else "No item has both its verdict and people's answers."
        ),
        "",
        "| System | Judge's strength | Interval |",
        "|---|---:|---|",
    ]
    for s in j["systems"]:
        lines.append(
            f"| {s['name']} | {s['strength']:+.3f} | {s['ci_low']:+.3f} to {s['ci_high']:+.3f} |"
        )
    return lines


def matrix_plot(p: dict[str, Any], path: Path) -> None:
    """The win-rate matrix: row system's win rate against the column system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s["name"] for s in p["systems"]] or sorted(
        {r["model_a"] for r in p["pairs"]} | {r["model_b"] for r in p["pairs"]}
    )
    index = {n: i for i, n in enumerate(names)}
    m = np.full((len(names), len(names)), np.nan)
    for r in p["pairs"]:
        i, j = index[r["model_a"]], index[r["model_b"]]
        m[i, j], m[j, i] = r["win_rate"], 1 - r["win_rate"]
    fig, ax = plt.subplots(figsize=(1.1 * len(names) + 2.5, 0.9 * len(names) + 1.8))
    ax.imshow(m, cmap="RdBu", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            if not np.isnan(m[i, j]):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_title("Win rate of row over column (ties half)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
