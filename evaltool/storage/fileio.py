"""Reading user files (JSONL, CSV, Parquet, or a Hugging Face dataset folder) into records
that carry their line numbers (a Parquet or dataset row's number, from 1).

Every problem becomes a one-line ``UserError`` naming the file and line, so importers can
validate a whole file before writing anything.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaltool.errors import UserError

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet",)
HUB_EXTRA = "pip install 'evaltool[hub]' (the datasets package)"

TRUE = {"true", "1", "yes", "y", "да", "t"}
FALSE = {"false", "0", "no", "n", "нет", "f"}


@dataclass(frozen=True)
class Record:
    """One row of a user file: its 1-based line number and its fields."""

    line: int
    fields: dict[str, Any]


def _guess_encoding(raw: bytes) -> str:
    """Name the likely encoding of bytes that are not UTF-8, for the error message."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "UTF-16"
    for name, label in (("cp1251", "Windows-1251"), ("koi8_r", "KOI8-R")):
        try:
            text = raw.decode(name)
        except UnicodeDecodeError:
            continue
        letters = [c for c in text if c.isalpha()]
        cyrillic = sum("а" <= c.lower() <= "я" or c.lower() == "ё" for c in letters)
        lowercase = sum("а" <= c <= "я" for c in letters)
        # KOI8-R decodes Windows-1251 text to mostly upper case and vice versa.
        if letters and cyrillic / len(letters) > 0.5 and lowercase >= cyrillic / 2:
            return label
    return "Latin-1 or another single-byte encoding"


def read_text(path: Path) -> str:
    """Read a UTF-8 file (BOM allowed), refusing other encodings, NUL bytes and empty files."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise UserError(f"{path}: not UTF-8 (looks like UTF-16); save it as UTF-8 and retry")
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise UserError(f"{path}:{line}: contains NUL bytes; is this a text file?")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UserError(
            f"{path}:{line}: not UTF-8 (looks like {_guess_encoding(raw)}); "
            "convert it, e.g. `iconv -f CP1251 -t UTF-8`"
        ) from None
    if not text.strip():
        raise UserError(f"{path}: file is empty")
    return text


def _read_jsonl(path: Path, text: str) -> list[Record]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(
                f"{path}:{number}: invalid JSON: {exc.msg} (column {exc.colno})"
            ) from None
        if not isinstance(value, dict):
            raise UserError(f"{path}:{number}: expected a JSON object, got {type(value).__name__}")
        records.append(Record(number, value))
    return records


def _read_csv(path: Path, text: str) -> list[Record]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise UserError(f"{path}: no header row")
    records = []
    try:
        for row in reader:
            if None in row:
                raise UserError(f"{path}:{reader.line_num}: more cells than header columns")
            if all(v is None or not v.strip() for v in row.values()):
                continue
            records.append(Record(reader.line_num, {k.strip(): v for k, v in row.items()}))
    except csv.Error as exc:
        raise UserError(f"{path}:{reader.line_num}: bad CSV: {exc}") from None
    return records


def read_records(path: str | Path, config: str | None = None) -> list[Record]:
    """Read a JSONL (``.jsonl``/``.json``/``.ndjson``), CSV (``.csv``) or Parquet file, or a
    Hugging Face dataset folder (``save_to_disk``'s, or one ``load_dataset`` reads, ``config``
    naming which), into records. CSV cells are strings; a missing trailing cell is None."""
    path = Path(path)
    if path.is_dir():
        records = _read_dataset_folder(path, config)
    else:
        suffix = path.suffix.lower()
        if suffix in PARQUET_SUFFIXES:
            records = _read_parquet(path)
        elif suffix in JSONL_SUFFIXES + CSV_SUFFIXES:
            text = read_text(path)
            records = _read_jsonl(path, text) if suffix in JSONL_SUFFIXES else _read_csv(path, text)
        else:
            raise UserError(
                f"{path}: unknown file type {suffix or '(none)'}; use .jsonl, .csv or .parquet"
            )
    if not records:
        raise UserError(f"{path}: file has no records")
    return records


def _rows(rows: list[dict[str, Any]]) -> list[Record]:
    return [Record(number, row) for number, row in enumerate(rows, start=1)]


def _read_parquet(path: Path) -> list[Record]:
    import pyarrow.parquet as pq

    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow's errors have no common base worth naming
        raise UserError(f"{path}: not a Parquet file ({str(exc).splitlines()[0]})") from None
    return _rows(table.to_pylist())


def _read_dataset_folder(path: Path, config: str | None) -> list[Record]:
    """A dataset folder's rows: its one split (``train`` when there are several)."""
    try:
        import datasets
    except ImportError:
        raise UserError(f"{path}: reading a dataset folder needs {HUB_EXTRA}") from None
    saved = (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file()
    try:
        if saved:
            got = datasets.load_from_disk(str(path))
        else:
            got = datasets.load_dataset(str(path), config)
    except (ValueError, FileNotFoundError, datasets.exceptions.DatasetNotFoundError) as exc:
        raise UserError(f"{path}: not a dataset folder {datasets.__name__} reads ({exc})") from None
    if isinstance(got, datasets.DatasetDict):
        split = "train" if "train" in got else next(iter(got))
        got = got[split]
    return _rows(got.to_list())


def require_str(
    path: Path | str,
    record: Record,
    field: str,
    *,
    blank_ok: bool = False,
    max_length: int | None = None,
) -> str:
    """The record's field as a non-blank string, or a user error naming file, line and field."""
    value = record.fields.get(field)
    if value is None:
        raise UserError(f"{path}:{record.line}: missing '{field}'")
    if isinstance(value, int | float) and not isinstance(value, bool) and field.endswith("id"):
        value = str(value)
    if not isinstance(value, str):
        raise UserError(f"{path}:{record.line}: '{field}' must be a string")
    if not blank_ok and not value.strip():
        raise UserError(f"{path}:{record.line}: '{field}' is blank")
    if max_length is not None and len(value.strip()) > max_length:
        raise UserError(
            f"{path}:{record.line}: '{field}' is {len(value.strip())} characters; "
            f"at most {max_length} fit"
        )
    return value


def parse_bool(path: Path, rec: Record, field: str, *, required: bool = True) -> bool | None:
    """A yes/no cell: true/false, 1/0, yes/no or да/нет; blank is None when not required."""
    value = rec.fields.get(field)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = "" if value is None else str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    if not text and not required:
        return None
    what = "missing" if not text else f"not a yes/no value ({value!r})"
    raise UserError(f"{path}:{rec.line}: '{field}' is {what}; use true/false or 1/0")
