"""``export dataset``: a campaign as a Hugging Face dataset others can load and cite.

One config per table (contexts, items with their votes, labels, judges' labels, pair answers,
conversations of chat campaigns), each as a Parquet file that ``datasets.load_dataset(DIR,
config)`` reads through the card's YAML, and as a ``save_to_disk`` copy that
``load_from_disk`` reads. Annotators appear as salted hashes, never names or platform ids.
The card (README.md) states the protocol, the questions, overlap, gold checks, exclusions,
the report's table, evaltool's version and each system's provenance; report.json rides along.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from evaltool.errors import UserError
from evaltool.reporting.aggregate import ReportSettings, build_report
from evaltool.reporting.choices import LICENSES
from evaltool.reporting.sharing_card import card
from evaltool.storage import exports
from evaltool.storage.contexts import resolve_dataset
from evaltool.storage.db import session_scope
from evaltool.storage.fileio import HUB_EXTRA
from evaltool.storage.judging import judge_frame, judges
from evaltool.storage.labels import label_frame
from evaltool.storage.schema import ChatCampaign, Context, System

CONFIGS = ("contexts", "items", "labels", "judge_labels", "pair_labels", "conversations")


@dataclass(frozen=True)
class Exported:
    """Where the dataset went and how many rows each config holds."""

    out: Path
    rows: dict[str, int]
    report: dict[str, Any]


def export_dataset(
    engine: Engine, dataset: str | None, out: str | Path, license: str, salt: str | None = None
) -> Exported:
    """Write the dataset folder ``out`` (new or empty), all of it or nothing."""
    try:
        import datasets
    except ImportError:
        raise UserError(f"export dataset needs {HUB_EXTRA}") from None
    if license not in LICENSES:
        raise UserError(f"{license}: use one of {', '.join(LICENSES)}", field="license")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} exists and is not an empty folder; name a new one", field="out")
    if not out.parent.is_dir():
        raise UserError(f"folder {out.parent} does not exist; create it first", field="out")
    datasets.disable_progress_bars()
    report, items = build_report(engine, dataset, ReportSettings())
    decoding = {x["name"]: x["decoding"] for x in report["systems"]}
    tables = _tables(engine, report["dataset"], items, decoding, salt or secrets.token_hex(16))
    systems = exports.systems_export(engine, [s["name"] for s in report["systems"]])
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent))
    try:
        features = {}
        for name, rows in tables.items():
            ds = datasets.Dataset.from_list(rows)
            (work / "data" / name).mkdir(parents=True)
            ds.to_parquet(str(work / "data" / name / "train.parquet"))
            datasets.DatasetDict({"train": ds}).save_to_disk(str(work / "disk" / name))
            features[name] = ds.info._to_yaml_dict()["features"]
        counts = {name: len(rows) for name, rows in tables.items()}
        gold = sum(bool(r["gold"]) for r in tables.get("labels", []))
        text = card(report, systems, counts, features, license, gold)
        (work / "README.md").write_text(text, encoding="utf-8")
        (work / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
        if out.exists():
            out.rmdir()
        work.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Exported(out, counts, report)


def hub_token() -> str:
    """The token in ``HF_TOKEN`` (read from the environment, never printed), or a one-line
    error before anything is written."""
    token = os.environ.get("HF_TOKEN")
    if not token:
        raise UserError(
            "set HF_TOKEN to a Hugging Face token with write access (read from the "
            "environment, never printed); nothing was written",
            field="push_to_hub",
        )
    return token


def push(out: Path, repo: str, token: str) -> str:
    """Upload the folder to the Hub as dataset ``repo``; the dataset's address."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        api.create_repo(repo, repo_type="dataset", exist_ok=True)
        api.upload_folder(folder_path=str(out), repo_id=repo, repo_type="dataset")
    except Exception as exc:  # network, auth and name errors alike end the command in one line
        raise UserError(
            f"could not push {out} to {repo} ({type(exc).__name__}); the folder is written, "
            "push it again when the Hub is reachable",
            field="push_to_hub",
        ) from None
    return f"https://huggingface.co/datasets/{repo}"


def hashed(salt: str, name: str) -> str:
    """An annotator's stand-in: 16 hex digits of sha256(salt, name).

    >>> hashed("s", "anna")
    '611c0cae6554b8d5'
    """
    return hashlib.sha256(f"{salt}\0{name}".encode()).hexdigest()[:16]


def _tables(
    engine: Engine, dataset: str, items: pd.DataFrame, decoding: dict[str, Any], salt: str
) -> dict[str, list[dict[str, Any]]]:
    """Every config with rows, as lists of plain records."""
    contexts = exports.contexts_export(engine, dataset)
    tables = {
        "contexts": _records(contexts),
        "items": _items(engine, dataset, items, contexts, decoding),
        "labels": _labels(engine, dataset, salt),
        "judge_labels": _judge_labels(engine, dataset),
        "pair_labels": _pair_labels(engine, dataset, salt),
        "conversations": _conversations(engine, dataset, salt),
    }
    return {name: rows for name, rows in tables.items() if rows}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python values (None for missing), which datasets types column by column."""
    plain = frame.astype(object).where(frame.notna(), None)
    return [dict(r) for r in plain.to_dict("records")]


VOTES = ["labels", "n_sensible", "n_specific", "sensible", "specific", "included"]


def _items(
    engine: Engine,
    dataset: str,
    items: pd.DataFrame,
    contexts: pd.DataFrame,
    decoding: dict[str, Any],
) -> list[dict[str, Any]]:
    """Every rank-0 response with its context, system, decoding and people's votes."""
    responses = exports.responses_export(engine, dataset)
    responses = responses[responses["rank"] == 0].drop(columns=["rank"])
    votes = items.drop(columns=["context_id"]).rename(
        columns={"context": "context_id", "name": "system"}
    )[["context_id", "system", *VOTES]]
    frame = responses.merge(votes, on=["context_id", "system"], how="left")
    frame = frame.merge(
        contexts.rename(columns={"id": "context_id", "turns": "context"}), on="context_id"
    )
    frame["decoding"] = frame["system"].map(decoding)  # as the report's table names it
    frame["labels"] = frame["labels"].fillna(0).astype(int)
    for col in ("n_sensible", "n_specific"):
        frame[col] = frame[col].fillna(0).astype(int)
    frame["included"] = frame["included"].fillna(False).astype(bool)
    cols = ["context_id", "context", "reference", "system", "kind", "decoding", "response"]
    return _records(frame[cols + VOTES])


def _labels(engine: Engine, dataset: str, salt: str) -> list[dict[str, Any]]:
    with session_scope(engine, readonly=True) as s:
        frame = label_frame(s, resolve_dataset(s, dataset).id)
    out = pd.DataFrame(
        {
            "context_id": frame["context"],
            "system": frame["system"],
            "annotator": [hashed(salt, n) for n in frame["annotator"]],
            "sensible": frame["sensible"],
            "specific": frame["specific"],
            "seconds": frame["seconds"],
            "source": frame["source"],
            "created_at": frame["created_at"].astype(str),
            "annotator_flagged": frame["flagged"],
            "gold": frame["gold_sensible"].notna(),
        }
    )
    return _records(out)


def _judge_labels(engine: Engine, dataset: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with session_scope(engine, readonly=True) as s:
        ds = resolve_dataset(s, dataset)
        ids = dict(
            s.execute(
                select(Context.id, Context.external_id).where(Context.dataset_id == ds.id)
            ).all()
        )
        names = dict(s.execute(select(System.id, System.name)).all())
        for judge, _ in judges(s):
            frame = judge_frame(s, judge.id, ds.id)
            for r in frame.itertuples(index=False):
                rows.append(
                    {
                        "judge": judge.name,
                        "judge_kind": judge.kind,
                        "judge_model": judge.model,
                        "context_id": ids[r.context_id],
                        "system": names[r.system_id],
                        "p_sensible": float(r.p_sensible),
                        "p_specific": None if pd.isna(r.p_specific) else float(r.p_specific),
                    }
                )
    return rows


def _pair_labels(engine: Engine, dataset: str, salt: str) -> list[dict[str, Any]]:
    frame = exports.pairs_export(engine, dataset)
    frame["judge"] = [hashed(salt, n) for n in frame["judge"]]
    frame["tstamp"] = frame["tstamp"].astype(str)
    frame["context"] = frame["context"].map(list)
    for side in ("response_a", "response_b"):
        frame[side] = frame[side].map(
            lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v
        )
    return _records(frame)


def _conversations(engine: Engine, dataset: str, salt: str) -> list[dict[str, Any]]:
    from evaltool.reporting.interactive import conversations

    with session_scope(engine, readonly=True) as s:
        ds = resolve_dataset(s, dataset)
        names = list(s.scalars(select(ChatCampaign.name).where(ChatCampaign.dataset_id == ds.id)))
    rows = []
    for campaign in names:
        for chat in conversations(engine, campaign):
            for turn in chat.get("turns", []):
                for label in turn.get("labels", []):
                    label["annotator"] = hashed(salt, label["annotator"])
            rows.append({"campaign": campaign, **chat})
    return rows
