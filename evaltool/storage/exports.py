"""``evaltool export``: labels or responses as frames, and any frame as CSV, JSONL or Parquet."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from evaltool.errors import UserError
from evaltool.storage.contexts import resolve_dataset
from evaltool.storage.db import session_scope
from evaltool.storage.labels import label_frame
from evaltool.storage.schema import Context, Response, System

FORMATS = ("csv", "jsonl", "parquet")
EXPORTED_LABEL_COLUMNS = [
    "context",
    "system",
    "annotator",
    "sensible",
    "specific",
    "seconds",
    "source",
    "created_at",
    "flagged",
]


def labels_export(engine: Engine, dataset: str | None = None) -> pd.DataFrame:
    """Every label with context id, system, annotator name and timing (for CSV download)."""
    with session_scope(engine, readonly=True) as s:
        frame = label_frame(s, resolve_dataset(s, dataset).id)
    return frame[EXPORTED_LABEL_COLUMNS].rename(
        columns={"context": "context_id", "flagged": "annotator_flagged"}
    )


def responses_export(engine: Engine, dataset: str | None = None) -> pd.DataFrame:
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


def write_frame(frame: pd.DataFrame, fmt: str, out: str | None) -> None:
    """Write to ``out`` (a path) or standard output; Parquet needs a file."""
    if out and not Path(out).parent.is_dir():
        raise UserError(f"folder {Path(out).parent} does not exist; create it first", field="out")
    if fmt not in FORMATS:
        raise UserError(f"{fmt}: use csv, jsonl or parquet", field="format")
    if fmt == "parquet":
        if not out:
            raise UserError("parquet is a binary file: give a file to write", field="out")
        frame.to_parquet(out, index=False)
        return
    buf = io.StringIO()
    if fmt == "csv":
        frame.to_csv(buf, index=False)
    else:
        frame.to_json(buf, orient="records", lines=True, force_ascii=False, date_format="iso")
    write_text(buf.getvalue(), out)


def write_text(text: str, out: str | None) -> None:
    """Write ``text`` to ``out`` (a path in an existing folder) or standard output."""
    if out and not Path(out).parent.is_dir():
        raise UserError(f"folder {Path(out).parent} does not exist; create it first", field="out")
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
