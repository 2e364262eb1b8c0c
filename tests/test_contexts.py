"""Validation-set import: good files, idempotency, and every bad input refused whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evaltool.errors import UserError
from evaltool.storage import db
from evaltool.storage.contexts import import_contexts, read_contexts
from evaltool.storage.schema import Context, Dataset

GOOD = [
    {"id": "c1", "turns": ["Привет!"], "reference": "Привет!"},
    {"id": "c2", "turns": ["Ты любишь кино?", "Да.", "А какой жанр?"]},
]


def jsonl(rows: list[object]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def count_contexts(url: str) -> int:
    with db.session_scope(db.make_engine(url)) as s:
        return s.scalar(select(func.count(Context.id))) or 0


@pytest.fixture
def cli_db(run_cli, tmp_path: Path) -> str:
    assert run_cli("init").exit_code == 0
    return f"sqlite:///{tmp_path / 'evaltool.db'}"


def test_import_jsonl_then_again_adds_nothing(run_cli, cli_db, tmp_path: Path) -> None:
    (tmp_path / "val.jsonl").write_bytes(jsonl(GOOD))
    first = run_cli("contexts", "import", "val.jsonl")
    assert first.exit_code == 0, first.output
    assert "added 2 contexts" in first.output
    second = run_cli("contexts", "import", "val.jsonl")
    assert second.exit_code == 0
    assert "nothing new" in second.output
    assert count_contexts(cli_db) == 2
    with db.session_scope(db.make_engine(cli_db)) as s:
        assert s.scalars(select(Dataset.name)).all() == ["val"]
        c2 = s.scalars(select(Context).where(Context.external_id == "c2")).one()
        assert c2.turns == GOOD[1]["turns"] and c2.reference is None


def test_import_csv_with_bom_and_ragged_turns(run_cli, cli_db, tmp_path: Path) -> None:
    text = "id,turn_1,turn_2,turn_3,reference\nc1,Привет,,,Здравствуй\nc2,a,b,c,\n"
    (tmp_path / "val.csv").write_bytes("\ufeff".encode() + text.encode())
    result = run_cli("contexts", "import", "val.csv", "--dataset", "mine")
    assert result.exit_code == 0, result.output
    with db.session_scope(db.make_engine(cli_db)) as s:
        rows = {c.external_id: c for c in s.scalars(select(Context))}
    assert rows["c1"].turns == ["Привет"] and rows["c1"].reference == "Здравствуй"
    assert rows["c2"].turns == ["a", "b", "c"] and rows["c2"].reference is None


def test_long_turns_are_stored_whole(sqlite_url: str, tmp_path: Path) -> None:
    long_turn = "слово " * 5000
    path = tmp_path / "long.jsonl"
    path.write_bytes(jsonl([{"id": "x", "turns": [long_turn.strip()]}]))
    engine = db.make_engine(sqlite_url)
    import_contexts(engine, path)
    with db.session_scope(engine) as s:
        assert s.scalars(select(Context.turns)).one() == [long_turn.strip()]


BAD = [
    ("bad.jsonl", b'{"id": "c1", "turns": ["a"]}\n{"id": "c2", "turns": [\n', ":2: invalid JSON"),
    ("bad.jsonl", jsonl([GOOD[0], {"turns": ["a"]}]), ":2: missing 'id'"),
    ("bad.jsonl", jsonl([{"id": "c1"}]), ":1: missing 'turns'"),
    ("bad.jsonl", jsonl([{"id": "c1", "turns": []}]), ":1: 'turns' is empty"),
    ("bad.jsonl", jsonl([{"id": "c1", "turns": "hi"}]), ":1: 'turns' must be a list"),
    ("bad.jsonl", jsonl([{"id": "c1", "turns": ["a", 5]}]), ":1: turn 2 is not a string"),
    ("bad.jsonl", jsonl([{"id": "c1", "turns": ["a", "  "]}]), ":1: turn 2 is blank"),
    ("bad.jsonl", jsonl([GOOD[0], GOOD[1], GOOD[0]]), ":3: duplicate id 'c1' (first on line 1)"),
    ("bad.jsonl", "Привет".encode("cp1251") + b"\n", ":1: not UTF-8 (looks like Windows-1251)"),
    ("bad.jsonl", '{"id": "c1"}'.encode("utf-16"), "not UTF-8 (looks like UTF-16)"),
    ("bad.jsonl", jsonl([GOOD[0]]) + b'{"id": "c\x002"}\n', ":2: contains NUL bytes"),
    ("bad.jsonl", b"", "file is empty"),
    ("bad.jsonl", b"\n  \n", "file is empty"),
    ("bad.jsonl", b"[1, 2]\n", ":1: expected a JSON object"),
    ("bad.csv", b"id,turn_1\nc1,\n", ":2: 'turns' is empty"),
    ("bad.csv", b"id,turn_1,turn_2\nc1,,b\n", ":2: turn 1 is blank"),
    ("bad.csv", b"id,text\nc1,hello\n", ":2: missing 'turns'"),
    ("bad.csv", b"turn_1\nhello\n", ":2: missing 'id'"),
    ("bad.txt", b"hello\n", "unknown file type .txt"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD, ids=[b[2] for b in BAD])
def test_bad_file_is_one_line_exit_2_and_writes_nothing(
    run_cli, cli_db: str, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    (tmp_path / name).write_bytes(content)
    result = run_cli("contexts", "import", name)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {name}")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert count_contexts(cli_db) == 0
    with db.session_scope(db.make_engine(cli_db)) as s:
        assert s.scalar(select(func.count(Dataset.id))) == 0


def test_conflicting_id_in_dataset_refused_whole(run_cli, cli_db: str, tmp_path: Path) -> None:
    (tmp_path / "val.jsonl").write_bytes(jsonl(GOOD))
    assert run_cli("contexts", "import", "val.jsonl").exit_code == 0
    changed = [{"id": "c3", "turns": ["новый"]}, {"id": "c2", "turns": ["другие", "реплики"]}]
    (tmp_path / "val.jsonl").write_bytes(jsonl(changed))
    result = run_cli("contexts", "import", "val.jsonl")
    assert result.exit_code == 2
    assert "val.jsonl:2: id 'c2' is already in dataset 'val' with different turns" in result.stderr
    assert count_contexts(cli_db) == 2  # c3 was not written either


def test_missing_file_and_neither_file_nor_builtin(run_cli, cli_db: str) -> None:
    assert "no such file" in run_cli("contexts", "import", "none.jsonl").stderr
    result = run_cli("contexts", "import")
    assert result.exit_code == 2 and "give either FILE or --builtin" in result.stderr


def test_read_contexts_strips_and_keeps_order(tmp_path: Path) -> None:
    path = tmp_path / "v.jsonl"
    path.write_bytes(jsonl([{"id": " a ", "turns": [" x "]}, {"id": 7, "turns": ["y"]}]))
    rows = read_contexts(path)
    assert [(r.external_id, r.turns, r.line) for r in rows] == [("a", ["x"], 1), ("7", ["y"], 2)]


def test_user_error_type_for_library_callers(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").write_text("")
    with pytest.raises(UserError, match="file is empty"):
        read_contexts(tmp_path / "e.jsonl")


def test_ids_and_names_longer_than_the_database_holds_are_refused(any_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL would raise mid-transaction; the import says which line instead."""
    (tmp_path / "long.jsonl").write_bytes(jsonl([*GOOD, {"id": "x" * 201, "turns": ["a"]}]))
    with pytest.raises(UserError, match=r"long.jsonl:3: 'id' is 201 characters; at most 200"):
        import_contexts(any_db, tmp_path / "long.jsonl")
    (tmp_path / "ok.jsonl").write_bytes(jsonl([{"id": "y" * 200, "turns": ["a"]}]))
    with pytest.raises(UserError, match="dataset: dataset name is 201 characters"):
        import_contexts(any_db, tmp_path / "ok.jsonl", "d" * 201)
    with db.session_scope(any_db) as s:
        assert s.scalar(select(func.count(Dataset.id))) == 0
    assert import_contexts(any_db, tmp_path / "ok.jsonl").added == 1


def test_two_processes_creating_one_name_at_once(any_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Racing creators of the same dataset or annotator: one wins, the others get one line."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from evaltool.annotation.accounts import add_annotator

    (tmp_path / "val.jsonl").write_bytes(jsonl(GOOD))
    for create in (
        lambda: import_contexts(any_db, tmp_path / "val.jsonl"),
        lambda: add_annotator(any_db, "anna"),
    ):
        barrier = Barrier(6)

        def racer(create=create, barrier=barrier):  # type: ignore[no-untyped-def]
            barrier.wait()
            try:
                create()
                return "ok"
            except UserError as exc:
                return str(exc)

        with ThreadPoolExecutor(6) as pool:
            outcomes = list(pool.map(lambda _: racer(), range(6)))
        assert outcomes.count("ok") >= 1, outcomes
        for o in outcomes:  # a later import of the same file is fine; a second "anna" is not
            assert o == "ok" or "at the same moment" in o or "exists" in o, o
