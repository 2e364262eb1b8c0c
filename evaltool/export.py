"""``evaltool export``: labels, responses or aggregated items as CSV, JSONL or Parquet."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from evaltool.contexts import resolve_dataset
from evaltool.db import session_scope
from evaltool.errors import UserError
from evaltool.schema import Annotator, Context, Label, Response, System

FORMATS = ("csv", "jsonl", "parquet")


def labels_frame(engine: Engine, dataset: str | None = None) -> pd.DataFrame:
    """Every label with context id, system, annotator name and timing (for CSV download)."""
    with session_scope(engine, readonly=True) as s:
        ds = resolve_dataset(s, dataset)
        rows = s.execute(
            select(
                Context.external_id,
                System.name,
                Annotator.name,
                Label.sensible,
                Label.specific,
                Label.seconds,
                Label.source,
                Label.created_at,
                Annotator.flagged,
            )
            .join(Response, Response.id == Label.response_id)
            .join(Context, Context.id == Response.context_id)
            .join(System, System.id == Response.system_id)
            .join(Annotator, Annotator.id == Label.annotator_id)
            .where(Context.dataset_id == ds.id)
            .order_by(Label.id)
        ).all()
    cols = [
        "context_id",
        "system",
        "annotator",
        "sensible",
        "specific",
        "seconds",
        "source",
        "created_at",
        "annotator_flagged",
    ]
    return pd.DataFrame([tuple(r) for r in rows], columns=cols)


def responses_frame(engine: Engine, dataset: str | None = None) -> pd.DataFrame:
    """Every stored response with its context id, system and rank."""
    with session_scope(engine, readonly=True) as s:
        ds = resolve_dataset(s, dataset)
        rows = s.execute(
            select(Context.external_id, System.name, System.kind, Response.rank, Response.text)
            .join(Context, Context.id == Response.context_id)
            .join(System, System.id == Response.system_id)
            .where(Context.dataset_id == ds.id)
            .order_by(System.name, Context.id, Response.rank)
        ).all()
    return pd.DataFrame(
        [tuple(r) for r in rows], columns=["context_id", "system", "kind", "rank", "response"]
    )


def items_frame(engine: Engine, dataset: str | None = None) -> pd.DataFrame:
    """One row per item as the report counts it (flagged annotators excluded)."""
    from evaltool.report import aggregate_items, load_labels

    _, labels, systems, _ = load_labels(engine, dataset)
    items = aggregate_items(labels[~labels["flagged"]]).merge(systems, on="system_id")
    cols = ["context", "name", "labels", "n_sensible", "n_specific", "sensible", "specific"]
    return items[cols].rename(columns={"context": "context_id", "name": "system"})


def write_frame(frame: pd.DataFrame, fmt: str, out: str | None) -> None:
    """Write to ``out`` (a path) or standard output; Parquet needs a file."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: use csv, jsonl or parquet")
    if fmt == "parquet":
        if not out:
            raise UserError("--format parquet writes a binary file: give --out FILE")
        frame.to_parquet(out, index=False)
        return
    buf = io.StringIO()
    if fmt == "csv":
        frame.to_csv(buf, index=False)
    else:
        frame.to_json(buf, orient="records", lines=True, force_ascii=False, date_format="iso")
    if out:
        Path(out).write_text(buf.getvalue(), encoding="utf-8")
    else:
        sys.stdout.write(buf.getvalue())
