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
from evaltool import stats as st
from evaltool.contexts import resolve_dataset
from evaltool.db import session_scope
from evaltool.errors import UserError
from evaltool.project import load_settings
from evaltool.schema import Annotator, Context, Label, Response, System

KIND_ORDER = {"model": 0, "imported": 1, "baseline": 2}


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
        if self.resamples < 1000:
            raise UserError("--resamples must be at least 1000 (PROTOCOL.md)")
        if not 0 < self.confidence < 1:
            raise UserError("--confidence must be between 0 and 1, e.g. 0.95")
        if self.method not in ("bca", "percentile"):
            raise UserError("--method must be bca or percentile")
        if self.min_labels is not None and self.min_labels < 1:
            raise UserError("--min-labels must be 1 or more")
        return self


def load_labels(engine: Engine, dataset: str | None) -> tuple[str, pd.DataFrame, pd.DataFrame, int]:
    """All rank-0 labels of the dataset as a frame, the systems, and the project overlap k."""
    with session_scope(engine, readonly=True) as s:
        ds = resolve_dataset(s, dataset)
        overlap = load_settings(s).overlap
        rows = s.execute(
            select(
                Label.response_id,
                Label.annotator_id,
                Label.sensible,
                Label.specific,
                Label.source,
                Response.context_id,
                Response.system_id,
                Context.external_id,
                Annotator.flagged,
                Annotator.name.label("annotator"),
            )
            .join(Response, Response.id == Label.response_id)
            .join(Context, Context.id == Response.context_id)
            .join(Annotator, Annotator.id == Label.annotator_id)
            .where(Context.dataset_id == ds.id, Response.rank == 0)
        ).all()
        systems = s.execute(
            select(System.id, System.name, System.kind)
            .join(Response, Response.system_id == System.id)
            .join(Context, Context.id == Response.context_id)
            .where(Context.dataset_id == ds.id, Response.rank == 0)
            .distinct()
        ).all()
        ids = [r.id for r in systems]
        rules = {
            sid: (settings or {}).get("decoding")
            for sid, settings in s.execute(
                select(System.id, System.settings).where(System.id.in_(ids))
            )
        }
    columns = [
        "response_id",
        "annotator_id",
        "sensible",
        "specific",
        "source",
        "context_id",
        "system_id",
        "context",
        "flagged",
        "annotator",
    ]
    labels = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    for col in ("sensible", "specific", "flagged"):
        labels[col] = labels[col].astype(bool)
    sys_frame = pd.DataFrame([tuple(r) for r in systems], columns=["system_id", "name", "kind"])
    sys_frame["decoding"] = sys_frame["system_id"].map(rules)
    sys_frame["order"] = sys_frame["kind"].map(KIND_ORDER)
    sys_frame = sys_frame.sort_values(["order", "name"]).reset_index(drop=True)
    return ds.name, labels, sys_frame, overlap


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
    items["sensible"], items["specific"] = st.item_votes(
        items["n_sensible"].to_numpy(), items["n_specific"].to_numpy(), items["labels"].to_numpy()
    )
    return items


def _bootstrap_all(
    items: pd.DataFrame, systems: list[int], pairs: list[tuple[int, int]], boot: dict[str, Any]
) -> tuple[list[Any], list[Any]]:
    """One bootstrap over contexts for all systems and pairs (see ``stats.context_bootstrap``)."""
    if not systems:
        return [], []
    codes = items.assign(code=st.outcome_codes(items["sensible"], items["specific"]))
    table = (
        codes.pivot_table(index="context_id", columns="system_id", values="code", aggfunc="first")
        .reindex(columns=systems)
        .fillna(-1)
        .to_numpy()
    )
    return st.context_bootstrap(table, pairs, **boot)


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
        "raw_agreement": st.raw_agreement(m),
        "krippendorff_alpha": st.krippendorff_alpha_nominal(m),
        "fleiss_kappa": st.fleiss_kappa(m),
    }


def _interval_dict(iv: st.Interval) -> dict[str, Any]:
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
    boot = dict(
        resamples=settings.resamples,
        seed=settings.seed,
        confidence=settings.confidence,
        method=settings.method,
    )
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
    ivs, diffs = _bootstrap_all(items_ok, have, pairs, boot)
    names = dict(zip(systems["system_id"], systems["name"], strict=True))
    for row in systems.itertuples():
        sys_items = items_ok[items_ok["system_id"] == row.system_id]
        sys_labels = kept_ok[kept_ok["system_id"] == row.system_id]
        entry: dict[str, Any] = {
            "name": row.name,
            "kind": row.kind,
            "decoding": row.decoding,
            "contexts": sys_items["context_id"].nunique(),
            "items": len(sys_items),
            "labels": len(sys_labels),
        }
        if row.system_id not in have:
            entry.update({m: None for m in st.METRICS})
            entry["label_level"] = None
            entry["note"] = "no items with enough labels yet"
        else:
            got = ivs[have.index(row.system_id)]
            entry.update({m: _interval_dict(iv) for m, iv in got.items()})
            ls, lp = float(sys_labels["sensible"].mean()), float(sys_labels["specific"].mean())
            entry["label_level"] = {"sensibleness": ls, "specificity": lp, "ssa": (ls + lp) / 2}
            notes = [f"{m}: {iv.note}" for m, iv in got.items() if iv.note]
            entry["note"] = "; ".join(notes) or None
        report["systems"].append(entry)
    for (i, j), d in zip(pairs, diffs, strict=True):
        a, b = have[i], have[j]
        shared = len(
            set(items_ok.loc[items_ok["system_id"] == a, "context_id"])
            & set(items_ok.loc[items_ok["system_id"] == b, "context_id"])
        )
        comp: dict[str, Any] = {"a": names[a], "b": names[b], "shared_contexts": shared}
        if shared == 0:
            comp.update({m: None for m in st.METRICS})
            comp["note"] = "no shared contexts: no paired comparison"
        else:
            comp.update(
                {
                    m: {
                        "difference": x.difference,
                        "ci_low": x.low,
                        "ci_high": x.high,
                        "share_at_or_below_zero": x.share_at_or_below_zero,
                    }
                    for m, x in d.items()
                }
            )
            comp["note"] = (
                None if d["ssa"].low is not None else "too few shared contexts for an interval"
            )
        report["comparisons"].append(comp)
    if labels.empty:
        report["notes"].append("no labels yet: label items on the annotation page or import them")
    items_out = items.merge(systems[["system_id", "name"]], on="system_id")
    items_out["included"] = items_out["labels"] >= min_labels
    return report, items_out
