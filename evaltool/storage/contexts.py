"""Validation sets: reading dialog contexts from JSONL, CSV, Parquet or a Hugging Face
dataset folder and importing them all-or-nothing.

JSONL: ``{"id": "c1", "turns": ["...", "..."], "reference": "..."}`` (reference optional).
CSV: columns ``id``, ``turn_1`` ... ``turn_n`` and optionally ``reference``. Parquet and
dataset folders: as JSONL, with the columns renamed by ``Columns`` (``--id-column`` ...), or
the turns taken from a chat-format messages column (``[{"role": ..., "content": ...}]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evaltool.errors import UserError
from evaltool.storage.db import created_once, session_scope
from evaltool.storage.fileio import Record, read_records, require_str
from evaltool.storage.schema import NAME_LENGTH, ChatCampaign, Context, Dataset, check_name

BUILTIN_DATASET = "ru-mtb"
_TURN_COLUMN = re.compile(r"turn_(\d+)$")


@dataclass(frozen=True)
class ContextRow:
    """A context as read from a file, before it is stored."""

    line: int
    external_id: str
    turns: list[str]
    reference: str | None


@dataclass(frozen=True)
class Columns:
    """Which of a file's columns hold a context's id, turns and reference, or its turns as
    chat messages (``messages``: the contents of every message but the system's, in order)."""

    id: str = "id"
    turns: str = "turns"
    reference: str = "reference"
    messages: str | None = None

    def apply(self, path: Path, record: Record) -> Record:
        """The record with this mapping's columns under the names the reader expects."""
        fields = dict(record.fields)
        for name, column in (("id", self.id), ("reference", self.reference)):
            fields[name] = record.fields.get(column)
        fields["turns"] = (
            record.fields.get(self.turns)
            if self.messages is None
            else _from_messages(path, record, self.messages)
        )
        if self.turns != "turns" and self.turns not in record.fields and self.messages is None:
            where = f"{path}:{record.line}: no column {self.turns!r}".replace("{", "{{")
            raise UserError(where + " ({turns_column})", settings=("turns_column",))
        return Record(record.line, fields)


def _from_messages(path: Path, record: Record, column: str) -> list[str]:
    messages = record.fields.get(column)
    shaped = isinstance(messages, list) and all(
        isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages
    )
    if not shaped:
        raise UserError(
            f"{path}:{record.line}: {column!r} must be a list of {{role, content}} messages"
        )
    return [m["content"] for m in messages if m.get("role") != "system"]


@dataclass(frozen=True)
class ImportResult:
    """What an import did: rows added, rows already present, and the dataset name."""

    dataset: str
    added: int
    unchanged: int


def builtin_path() -> Path:
    """The Russian validation set shipped inside the package."""
    return Path(str(resources.files("evaltool.storage") / "data" / f"{BUILTIN_DATASET}.jsonl"))


def _turns_from_csv(path: Path, record: Record) -> list[str]:
    numbered = sorted(
        (int(m.group(1)), v)
        for k, v in record.fields.items()
        if (m := _TURN_COLUMN.match(k)) is not None
    )
    if not numbered:
        raise UserError(f"{path}:{record.line}: missing 'turns' (CSV needs columns turn_1 ...)")
    values = [v if v is not None else "" for _, v in numbered]
    while values and not values[-1].strip():
        values.pop()
    return values


def _parse(path: Path, record: Record, is_csv: bool) -> ContextRow:
    external_id = require_str(path, record, "id", max_length=NAME_LENGTH)
    turns = _turns_from_csv(path, record) if is_csv else record.fields.get("turns")
    if turns is None:
        raise UserError(f"{path}:{record.line}: missing 'turns'")
    if not isinstance(turns, list):
        raise UserError(f"{path}:{record.line}: 'turns' must be a list of strings")
    if not turns:
        raise UserError(f"{path}:{record.line}: 'turns' is empty; a context needs 1 or more turns")
    for number, turn in enumerate(turns, start=1):
        if not isinstance(turn, str):
            raise UserError(f"{path}:{record.line}: turn {number} is not a string")
        if not turn.strip():
            raise UserError(f"{path}:{record.line}: turn {number} is blank")
    reference = record.fields.get("reference")
    if reference is not None and not isinstance(reference, str):
        raise UserError(f"{path}:{record.line}: 'reference' must be a string")
    if reference is not None and not reference.strip():
        reference = None
    return ContextRow(record.line, external_id.strip(), [t.strip() for t in turns], reference)


def read_contexts(
    path: str | Path, columns: Columns | None = None, config: str | None = None
) -> list[ContextRow]:
    """Read and validate a whole validation-set file; duplicates within it are errors."""
    path = Path(path)
    is_csv = path.suffix.lower() == ".csv" and not path.is_dir()
    if is_csv and columns not in (None, Columns()):
        raise UserError(f"{path}: column options are for Parquet and dataset folders")
    rows: list[ContextRow] = []
    first_line: dict[str, int] = {}
    for record in read_records(path, config):
        row = _parse(path, record if is_csv else (columns or Columns()).apply(path, record), is_csv)
        if row.external_id in first_line:
            raise UserError(
                f"{path}:{row.line}: duplicate id {row.external_id!r} "
                f"(first on line {first_line[row.external_id]})"
            )
        first_line[row.external_id] = row.line
        rows.append(row)
    return rows


def import_contexts(
    engine: Engine,
    path: str | Path,
    dataset: str | None = None,
    columns: Columns | None = None,
    config: str | None = None,
) -> ImportResult:
    """Import a validation set into ``dataset`` (default: the file's stem) in one transaction.

    Rows already stored with the same turns and reference are skipped, so importing the same
    file twice adds nothing; a stored id with different content is an error.
    """
    path = Path(path)
    rows = read_contexts(path, columns, config)
    name = check_name("dataset", dataset or path.stem, field="dataset")
    with created_once(f"dataset {name!r}"), session_scope(engine) as session:
        ds = session.scalars(select(Dataset).where(Dataset.name == name)).one_or_none()
        if ds is None:
            ds = Dataset(name=name)
            session.add(ds)
            session.flush()
        stored = {
            c.external_id: c
            for c in session.scalars(select(Context).where(Context.dataset_id == ds.id))
        }
        new = []
        for row in rows:
            old = stored.get(row.external_id)
            if old is None:
                new.append(row)
            elif old.turns != row.turns or old.reference != row.reference:
                what = "turns" if old.turns != row.turns else "reference"
                raise UserError(
                    f"{path}:{row.line}: id {row.external_id!r} is already in dataset {name!r} "
                    f"with different {what}; give it a new id or import it into another dataset"
                )
        session.add_all(
            Context(
                dataset_id=ds.id, external_id=r.external_id, turns=r.turns, reference=r.reference
            )
            for r in new
        )
    return ImportResult(name, len(new), len(rows) - len(new))


def resolve_dataset(session: Session, name: str | None) -> Dataset:
    """The named dataset, or the only one when ``name`` is None (a chat campaign's own dataset
    of bot turns is not counted then); a user error otherwise."""
    datasets = list(session.scalars(select(Dataset).order_by(Dataset.id)))
    if name is None:
        chats = set(session.scalars(select(ChatCampaign.dataset_id)))
        datasets = [d for d in datasets if d.id not in chats]
    if name is not None:
        for ds in datasets:
            if ds.name == name:
                return ds
        known = ", ".join(d.name for d in datasets) or "none yet"
        raise UserError(
            f"no dataset {name!r} (known: {known}); import it first", step="import-contexts"
        )
    if not datasets:
        raise UserError("no datasets yet: import contexts first", step="import-contexts")
    if len(datasets) > 1:
        names = ", ".join(d.name for d in datasets)
        raise UserError(f"several datasets ({names}): choose one", field="dataset")
    return datasets[0]
