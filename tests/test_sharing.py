"""``export dataset`` and imports from datasets: a campaign exported as a Hugging Face dataset
loads with the real ``datasets`` library, its card's figures are the report's, annotators are
hashed, and the dataset imported into a new database reports the same table."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from evaltool.storage import db

from .conftest import make_pool
from .test_judged import judge_everything

try:
    import datasets
except ImportError:  # pragma: no cover - CI installs it (the hub extra)
    if os.environ.get("CI"):
        raise
    pytest.skip("datasets is not installed (pip install .[hub])", allow_module_level=True)

CELL = re.compile(r"(\d\.\d{3}) \[(\d\.\d{3}), (\d\.\d{3})\]")


def campaign(run_cli, tmp_path: Path):  # type: ignore[no-untyped-def]
    """30 contexts, two systems, three raters per item (seeded votes), a judge on every item."""
    assert run_cli("init").exit_code == 0
    engine = db.make_engine(f"sqlite:///{tmp_path / 'evaltool.db'}")
    make_pool(engine, contexts=30, systems=2, ranks=(0,))
    rng = np.random.default_rng(4)
    lines = ["context_id,system,annotator,sensible,specific"]
    for i in range(30):
        for system, rate in (("sys0", 0.8), ("sys1", 0.55)):
            for rater in ("anna", "boris", "vera"):
                sensible = rng.random() < rate
                specific = sensible and rng.random() < 0.6
                lines.append(f"c{i},{system},{rater},{sensible},{specific}")
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    assert run_cli("labels", "import", "labels.csv").exit_code == 0
    assert run_cli("collection", "--overlap", "3").exit_code == 0
    judge_everything(engine, noise=0.3)
    return engine


def table(report: dict) -> dict[str, list[float]]:  # type: ignore[type-arg]
    """Each system's three estimates and intervals, rounded as the card prints them."""
    return {
        s["name"]: [
            round(s[m][k], 3)
            for m in ("sensibleness", "specificity", "ssa")
            for k in ("estimate", "ci_low", "ci_high")
        ]
        for s in report["systems"]
    }


def test_export_loads_with_datasets_and_its_card_is_the_report(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    campaign(run_cli, tmp_path)
    assert run_cli("report").exit_code == 0
    report = json.loads((tmp_path / "reports/d/report.json").read_text())
    out = run_cli("export", "dataset", "--out", "ds", "--license", "cc-by-nc-4.0")
    assert out.exit_code == 0, out.output
    assert "contexts 30, items 60, labels 180, judge_labels 60 rows" in out.output
    folder = tmp_path / "ds"
    items = datasets.load_dataset(str(folder), "items", split="train")
    assert len(items) == 60 and set(items.column_names) >= {"context", "response", "sensible"}
    assert isinstance(items[0]["context"], list)
    labels = datasets.load_from_disk(str(folder / "disk" / "labels"))["train"]
    assert len(labels) == 180
    hashes = set(labels["annotator"])
    assert len(hashes) == 3 and all(re.fullmatch(r"[0-9a-f]{16}", h) for h in hashes)
    text = (folder / "README.md").read_text()
    assert not {"anna", "boris", "vera"} & set(re.findall(r"\w+", text))
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["license"] == "cc-by-nc-4.0" and header["language"] == ["ru", "en"]
    assert [c["config_name"] for c in header["configs"]] == [
        "contexts", "items", "labels", "judge_labels"
    ]  # fmt: skip
    rows = [line for line in text.splitlines() if line.startswith("| sys") and CELL.search(line)]
    card = {r.split("|")[1].strip(): [float(x) for c in CELL.findall(r) for x in c] for r in rows}
    assert card == table(report)  # the card's figures are the report's
    assert "overlap: 3 raters per item" in text and "evaltool 0." in text
    again = run_cli("export", "dataset", "--out", "ds")
    assert again.exit_code == 2 and "ds exists and is not an empty folder" in again.output


def test_a_round_trip_through_the_dataset_reports_the_same_table(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    campaign(run_cli, tmp_path)
    assert run_cli("report").exit_code == 0
    before = json.loads((tmp_path / "reports/d/report.json").read_text())
    assert run_cli("export", "dataset", "--out", "ds", "--salt", "x").exit_code == 0
    new = tmp_path / "new"
    new.mkdir()
    os.chdir(new)
    steps = [
        ("init",),
        ("contexts", "import", "../ds", "--config", "contexts", "--dataset", "d"),
        ("responses", "import", "../ds/data/items/train.parquet", "--system", "sys0"),
        ("responses", "import", "../ds/data/items/train.parquet", "--system", "sys1"),
        ("labels", "import", "../ds/data/labels/train.parquet"),
        ("collection", "--overlap", "3"),
        ("report",),
    ]
    for step in steps:
        result = run_cli(*step)
        assert result.exit_code == 0, (step, result.output)
    after = json.loads((new / "reports/d/report.json").read_text())
    assert table(after) == table(before)
    nothing = run_cli("responses", "import", "../ds/data/items/train.parquet", "--system", "x")
    assert nothing.exit_code == 2 and "no rows of system 'x' (its systems: sys0, sys1)" in (
        nothing.output
    )


def test_contexts_from_parquet_and_chat_messages_with_one_line_errors(
    run_cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    assert run_cli("init").exit_code == 0
    frame = pd.DataFrame(
        {
            "dialog": ["a1", "a2"],
            "messages": [
                [{"role": "system", "content": "be kind"}, {"role": "user", "content": "Привет"}],
                [
                    {"role": "user", "content": "Как дела?"},
                    {"role": "assistant", "content": "Хорошо"},
                ],
            ],
        }
    )
    frame.to_parquet(tmp_path / "chats.parquet")
    bad = run_cli("contexts", "import", "chats.parquet", "--turns-column", "text")
    assert bad.exit_code == 2 and "chats.parquet:1: no column 'text' (--turns-column)" in bad.output
    wrong = run_cli(
        "contexts",
        "import",
        "chats.parquet",
        "--id-column",
        "dialog",
        "--messages-column",
        "dialog",
    )
    assert (
        wrong.exit_code == 2
        and "'dialog' must be a list of {role, content} messages" in wrong.output
    )
    ok = run_cli(
        "contexts",
        "import",
        "chats.parquet",
        "--id-column",
        "dialog",
        "--messages-column",
        "messages",
    )
    assert ok.exit_code == 0 and "chats: added 2 contexts" in ok.output, ok.output
    from evaltool.storage.schema import Context

    engine = db.make_engine(f"sqlite:///{tmp_path / 'evaltool.db'}")
    with db.session_scope(engine, readonly=True) as s:
        turns = {c.external_id: c.turns for c in s.query(Context)}
    assert turns == {"a1": ["Привет"], "a2": ["Как дела?", "Хорошо"]}


def test_push_without_a_token_is_one_line_and_writes_nothing(  # type: ignore[no-untyped-def]
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign(run_cli, tmp_path)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    out = run_cli("export", "dataset", "--out", "ds", "--push-to-hub", "me/ssa")
    assert out.exit_code == 2
    assert out.output.strip().startswith("error: --push-to-hub: set HF_TOKEN")
    assert not (tmp_path / "ds").exists()


def test_a_chat_campaign_exports_its_conversations(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from evaltool.annotation import accounts, chat

    from .test_chat import answer_all, campaign, chat_to
    from .test_interactive import label_everything

    assert run_cli("init").exit_code == 0
    engine = db.make_engine(f"sqlite:///{tmp_path / 'evaltool.db'}")
    campaign(engine, bots=("baseline:echo", "baseline:generic"), conversations=2)
    for token in [accounts.add_annotator(engine, f"p{i}") for i in range(4)]:
        chat_to(engine, token, 4)
        chat.finish(engine, token, "c")
    answer_all(engine)
    label_everything(engine, [accounts.add_annotator(engine, f"r{i}") for i in range(3)])
    out = run_cli("export", "dataset", "--dataset", "c", "--out", "chats")
    assert out.exit_code == 0, out.output
    talks = datasets.load_dataset(str(tmp_path / "chats"), "conversations", split="train")
    assert len(talks) == 4 and {t["bot"] for t in talks} == {"echo", "generic"}
    bot_turn = next(t for t in talks[0]["turns"] if t["speaker"] == "bot")
    assert len(bot_turn["labels"]) == 3 and not {"r0", "r1", "r2"} & {
        x["annotator"] for x in bot_turn["labels"]
    }
