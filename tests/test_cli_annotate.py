"""Annotation commands: accounts and links, assignment settings, gold import, the server."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest
from sqlalchemy import select

from evaltool.storage import db
from evaltool.storage.schema import Annotator, GoldItem

from .conftest import _page_servers, free_port, serve
from .test_report import CONTEXTS, write_jsonl


def setup(run_cli, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    assert run_cli("init").exit_code == 0
    write_jsonl(tmp_path / "val.jsonl", CONTEXTS)
    run_cli("contexts", "import", "val.jsonl")
    write_jsonl(tmp_path / "r.jsonl", [{"context_id": c["id"], "response": "ок"} for c in CONTEXTS])
    run_cli("responses", "import", "r.jsonl", "--system", "m")
    return f"sqlite:///{tmp_path / 'evaltool.db'}"


def test_annotators_add_list_disable_rotate(run_cli, tmp_path: Path) -> None:
    url = setup(run_cli, tmp_path)
    out = run_cli("annotators", "add", "Анна", "--port", "9000").output.strip()
    assert out.startswith("http://127.0.0.1:9000/?token=")
    token = out.split("token=")[1]
    assert len(token) >= 32
    admin = run_cli("annotators", "add", "boss", "--admin").output
    assert "8501" in admin
    assert run_cli("annotators", "add", "Анна").exit_code == 2
    listing = run_cli("annotators", "list").output
    assert "Анна" in listing and "admin" in listing and token not in listing
    assert "disabled" in run_cli("annotators", "disable", "Анна").output
    new = run_cli("annotators", "rotate", "Анна").output.strip().split("token=")[1]
    assert new != token
    with db.session_scope(db.make_engine(url)) as s:
        row = s.scalars(select(Annotator).where(Annotator.name == "Анна")).one()
        assert row.active and token not in (row.token_hash or "")
    assert run_cli("annotators", "disable", "nobody").exit_code == 2


def test_assign_sets_overlap_and_validates(run_cli, tmp_path: Path) -> None:
    setup(run_cli, tmp_path)
    result = run_cli("assign", "--overlap", "5", "--lease-minutes", "10")
    assert result.exit_code == 0 and "overlap k=5, lease 10 min" in result.output
    assert "6 items (rank 0) in the pool, 6 still need labels" in result.output
    assert "overlap k=5" in run_cli("collection").output  # stored under its new name
    assert run_cli("collection", "--overlap", "0").exit_code == 2
    assert run_cli("assign", "--gold-rate", "2").exit_code == 2


def test_gold_import(run_cli, tmp_path: Path) -> None:
    url = setup(run_cli, tmp_path)
    write_jsonl(
        tmp_path / "g.jsonl",
        [
            {"context_id": "c0", "system": "m", "sensible": True, "specific": False},
            {"context_id": "c1", "system": "m", "sensible": "нет"},
        ],
    )
    result = run_cli("gold", "import", "g.jsonl")
    assert result.exit_code == 0 and "2 added, 0 updated" in result.output
    assert "0 added, 2 updated" in run_cli("gold", "import", "g.jsonl").output
    with db.session_scope(db.make_engine(url)) as s:
        rows = {(g.expected_sensible, g.expected_specific) for g in s.scalars(select(GoldItem))}
    assert rows == {(True, False), (False, None)}
    write_jsonl(tmp_path / "bad.jsonl", [{"context_id": "c9", "system": "m", "sensible": 1}])
    bad = run_cli("gold", "import", "bad.jsonl")
    assert bad.exit_code == 2 and "bad.jsonl:1: system 'm' has no response" in bad.stderr


def test_annotate_refuses_missing_database(run_cli, tmp_path: Path) -> None:
    result = run_cli("annotate", "--db", f"sqlite:///{tmp_path}/none.db")
    assert result.exit_code == 2 and "does not exist" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_annotate_stops_its_server_on_sigterm_and_sigint(
    sqlite_url: str, tmp_path: Path, sig
) -> None:  # type: ignore[no-untyped-def]
    """The process we started is the server: a signal to it leaves nothing serving."""
    port = free_port()
    proc = serve(sqlite_url, port, tmp_path)
    assert proc.pid in _page_servers()  # exec'd, not a child left to run on its own
    proc.send_signal(sig)
    assert proc.wait(timeout=20) is not None
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # nobody listens any more
    assert proc.pid not in _page_servers()
