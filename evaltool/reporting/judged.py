"""``report --judge NAME``: judge-assisted SSA beside people's (prediction-powered inference).

A judge labels every item; people label the items of a random share of contexts
(``annotation.human_share``). Per system the estimate of sensibleness, specificity and SSA is
PPI++ (``ppi``): the judge's mean over the items people did not label, corrected by people's
labels minus the judge's where they did. It is valid whatever the judge's bias because the
people's items are a uniformly random sample, so the estimates are refused (one line, saying
why) when they are not: no share drawn, items of the share still short of labels, items the
judge has not labelled. Gold items are not items of a system (never drawn, never judged);
with adaptive overlap an item's vote is taken when it is decided, as in the human-only table.

Beside each estimate: the human-only interval on the same labels (Wilson's for rates, the
z-interval for SSA and differences), and how many people's labels that interval would have
needed to be as narrow. Judge-human agreement (accuracy, Cohen's kappa, confusion table) on
every item that has both, and each system's judge bias (judge minus people on the share),
with a flag on a system whose bias differs from the others'.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from evaltool.reporting import active, ppi
from evaltool.reporting.tables import order_pairs
from evaltool.storage.contexts import resolve_dataset
from evaltool.storage.db import session_scope
from evaltool.storage.judging import chances_of, draw_of, get_judge, items, judge_frame
from evaltool.storage.schema import Judge

METRICS = ("sensibleness", "specificity", "ssa")
RATES = ("sensibleness", "specificity")  # 0/1 per item: score intervals


def build(
    engine: Engine,
    dataset: str,
    voted: pd.DataFrame,
    names: dict[int, str],
    judge_name: str,
    confidence: float,
    compare: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The judge-assisted section of report.json. ``voted``: the report's items (system_id,
    context_id, labels, sensible, specific, included)."""
    with session_scope(engine, readonly=True) as s:
        ds = resolve_dataset(s, dataset)
        judge = get_judge(s, judge_name)
        population = items(s, ds.id)
        said = judge_frame(s, judge.id, ds.id)
        draw, drawn = draw_of(s, ds.id)
        share = None if draw is None else _share_record(s, draw)
        chances = chances_of(s, draw.id) if share and share["design"] == "active" else None
        about = {
            "name": judge.name,
            "kind": judge.kind,
            "model": judge.model,
            "revision": judge.revision,
            "prompt_version": judge.prompt_version,
            "settings": judge.settings,
            "thresholds": {
                "sensible": judge.threshold_sensible,
                "specific": judge.threshold_specific,
            },
        }
    frame = item_frame(population, said, voted, drawn)
    if chances is not None:
        frame["chance"] = frame["context_id"].map(chances)
    section: dict[str, Any] = {
        "judge": about,
        "human_share": share,
        "estimator": "ipw-ppi++" if chances is not None else "ppi++",
        "agreement": _agreement(frame, about["thresholds"]),
        "refused": _refusal(frame, draw is not None, ds.name),
        "systems": [],
        "comparisons": [],
    }
    for system_id, name in names.items():
        own = frame[frame["system_id"] == system_id]
        section["systems"].append({"name": name, **_system(own, confidence, section["refused"])})
    section["bias_flags"] = _bias_flags(section["systems"])
    if section["refused"] is None:
        ids = list(names)
        for a, b in order_pairs([names[i] for i in ids], compare):
            section["comparisons"].append(
                {
                    "a": names[ids[a]],
                    "b": names[ids[b]],
                    **_paired(frame, ids[a], ids[b], confidence),
                }
            )
    return section


def _share_record(s: Any, draw: Any) -> dict[str, Any]:
    """How the human share was drawn, for report.json."""
    judge = s.get(Judge, draw.judge_id) if draw.judge_id is not None else None
    return {
        "design": draw.design,
        "seed": draw.seed,
        "share": draw.share,
        "contexts": draw.contexts,
        "judge": judge.name if judge is not None else None,
        "floor": draw.floor,
        "pilot": draw.pilot,
    }


def item_frame(
    population: pd.DataFrame, said: pd.DataFrame, voted: pd.DataFrame, drawn: set[int]
) -> pd.DataFrame:
    """One row per item: the judge's predictions (NaN when not judged), people's votes (NaN
    when not voted or short of labels), and whether its context is in the human share."""
    frame = population.merge(
        said[["response_id", "p_sensible", "p_specific"]], on="response_id", how="left"
    )
    frame["hat_sensibleness"] = frame["p_sensible"]
    frame["hat_specificity"] = frame["p_sensible"] * frame["p_specific"].fillna(0.0)
    frame["hat_ssa"] = (frame["hat_sensibleness"] + frame["hat_specificity"]) / 2
    kept = voted[voted["included"]][["system_id", "context_id", "labels", "sensible", "specific"]]
    frame = frame.merge(kept, on=["system_id", "context_id"], how="left")
    frame["sensibleness"] = frame["sensible"].astype(float)
    frame["specificity"] = frame["specific"].astype(float)
    frame["ssa"] = (frame["sensibleness"] + frame["specificity"]) / 2
    frame["drawn"] = frame["context_id"].isin(drawn)
    return frame


def _refusal(frame: pd.DataFrame, has_draw: bool, dataset: str) -> str | None:
    """Why the judge-assisted estimates cannot be made, or None."""
    if not has_draw:
        return (
            f"people's labels on {dataset!r} are not a random share (none was drawn before they "
            "labelled: draw the human share first), so judge and people cannot be combined"
        )
    if "chance" in frame and frame["chance"].isna().any():
        late = int(frame["chance"].isna().sum())
        return (
            f"{late} items are on contexts the active draw gave no chance (added after it); "
            "draw the human share again"
        )
    unjudged = int(frame["p_sensible"].isna().sum())
    if unjudged:
        return f"the judge has not labelled {unjudged} of {len(frame)} items; run it to the end"
    short = int((frame["drawn"] & frame["sensibleness"].isna()).sum())
    if short:
        return (
            f"{short} of {int(frame['drawn'].sum())} items of the human share are short of "
            "labels; the share is a random sample only once all of it is labelled"
        )
    return None


def _system(own: pd.DataFrame, confidence: float, refused: str | None) -> dict[str, Any]:
    """A system's judge-assisted and human-only estimates and its judge bias."""
    share = own[own["drawn"] & own["sensibleness"].notna() & own["p_sensible"].notna()]
    rest = own[~own["drawn"]]
    out: dict[str, Any] = {
        "items": len(own),
        "human_items": len(share),
        "human_labels": int(share["labels"].sum()) if len(share) else 0,
        "bias": {},
    }
    for m in METRICS:
        if len(share) >= 2:
            out["bias"][m] = _bias(own if "chance" in own else share, m, confidence)
    out["correlation"] = correlation(share["ssa"].to_numpy(float), share["hat_ssa"].to_numpy(float))
    if refused is not None or len(share) < 2 or not len(rest):
        return out
    for m in METRICS:  # an active share weighs every item; a uniform one splits them
        out[m] = (
            _metric_active(own, m, confidence)
            if "chance" in own
            else _metric(share, rest, m, confidence)
        )
    ssa = out["ssa"]
    needed = ppi.equivalent_labels(out["human_labels"], ssa["human_only_width"], ssa["width"])
    out["human_labels_without_judge"] = round(needed)
    return out


def _bias(rows: pd.DataFrame, m: str, confidence: float) -> dict[str, Any]:
    """The judge's mean minus people's, on the share (uniform), or over every item weighting
    people's by one over their context's chance (active: the share leans to unsure items)."""
    gap = (rows[f"hat_{m}"] - rows[m]).to_numpy(float)
    if "chance" in rows:
        labelled = (rows["drawn"] & rows[m].notna()).to_numpy()
        pi, zero = rows["chance"].to_numpy(float), np.zeros(len(rows))
        est, low, high, se, _ = active.ipw_mean(gap, zero, pi, labelled, confidence, lam=0.0)
    else:
        est, low, high, se = ppi.classical_mean(gap, confidence)
    return {**_interval(float(est), float(low), float(high), lo=-1.0), "se": float(se)}


def correlation(y: np.ndarray, yhat: np.ndarray) -> float | None:
    """Pearson's correlation of people's item SSA with the judge's (what ``plan --judge-rho``
    takes), None when either is constant or there are fewer than 3 items.

    >>> correlation(np.array([0, 0.5, 1, 1]), np.array([0.1, 0.4, 0.9, 0.8]))
    0.989
    """
    if len(y) < 3 or np.std(y) == 0 or np.std(yhat) == 0:
        return None
    return round(float(np.corrcoef(y, yhat)[0, 1]), 3)


def _metric(share: pd.DataFrame, rest: pd.DataFrame, m: str, confidence: float) -> dict[str, Any]:
    y, yhat = share[m].to_numpy(float), share[f"hat_{m}"].to_numpy(float)
    unlabelled = rest[f"hat_{m}"].to_numpy(float)
    if m in RATES:
        est, low, high, lam = ppi.ppi_rate(y, yhat, unlabelled, confidence)
        _, h_low, h_high, _ = ppi.ppi_rate(y, yhat, unlabelled, confidence, lam=0.0)
    else:
        est, low, high, _, lam = ppi.ppi_mean(y, yhat, unlabelled, confidence)
        _, h_low, h_high, _ = ppi.classical_mean(y, confidence)
    return {
        **_interval(float(est), float(low), float(high)),
        "lam": float(lam),
        "width": float(high - low),
        "human_only": _interval(float(np.mean(y)), float(h_low), float(h_high)),
        "human_only_width": float(h_high - h_low),
    }


def _metric_active(own: pd.DataFrame, m: str, confidence: float) -> dict[str, Any]:
    """A system's estimate under an active share: inverse-probability-weighted PPI++ with a
    score interval, and people's labels alone weighted the same way (the judge's weight 0)."""
    labelled = (own["drawn"] & own[m].notna()).to_numpy()
    args = (own[m].to_numpy(float), own[f"hat_{m}"].to_numpy(float), own["chance"].to_numpy(float))
    halves = m not in RATES
    est, low, high, _, lam = active.ipw_score(*args, labelled, confidence, halves=halves)
    h_est, h_low, h_high, _, _ = active.ipw_score(*args, labelled, confidence, 0.0, halves)
    return {
        **_interval(float(est), float(low), float(high)),
        "lam": float(lam),
        "width": float(high - low),
        "human_only": _interval(float(h_est), float(h_low), float(h_high)),
        "human_only_width": float(h_high - h_low),
    }


def _paired_active(both: pd.DataFrame, confidence: float) -> dict[str, Any]:
    """The SSA difference under an active share (``active.ipw_difference``)."""
    labelled = (both["drawn"] & both["ssa_a"].notna() & both["ssa_b"].notna()).to_numpy()
    if labelled.sum() < 2:
        return {"ssa": None}
    a = (both["ssa_a"].to_numpy(float), both["hat_ssa_a"].to_numpy(float))
    b = (both["ssa_b"].to_numpy(float), both["hat_ssa_b"].to_numpy(float))
    pi = both["chance"].to_numpy(float)
    est, low, high = active.ipw_difference(a, b, pi, labelled, confidence)
    h_est, h_low, h_high = active.ipw_difference(a, b, pi, labelled, confidence, lam=0.0)
    return {
        "ssa": {
            "difference": float(est),
            "ci_low": float(low),
            "ci_high": float(high),
            "human_only": {
                "difference": float(h_est),
                "ci_low": float(h_low),
                "ci_high": float(h_high),
            },
        }
    }


def _paired(frame: pd.DataFrame, a: int, b: int, confidence: float) -> dict[str, Any]:
    """SSA difference a minus b over the contexts both answered, judge-assisted and human-only."""
    cols = ["context_id", "drawn", "ssa", "hat_ssa"] + (["chance"] if "chance" in frame else [])
    keys = [c for c in ("context_id", "drawn", "chance") if c in cols]
    both = frame[frame["system_id"] == a][cols].merge(
        frame[frame["system_id"] == b][cols], on=keys, suffixes=("_a", "_b")
    )
    if "chance" in both:
        return _paired_active(both, confidence)
    d = (both["ssa_a"] - both["ssa_b"]).to_numpy(float)
    d_hat = (both["hat_ssa_a"] - both["hat_ssa_b"]).to_numpy(float)
    labelled = both["drawn"].to_numpy() & ~np.isnan(d)
    if labelled.sum() < 2 or (~both["drawn"]).sum() < 1:
        return {"ssa": None}
    est, low, high, _, lam = ppi.ppi_mean(
        d[labelled], d_hat[labelled], d_hat[~both["drawn"].to_numpy()], confidence
    )
    h_est, h_low, h_high, _ = ppi.classical_mean(d[labelled], confidence)
    return {
        "ssa": {
            "difference": float(est),
            "ci_low": float(low),
            "ci_high": float(high),
            "lam": float(lam),
            "human_only": {
                "difference": float(h_est),
                "ci_low": float(h_low),
                "ci_high": float(h_high),
            },
        }
    }


def _interval(estimate: float, low: float, high: float, lo: float = 0.0) -> dict[str, Any]:
    """An estimate with its interval clipped to what the quantity can be ([lo, 1])."""
    return {"estimate": estimate, "ci_low": max(low, lo), "ci_high": min(high, 1.0)}


def _bias_flags(systems: list[dict[str, Any]]) -> list[str]:
    """Systems whose SSA bias differs from the systems' median bias by more than 1.96 standard
    errors (its own and a typical other's): a judge that favours or disfavours one model. The
    median, not the mean of the others, so that one favoured system does not make the rest
    look disfavoured."""
    have = [s for s in systems if "ssa" in s["bias"]]
    if len(have) < 2:
        return []
    biases = [s["bias"]["ssa"]["estimate"] for s in have]
    middle = float(np.median(biases))
    flags = []
    for s in have:
        others = [o["bias"]["ssa"]["se"] for o in have if o is not s]
        gap = s["bias"]["ssa"]["estimate"] - middle
        if abs(gap) > 1.96 * float(np.hypot(s["bias"]["ssa"]["se"], np.median(others))):
            flags.append(s["name"])
    return flags


def _agreement(frame: pd.DataFrame, thresholds: dict[str, float]) -> dict[str, Any]:
    """Per question, on every item with a vote and a judge label: accuracy, Cohen's kappa and
    the confusion table (rows: people no/yes; columns: judge no/yes)."""
    both = frame[frame["sensibleness"].notna() & frame["p_sensible"].notna()]
    judge_sensible = both["p_sensible"].to_numpy(float) >= thresholds["sensible"]
    judge_specific = judge_sensible & (
        both["p_specific"].fillna(0.0).to_numpy(float) >= thresholds["specific"]
    )
    out = {}
    for question, people, judge in (
        ("sensible", both["sensibleness"].to_numpy(float) == 1, judge_sensible),
        ("specific", both["specificity"].to_numpy(float) == 1, judge_specific),
    ):
        out[question] = agreement_of(people, judge)
    return out


def agreement_of(people: np.ndarray, judge: np.ndarray) -> dict[str, Any]:
    """Accuracy, Cohen's kappa and the 2x2 table of two yes/no raters.

    >>> a = agreement_of(np.array([1, 1, 0, 0], bool), np.array([1, 0, 0, 0], bool))
    >>> a["accuracy"], round(a["kappa"], 3), a["confusion"]
    (0.75, 0.5, [[2, 0], [1, 1]])
    """
    n = len(people)
    table = [
        [int(np.sum(~people & ~judge)), int(np.sum(~people & judge))],
        [int(np.sum(people & ~judge)), int(np.sum(people & judge))],
    ]
    if n == 0:
        return {"items": 0, "accuracy": None, "kappa": None, "confusion": table}
    observed = (table[0][0] + table[1][1]) / n
    expected = (np.mean(people) * np.mean(judge)) + (np.mean(~people) * np.mean(~judge))
    kappa = None if expected == 1 else float((observed - expected) / (1 - expected))
    return {"items": n, "accuracy": observed, "kappa": kappa, "confusion": table}
