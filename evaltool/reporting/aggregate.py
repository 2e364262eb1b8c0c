"""``evaltool report``: aggregate labels into the SSA table with CIs, comparisons and agreement.

``build_report`` returns a plain dict (the report.json shape documented in the README);
``reporting.render`` turns it into Markdown, a plot and items.csv.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evaltool import __version__
from evaltool.catalog import REFERENCE_PAIR
from evaltool.errors import UserError
from evaltool.reporting import agreement, ratermodels, sidebyside, stats, tables, votes
from evaltool.reporting.choices import AGGREGATORS, INTERVAL_METHODS
from evaltool.storage.contexts import resolve_dataset
from evaltool.storage.db import session_scope
from evaltool.storage.labels import ITEM_COUNTS, item_counts, label_frame, pair_label_frame
from evaltool.storage.project import load_settings
from evaltool.storage.schema import Context, Response, System
from evaltool.storage.status import skips
from evaltool.storage.systems import perplexities

KIND_ORDER = {"model": 0, "imported": 1, "baseline": 2}
MIN_RESAMPLES = 1000  # docs/protocol.md, Uncertainty


@dataclass(frozen=True)
class ReportSettings:
    """How the report aggregates and resamples; all of it is written into report.json."""

    resamples: int = 10_000
    seed: int = 0
    confidence: float = 0.95
    method: str = "score"
    min_labels: int | None = None
    aggregate: str = "majority"
    compare: tuple[str, str] | None = None
    judge: str | None = None  # a judge's name: the judge-assisted section beside the table
    anchor: str | None = None  # the side-by-side strengths' zero (default: first by name)
    pairs_only: bool = False  # the side-by-side section alone

    def validate(self) -> ReportSettings:
        """Raise a user error for settings that give no meaningful interval."""
        if self.resamples < MIN_RESAMPLES:
            raise UserError(
                f"must be at least {MIN_RESAMPLES} (docs/protocol.md, Uncertainty)",
                field="resamples",
            )
        if not 0 < self.confidence < 1:
            raise UserError("must be between 0 and 1, e.g. 0.95", field="confidence")
        if self.method not in INTERVAL_METHODS:
            raise UserError(f"must be {', '.join(INTERVAL_METHODS)}", field="method")
        if self.aggregate not in AGGREGATORS:
            raise UserError(f"must be {', '.join(AGGREGATORS)}", field="aggregate")
        if self.min_labels is not None and self.min_labels < 1:
            raise UserError("must be 1 or more", field="min_labels")
        return self


@dataclass(frozen=True)
class Loaded:
    """What a report is computed from."""

    dataset: str
    labels: pd.DataFrame
    systems: pd.DataFrame
    overlap: int
    adaptive: bool
    skips: dict[str, Any]
    pairs: pd.DataFrame


def load(engine: Engine, dataset: str | None) -> Loaded:
    """All rank-0 labels of the dataset as a frame, the systems, the project's overlap k and
    whether it is adaptive, and the items raters skipped."""
    with session_scope(engine, readonly=True) as s:
        ds = resolve_dataset(s, dataset)
        project = load_settings(s)
        labels = label_frame(s, ds.id)
        skipped = skips(s, ds.id)
        systems = _systems(s, ds.id)
        pairs = pair_label_frame(s, ds.id)
    return Loaded(ds.name, labels, systems, project.overlap, project.adaptive, skipped, pairs)


def _systems(s: Session, dataset_id: int) -> pd.DataFrame:
    """The dataset's systems in the report's order, with decoding and perplexity."""
    measured = perplexities(s, dataset_id)
    systems = s.execute(
        select(System.id, System.name, System.kind, System.settings).where(
            System.id.in_(
                select(Response.system_id)
                .join(Context, Context.id == Response.context_id)
                .where(Context.dataset_id == dataset_id, Response.rank == 0)
            )
        )
    ).all()
    frame = pd.DataFrame(
        [(sid, name, kind, (conf or {}).get("decoding")) for sid, name, kind, conf in systems],
        columns=["system_id", "name", "kind", "decoding"],
    )
    frame["perplexity"] = frame["system_id"].map(measured)
    frame["order"] = frame["kind"].map(KIND_ORDER)
    return frame.sort_values(["order", "name"]).reset_index(drop=True)


def load_labels(engine: Engine, dataset: str | None) -> tuple[str, pd.DataFrame, pd.DataFrame, int]:
    """(dataset name, labels, systems, overlap k): ``load`` for callers that need no more."""
    got = load(engine, dataset)
    return got.dataset, got.labels, got.systems, got.overlap


def items_frame(engine: Engine, dataset: str | None = None) -> pd.DataFrame:
    """One row per item as the report counts it (flagged annotators excluded), for export."""
    _, labels, systems, _ = load_labels(engine, dataset)
    items = aggregate_items(labels[~labels["flagged"]]).merge(systems, on="system_id")
    cols = ["context", "name", "labels", "n_sensible", "n_specific", "sensible", "specific"]
    return items[cols].rename(columns={"context": "context_id", "name": "system"})


def aggregate_items(labels: pd.DataFrame) -> pd.DataFrame:
    """One row per item (system, context): label counts and majority votes."""
    if labels.empty:
        return vote_items(pd.DataFrame(columns=[*ITEM_COUNTS[:2], "context", *ITEM_COUNTS[2:]]))
    items = (
        labels.groupby(["system_id", "context_id", "context"], sort=True)
        .agg(
            labels=("sensible", "size"),
            n_sensible=("sensible", "sum"),
            n_specific=("specific", "sum"),
        )
        .reset_index()
    )
    return vote_items(items)


def vote_items(items: pd.DataFrame) -> pd.DataFrame:
    """Item counts (``storage.labels.ITEM_COUNTS``) with the majority votes added."""
    items = items.assign(sensible=pd.Series(dtype=bool), specific=pd.Series(dtype=bool))
    if len(items):
        items["sensible"], items["specific"] = votes.item_votes(
            items["n_sensible"].to_numpy(),
            items["n_specific"].to_numpy(),
            items["labels"].to_numpy(),
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
        method="bca" if settings.method == "score" else settings.method,
    )


def _with_model(items: pd.DataFrame, labels: pd.DataFrame, method: str) -> pd.DataFrame:
    """Items whose votes come from the rater model instead of the majority."""
    votes = ratermodels.model_votes(labels, method)
    ids = labels.groupby(["system_id", "context_id"])["response_id"].first().rename("response_id")
    out = items.drop(columns=["sensible", "specific"]).join(ids, on=["system_id", "context_id"])
    return out.merge(votes, on="response_id").drop(columns="response_id")


def included(
    items: pd.DataFrame, min_labels: int, k: int, adaptive: bool
) -> tuple[pd.Series, pd.Series]:
    """Items with enough labels, and (adaptive overlap) items decided before k labels."""
    complete = items["labels"] >= min_labels
    early = pd.Series(False, index=items.index)
    if adaptive and len(items):
        early = ~complete & votes.decided(
            items["n_sensible"], items["n_specific"], items["labels"], k
        )
    return complete, early


def _adaptive(majority: pd.DataFrame, early: pd.Series, k: int) -> dict[str, Any]:
    decided_early = majority[early]
    return {
        "items_decided_early": len(decided_early),
        "labels_saved": int((k - decided_early["labels"]).sum()),
        "agreement_items": "items that got all k labels",
    }


def interim(engine: Engine, dataset: str | None = None) -> list[dict[str, Any]]:
    """Each system's items counted so far and its SSA with the report's score interval: the
    admin page's interim table, from counts the database makes, without the full report's
    bootstrap, comparisons and agreement (the slow parts at 100,000 items)."""
    with session_scope(engine, readonly=True) as s:
        ds = resolve_dataset(s, dataset)
        project = load_settings(s)
        majority = vote_items(item_counts(s, ds.id))
        systems = _systems(s, ds.id)
    complete, early = included(majority, project.overlap, project.overlap, project.adaptive)
    items, settings = majority[complete | early], ReportSettings()
    rows = []
    for row in systems.itertuples():
        counted = int((items["system_id"] == row.system_id).sum())
        ssa = (
            tables.system_metrics(items, row.system_id, None, settings)["ssa"] if counted else None
        )
        rows.append({"name": row.name, "items": counted, "ssa": ssa})
    return rows


def build_report(
    engine: Engine, dataset: str | None, settings: ReportSettings
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Compute every number of the report; returns (report dict, items frame)."""
    settings = settings.validate()
    got = load(engine, dataset)
    if settings.pairs_only:
        return sidebyside.pairs_only(engine, got.dataset, got.pairs, settings), pd.DataFrame()
    labels, systems, overlap = got.labels, got.systems, got.overlap
    min_labels = settings.min_labels or overlap
    flagged = labels[labels["flagged"]]
    kept = labels[~labels["flagged"]]
    majority = aggregate_items(kept)
    complete, early = included(majority, min_labels, overlap, got.adaptive)
    short = majority[~complete & ~early]
    majority_ok = majority[complete | early]
    keys = ["system_id", "context_id"]
    kept_ok = kept.merge(majority_ok[keys], on=keys)
    items_ok = majority_ok
    if settings.aggregate != "majority" and len(kept_ok):
        items_ok = _with_model(majority_ok, kept_ok, settings.aggregate)
    full = kept.merge(majority[majority["labels"] >= overlap][keys], on=keys)
    report: dict[str, Any] = {
        "evaltool_version": __version__,
        "dataset": got.dataset,
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "settings": {
            **asdict(settings),
            "compare": list(settings.compare) if settings.compare else None,
            "min_labels": min_labels,
            "overlap": overlap,
            "adaptive": got.adaptive,
        },
        "simulated": bool((labels["source"] == "simulated").any()) if len(labels) else False,
        "systems": [],
        "comparisons": [],
        "agreement": {
            q: agreement.summary(full if got.adaptive else kept_ok, q, settings.confidence)
            for q in ("sensible", "specific")
        },
        "exclusions": {
            "flagged_annotators": sorted(flagged["annotator"].unique().tolist()),
            "labels_from_flagged": len(flagged),
            "items_below_min_labels": len(short),
            "labels_on_those_items": int(short["labels"].sum()) if len(short) else 0,
        },
        "adaptive": _adaptive(majority, early, overlap) if got.adaptive else None,
        "skips": got.skips,
        "notes": [],
    }
    _fill_tables(report, systems, items_ok, kept_ok, settings)
    if settings.aggregate != "majority":
        _beside_majority(report, systems, majority_ok, settings)
    report["perplexity_vs_ssa"] = tables.perplexity_vs_ssa(report["systems"])
    report["notes"] += agreement.notes(report["agreement"])
    if labels.empty:
        report["notes"].append("no labels yet: label items on the annotation page or import them")
    items_out = majority.assign(included=complete | early).merge(
        systems[["system_id", "name"]], on="system_id"
    )
    report["pairwise"] = sidebyside.with_judge(engine, got.dataset, got.pairs, settings)
    if settings.judge:
        from evaltool.reporting import judged

        names = dict(zip(systems["system_id"], systems["name"], strict=True))
        report["judged"] = judged.build(
            engine,
            got.dataset,
            items_out,
            names,
            settings.judge,
            settings.confidence,
            settings.compare,
        )
    return report, items_out


def _fill_tables(
    report: dict[str, Any],
    systems: pd.DataFrame,
    items: pd.DataFrame,
    labels: pd.DataFrame,
    settings: ReportSettings,
) -> None:
    """Fill the system table and the paired comparisons."""
    with_items = set(items["system_id"])
    have = [sid for sid in systems["system_id"] if sid in with_items]
    names = dict(zip(systems["system_id"], systems["name"], strict=True))
    first = settings.compare or REFERENCE_PAIR
    pairs = tables.order_pairs([names[sid] for sid in have], first)
    ivs, diffs = _bootstrap_all(items, have, pairs, settings)
    for row in systems.itertuples():
        got = ivs[have.index(row.system_id)] if row.system_id in have else None
        report["systems"].append(_system_entry(row, items, labels, got, settings))
    for (i, j), d in zip(pairs, diffs, strict=True):
        comp = {"a": names[have[i]], "b": names[have[j]]}
        comp.update(tables.comparison(items, have[i], have[j], d, settings))
        comp["note"] = (
            None if comp["shared_contexts"] else "no shared contexts: no paired comparison"
        )
        report["comparisons"].append(comp)
    tables.adjust(report["comparisons"])


def _system_entry(
    row: Any,
    items: pd.DataFrame,
    labels: pd.DataFrame,
    boot: dict[str, stats.Interval] | None,
    settings: ReportSettings,
) -> dict[str, Any]:
    """One system's line of the table; ``boot`` holds its bootstrap intervals (None: no items)."""
    sys_items = items[items["system_id"] == row.system_id]
    sys_labels = labels[labels["system_id"] == row.system_id]
    entry: dict[str, Any] = {
        "name": row.name,
        "kind": row.kind,
        "decoding": row.decoding,
        "perplexity": None if pd.isna(row.perplexity) else float(row.perplexity),
        "contexts": sys_items["context_id"].nunique(),
        "items": len(sys_items),
        "labels": len(sys_labels),
    }
    if sys_items.empty:
        entry.update({m: None for m in stats.METRICS})
        return {**entry, "label_level": None, "note": "no items with enough labels yet"}
    metrics = tables.system_metrics(items, row.system_id, boot, settings)
    notes = [f"{m}: {v.pop('note')}" for m, v in metrics.items() if v.get("note")]
    entry.update(metrics)
    ls, lp = float(sys_labels["sensible"].mean()), float(sys_labels["specific"].mean())
    entry["label_level"] = {"sensibleness": ls, "specificity": lp, "ssa": (ls + lp) / 2}
    entry["note"] = "; ".join(notes) or None
    return entry


def _beside_majority(
    report: dict[str, Any], systems: pd.DataFrame, majority: pd.DataFrame, settings: ReportSettings
) -> None:
    """The majority-vote SSA of every system beside the rater model's, and whether the order
    of systems by SSA changes between the two."""
    ssa = {}
    for row in systems.itertuples():
        if (majority["system_id"] == row.system_id).any():
            ssa[row.name] = tables.system_metrics(majority, row.system_id, None, settings)["ssa"]
    model = [s for s in report["systems"] if s["ssa"] is not None and s["name"] in ssa]
    by_model = [s["name"] for s in sorted(model, key=lambda s: -s["ssa"]["estimate"])]
    by_majority = sorted(ssa, key=lambda n: -ssa[n]["estimate"])
    by_majority = [n for n in by_majority if n in by_model]
    for s in model:
        s["majority_vote"] = {"ssa": ssa[s["name"]]}
        s["order_changed"] = by_model.index(s["name"]) != by_majority.index(s["name"])
    moved = [s["name"] for s in model if s["order_changed"]]
    if moved:
        report["notes"].append(
            f"the order by SSA differs between {settings.aggregate} and majority vote for: "
            + ", ".join(moved)
        )
