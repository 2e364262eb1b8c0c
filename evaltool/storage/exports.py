"""``evaltool export``: labels or responses as frames, and any frame as CSV, JSONL or Parquet."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evaltool.errors import UserError
from evaltool.storage.contexts import resolve_dataset
from evaltool.storage.db import session_scope
from evaltool.storage.labels import label_frame, pair_label_frame
from evaltool.storage.schema import ChatTurn, Context, PairItem, Response, System, chosen, shown

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


def contexts_export(engine: Engine, dataset: str | None = None) -> pd.DataFrame:
    """The dataset's contexts as ``contexts import`` reads them: id, turns, reference."""
    with session_scope(engine, readonly=True) as s:
        ds = resolve_dataset(s, dataset)
        query = select(Context.external_id, Context.turns, Context.reference).where(
            Context.dataset_id == ds.id
        )
        rows = [(i, list(t), r) for i, t, r in s.execute(query.order_by(Context.id))]
    return pd.DataFrame(rows, columns=["id", "turns", "reference"])


def systems_export(engine: Engine, names: list[str]) -> list[dict[str, Any]]:
    """Each named system's provenance: kind, model, revision, settings (decoding) and what
    the run recorded."""
    with session_scope(engine, readonly=True) as s:
        query = select(System).where(System.name.in_(names)).order_by(System.name)
        return [
            {
                "name": x.name,
                "kind": x.kind,
                "model": x.model,
                "revision": x.revision,
                "settings": x.settings or {},
                "provenance": x.provenance or {},
            }
            for x in s.scalars(query)
        ]


# Pair answers in Chatbot Arena's public data's terms (lmsys/chatbot_arena_conversations):
# winner is model_a, model_b or tie; judge is who answered; the side model_a was shown on.
WINNER = {"a": "model_a", "b": "model_b", "tie": "tie"}


def pairs_export(engine: Engine, dataset: str | None = None) -> pd.DataFrame:
    """Every pair answer with the context, both systems and replies, the winner, who judged
    and the side shown (conversations of chat pairs: their turns)."""
    with session_scope(engine, readonly=True) as s:
        ds = resolve_dataset(s, dataset)
        frame = pair_label_frame(s, ds.id)
        items = {i.id: i for i in s.scalars(select(PairItem).where(PairItem.dataset_id == ds.id))}
        turns = dict(
            s.execute(select(Context.id, Context.turns).where(Context.dataset_id == ds.id)).all()
        )
        texts = _pair_texts(s, list(items.values()))
    rows = []
    for r in frame.itertuples(index=False):
        item = items[r.pair_id]
        rows.append(
            {
                "question_id": r.pair_id,
                "context_id": r.context,
                "context": list(turns.get(r.context_id) or []),
                "model_a": r.model_a,
                "model_b": r.model_b,
                "response_a": texts[(item.id, "a")],
                "response_b": texts[(item.id, "b")],
                "winner": WINNER[chosen(r.side, r.a_left)],
                "judge": r.annotator,
                "model_a_side": shown("a", r.a_left),
                "reason": r.reason,
                "seconds": r.seconds,
                "source": r.source,
                "tstamp": r.created_at,
                "annotator_flagged": r.flagged,
                "gold": r.expected is not None,
            }
        )
    return pd.DataFrame(rows, columns=PAIR_EXPORT_COLUMNS)


PAIR_EXPORT_COLUMNS = [
    "question_id", "context_id", "context", "model_a", "model_b", "response_a", "response_b",
    "winner", "judge", "model_a_side", "reason", "seconds", "source", "tstamp",
    "annotator_flagged", "gold",
]  # fmt: skip


def _pair_texts(s: Session, items: list[PairItem]) -> dict[tuple[int, str], Any]:
    """Each pair item's two sides: a reply's text, or a chat's turns."""
    ids = [r for i in items for r in (i.response_a, i.response_b) if r is not None]
    replies = dict(s.execute(select(Response.id, Response.text).where(Response.id.in_(ids))).all())
    chats = [c for i in items for c in (i.chat_a, i.chat_b) if c is not None]
    turns: dict[int, list[str]] = {}
    query = select(ChatTurn.chat_id, ChatTurn.text).where(ChatTurn.chat_id.in_(chats))
    for chat, text in s.execute(query.order_by(ChatTurn.chat_id, ChatTurn.position)):
        turns.setdefault(chat, []).append(text or "")
    out: dict[tuple[int, str], Any] = {}
    for i in items:
        out[(i.id, "a")] = replies.get(i.response_a) if i.chat_a is None else turns.get(i.chat_a)
        out[(i.id, "b")] = replies.get(i.response_b) if i.chat_b is None else turns.get(i.chat_b)
    return out


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
        _lists_as_json(frame).to_csv(buf, index=False)
    else:
        frame.to_json(buf, orient="records", lines=True, force_ascii=False, date_format="iso")
    write_text(buf.getvalue(), out)


def _lists_as_json(frame: pd.DataFrame) -> pd.DataFrame:
    """List cells (a context's turns) as JSON text, which a CSV cell can hold."""
    lists = [c for c in frame.columns if frame[c].map(lambda v: isinstance(v, list)).any()]
    return frame.assign(
        **{c: frame[c].map(lambda v: json.dumps(v, ensure_ascii=False)) for c in lists}
    )


def write_text(text: str, out: str | None) -> None:
    """Write ``text`` to ``out`` (a path in an existing folder) or standard output."""
    if out and not Path(out).parent.is_dir():
        raise UserError(f"folder {Path(out).parent} does not exist; create it first", field="out")
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
