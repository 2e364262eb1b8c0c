"""``evaltool report``: aggregate labels into the SSA table with CIs, comparisons and agreement.

``build_report`` returns a plain dict (the report.json shape documented in the README);
``evaltool.render`` turns it into Markdown, a plot and items.csv.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from evaltool import __version__
from evaltool.errors import UserError
from evaltool.reporting import stats
from evaltool.storage.contexts import resolve_dataset
from evaltool.storage.db import session_scope
from evaltool.storage.labels import label_frame
from evaltool.storage.project import load_settings
from evaltool.storage.schema import Context, Response, System

KIND_ORDER = {"model": 0, "imported": 1, "baseline": 2}
MIN_RESAMPLES = 1000  # docs/protocol.md, Uncertainty


@dataclass(frozen=True)
class ReportSettings:
    """How the report aggregates and resamples; all of it is written into report.json."""

    resamples: int = 10_000
    seed: int = 0
    confidence: float = 0.95
    method: str = "bca"
    min_labels: int | None = None

    def validate(self) -> ReportSettings:
        """Raise a user error for settings that give no meaningful interval."""
        if self.resamples < MIN_RESAMPLES:
            raise UserError(
                f"must be at least {MIN_RESAMPLES} (docs/protocol.md, Uncertainty)",
                field="resamples",
            )
        if not 0 < self.confidence < 1:
            raise UserError("must be between 0 and 1, e.g. 0.95", field="confidence")
        if self.method not in ("bca", "percentile"):
            raise UserError("must be bca or percentile", field="method")
        if self.min_labels is not None and self.min_labels < 1:
            raise UserError("must be 1 or more", field="min_labels")
        return self


def load_labels(engine: Engine, dataset: str | None) -> tuple[str, pd.DataFrame, pd.DataFrame, int]:
    """All rank-0 labels of the dataset as a frame, the systems, and the project overlap k."""
    with session_scope(engine, readonly=True) as s:
        ds = resolve_dataset(s, dataset)
        overlap = load_settings(s).overlap
        labels = label_frame(s, ds.id)
        systems = s.execute(
            select(System.id, System.name, System.kind, System.settings).where(
                System.id.in_(
                    select(Response.system_id)
                    .join(Context, Context.id == Response.context_id)
                    .where(Context.dataset_id == ds.id, Response.rank == 0)
                )
            )
        ).all()
    sys_frame = pd.DataFrame(
        [(sid, name, kind, (conf or {}).get("decoding")) for sid, name, kind, conf in systems],
        columns=["system_id", "name", "kind", "decoding"],
    )
    sys_frame["order"] = sys_frame["kind"].map(KIND_ORDER)
    sys_frame = sys_frame.sort_values(["order", "name"]).reset_index(drop=True)
    return ds.name, labels, sys_frame, overlap


def items_frame(engine: Engine, dataset: str | None = None) -> pd.DataFrame:
    """One row per item as the report counts it (flagged annotators excluded), for export."""
    _, labels, systems, _ = load_labels(engine, dataset)
    items = aggregate_items(labels[~labels["flagged"]]).merge(systems, on="system_id")
    cols = ["context", "name", "labels", "n_sensible", "n_specific", "sensible", "specific"]
    return items[cols].rename(columns={"context": "context_id", "name": "system"})


def aggregate_items(labels: pd.DataFrame) -> pd.DataFrame:
    """One row per item (system, context): label counts and majority votes."""
    if labels.empty:
        cols = [
            "system_id",
            "context_id",
            "context",
            "labels",
            "n_sensible",
            "n_specific",
            "sensible",
            "specific",
        ]
        return pd.DataFrame(columns=cols)
    items = (
        labels.groupby(["system_id", "context_id", "context"], sort=True)
        .agg(
            labels=("sensible", "size"),
            n_sensible=("sensible", "sum"),
            n_specific=("specific", "sum"),
        )
        .reset_index()
    )
    items["sensible"], items["specific"] = stats.item_votes(
        items["n_sensible"].to_numpy(), items["n_specific"].to_numpy(), items["labels"].to_numpy()
    )
    return items


def _bootstrap_all(
    items: pd.DataFrame, systems: list[int], pairs: list[tuple[int, int]], settings: ReportSettings
) -> tuple[list[Any], list[Any]]:
    """One bootstrap over contexts for all systems and pairs (see ``stats.context_bootstrap``)."""
    if not systems:
        return [], []
    codes = items.assign(code=stats.outcome_codes(items["sensible"], items["specific"]))
    table = (
        codes.pivot_table(index="context_id", columns="system_id", values="code", aggfunc="first")
        .reindex(columns=systems)
        .fillna(-1)
        .to_numpy()
    )
    return stats.context_bootstrap(
        table,
        pairs,
        resamples=settings.resamples,
        seed=settings.seed,
        confidence=settings.confidence,
        method=settings.method,
    )


def _agreement(labels: pd.DataFrame, question: str) -> dict[str, Any]:
    if labels.empty:
        return {
            "items": 0,
            "labels": 0,
            "raw_agreement": None,
            "krippendorff_alpha": None,
            "fleiss_kappa": None,
        }
    matrix = labels.pivot_table(
        index="response_id", columns="annotator_id", values=question, aggfunc="first"
    ).astype(float)
    m = matrix.to_numpy()
    return {
        "items": len(m),
        "labels": len(labels),
        "raw_agreement": stats.raw_agreement(m),
        "krippendorff_alpha": stats.krippendorff_alpha_nominal(m),
        "fleiss_kappa": stats.fleiss_kappa(m),
    }


def _interval_dict(iv: stats.Interval) -> dict[str, Any]:
    return {"estimate": iv.estimate, "ci_low": iv.low, "ci_high": iv.high}


def build_report(
    engine: Engine, dataset: str | None, settings: ReportSettings
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Compute every number of the report; returns (report dict, items frame)."""
    settings = settings.validate()
    name, labels, systems, overlap = load_labels(engine, dataset)
    min_labels = settings.min_labels or overlap
    flagged = labels[labels["flagged"]]
    kept = labels[~labels["flagged"]]
    items = aggregate_items(kept)
    short = items[items["labels"] < min_labels]
    items_ok = items[items["labels"] >= min_labels]
    kept_ok = kept.merge(items_ok[["system_id", "context_id"]], on=["system_id", "context_id"])
    report: dict[str, Any] = {
        "evaltool_version": __version__,
        "dataset": name,
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "settings": {**asdict(settings), "min_labels": min_labels, "overlap": overlap},
        "simulated": bool((labels["source"] == "simulated").any()) if len(labels) else False,
        "systems": [],
        "comparisons": [],
        "agreement": {q: _agreement(kept_ok, q) for q in ("sensible", "specific")},
        "exclusions": {
            "flagged_annotators": sorted(flagged["annotator"].unique().tolist()),
            "labels_from_flagged": len(flagged),
            "items_below_min_labels": len(short),
            "labels_on_those_items": int(short["labels"].sum()) if len(short) else 0,
        },
        "notes": [],
    }
    with_items = set(items_ok["system_id"])
    have = [sid for sid in systems["system_id"] if sid in with_items]
    pairs = list(combinations(range(len(have)), 2))
    ivs, diffs = _bootstrap_all(items_ok, have, pairs, settings)
    for row in systems.itertuples():
        got = ivs[have.index(row.system_id)] if row.system_id in have else None
        report["systems"].append(_system_entry(row, items_ok, kept_ok, got))
    names = dict(zip(systems["system_id"], systems["name"], strict=True))
    for (i, j), d in zip(pairs, diffs, strict=True):
        report["comparisons"].append(_comparison_entry(items_ok, have[i], have[j], names, d))
    if labels.empty:
        report["notes"].append("no labels yet: label items on the annotation page or import them")
    items_out = items.merge(systems[["system_id", "name"]], on="system_id")
    items_out["included"] = items_out["labels"] >= min_labels
    return report, items_out


def _system_entry(
    row: Any, items: pd.DataFrame, labels: pd.DataFrame, got: dict[str, stats.Interval] | None
) -> dict[str, Any]:
    """One system's line of the table; ``got`` holds its intervals (None: no items yet)."""
    sys_items = items[items["system_id"] == row.system_id]
    sys_labels = labels[labels["system_id"] == row.system_id]
    entry: dict[str, Any] = {
        "name": row.name,
        "kind": row.kind,
        "decoding": row.decoding,
        "contexts": sys_items["context_id"].nunique(),
        "items": len(sys_items),
        "labels": len(sys_labels),
    }
    if got is None:
        entry.update({m: None for m in stats.METRICS})
        return {**entry, "label_level": None, "note": "no items with enough labels yet"}
    entry.update({m: _interval_dict(iv) for m, iv in got.items()})
    ls, lp = float(sys_labels["sensible"].mean()), float(sys_labels["specific"].mean())
    entry["label_level"] = {"sensibleness": ls, "specificity": lp, "ssa": (ls + lp) / 2}
    notes = [f"{m}: {iv.note}" for m, iv in got.items() if iv.note]
    entry["note"] = "; ".join(notes) or None
    return entry


def _comparison_entry(
    items: pd.DataFrame, a: int, b: int, names: dict[int, str], d: dict[str, stats.Difference]
) -> dict[str, Any]:
    """The paired comparison of systems ``a`` and ``b`` (difference = a - b)."""
    shared = len(
        set(items.loc[items["system_id"] == a, "context_id"])
        & set(items.loc[items["system_id"] == b, "context_id"])
    )
    comp: dict[str, Any] = {"a": names[a], "b": names[b], "shared_contexts": shared}
    if shared == 0:
        comp.update({m: None for m in stats.METRICS})
        comp["note"] = "no shared contexts: no paired comparison"
        return comp
    for m, x in d.items():
        comp[m] = {
            "difference": x.difference,
            "ci_low": x.low,
            "ci_high": x.high,
            "share_at_or_below_zero": x.share_at_or_below_zero,
        }
    comp["note"] = None if d["ssa"].low is not None else "too few shared contexts for an interval"
    return comp
