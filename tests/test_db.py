"""The storage spine on SQLite and PostgreSQL: migrations, pragmas, constraints, URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from evaltool.errors import UserError
from evaltool.storage import db
from evaltool.storage.schema import (
    Annotator,
    Base,
    Context,
    Dataset,
    Label,
    Response,
    System,
)


def test_migration_from_empty_matches_orm(any_url: str) -> None:
    engine = db.make_engine(any_url, must_exist=False)
    assert db.current_revision(engine) is None
    before, after = db.upgrade(engine)
    assert before is None and after == db.head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], diff
        assert set(inspect(conn).get_table_names()) >= {
            "datasets",
            "contexts",
            "systems",
            "responses",
            "annotators",
            "assignments",
            "labels",
            "gold_items",
            "settings",
            "alembic_version",
        }
    assert db.upgrade(engine) == (after, after)  # idempotent


def _seed(engine) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with db.session_scope(engine) as s:
        ds = Dataset(name="d")
        s.add(ds)
        s.flush()
        ctx = Context(dataset_id=ds.id, external_id="c1", turns=["привет"])
        sys_ = System(name="m", kind="model", settings={"top_k": 10})
        ann = Annotator(name="a", role="annotator")
        s.add_all([ctx, sys_, ann])
        s.flush()
        resp = Response(context_id=ctx.id, system_id=sys_.id, rank=0, text="ок", meta={})
        s.add(resp)
        s.flush()
        return resp.id, ann.id


def test_unique_constraints_are_the_last_guard(any_db) -> None:  # type: ignore[no-untyped-def]
    response_id, annotator_id = _seed(any_db)
    with db.session_scope(any_db) as s:
        s.add(
            Label(response_id=response_id, annotator_id=annotator_id, sensible=True, specific=True)
        )
    with pytest.raises(IntegrityError), db.session_scope(any_db) as s:
        s.add(
            Label(
                response_id=response_id, annotator_id=annotator_id, sensible=False, specific=False
            )
        )
    with pytest.raises(IntegrityError), db.session_scope(any_db) as s:
        ctx_id = s.scalars(select(Context.id)).one()
        sys_id = s.scalars(select(System.id)).one()
        s.add(Response(context_id=ctx_id, system_id=sys_id, rank=0, text="dup", meta={}))
    with pytest.raises(IntegrityError), db.session_scope(any_db) as s:
        s.add(
            Label(
                response_id=response_id,
                annotator_id=annotator_id + 99,
                sensible=True,
                specific=False,
            )
        )


def test_specific_requires_sensible_in_the_database(any_db) -> None:  # type: ignore[no-untyped-def]
    response_id, annotator_id = _seed(any_db)
    with pytest.raises(IntegrityError), db.session_scope(any_db) as s:
        s.add(
            Label(response_id=response_id, annotator_id=annotator_id, sensible=False, specific=True)
        )


def test_json_columns_round_trip_unicode(any_db) -> None:  # type: ignore[no-untyped-def]
    _seed(any_db)
    with db.session_scope(any_db) as s:
        assert s.scalars(select(Context.turns)).one() == ["привет"]
        assert s.scalars(select(System.settings)).one() == {"top_k": 10}


def test_sqlite_pragmas(sqlite_url: str) -> None:
    engine = db.make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_require_schema_says_what_to_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = db.make_engine(url, must_exist=False)
    with engine.connect() as conn:
        conn.execute(text("select 1"))
    with pytest.raises(UserError, match="no evaltool tables: create them first") as raised:
        db.require_schema(engine)
    assert raised.value.step == "init"
    db.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(UserError, match=r"at schema 0000.*upgrade it first") as raised:
        db.require_schema(engine)
    assert raised.value.step == "init"


def test_url_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(db.ENV_VAR, raising=False)
    assert db.resolve_url(None) == "sqlite:///evaltool.db"
    monkeypatch.setenv(db.ENV_VAR, "sqlite:///other.db")
    assert db.resolve_url(None) == "sqlite:///other.db"
    assert db.resolve_url("sqlite:///x.db") == "sqlite:///x.db"
    assert db.resolve_url("postgres://h/d") == "postgresql+psycopg://h/d"


def test_bad_url_and_missing_folder_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot use database URL"):
        db.make_engine("nosuchdb://x", must_exist=False)
    with pytest.raises(UserError, match="does not exist"):
        db.make_engine(f"sqlite:///{tmp_path}/nope/x.db", must_exist=False)


def test_init_via_env_var_on_postgres(run_cli, pg_url: str, monkeypatch) -> None:
    monkeypatch.setenv(db.ENV_VAR, pg_url)
    result = run_cli("init")
    assert result.exit_code == 0, result.output
    assert "created evaltool schema" in result.output
    assert "schema already at" in run_cli("init").output
    assert run_cli("status").exit_code == 0


def test_next_migration_is_autogenerated_and_empty_when_schema_matches(
    tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import shutil

    copy = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS, copy)
    monkeypatch.setattr(db, "MIGRATIONS", copy)
    path = Path(db.autogenerate_migration("nothing changed"))
    assert path.name == f"{int(db.head_revision()):04d}_nothing_changed.py"
    text = path.read_text()
    assert f"down_revision = '{int(db.head_revision()) - 1:04d}'" in text.replace('"', "'")
    assert "op." not in text  # the schema package and the migrations agree


def test_a_transaction_postgresql_rolls_back_for_a_deadlock_runs_again(pg_url: str) -> None:
    """Two transactions lock two rows in opposite orders: PostgreSQL aborts one (deadlock
    detected) and ``retried`` runs it again, so both finish."""
    import contextlib
    import threading

    engine = db.make_engine(pg_url, must_exist=False)
    db.upgrade(engine)
    with db.session_scope(engine) as s:
        s.add_all([Dataset(name="a"), Dataset(name="b")])
    both = threading.Barrier(2)
    tries: list[str] = []

    def lock_in_order(first: str, second: str) -> None:
        def transaction() -> None:
            tries.append(first)
            with db.session_scope(engine) as s:
                s.execute(select(Dataset).where(Dataset.name == first).with_for_update())
                with contextlib.suppress(threading.BrokenBarrierError):
                    both.wait(timeout=5)  # the run again: the other side finished, no wait
                s.execute(select(Dataset).where(Dataset.name == second).with_for_update())

        db.retried(transaction)

    threads = [threading.Thread(target=lock_in_order, args=p) for p in (("a", "b"), ("b", "a"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(tries) in (["a", "a", "b"], ["a", "b", "b"]), tries  # one ran twice
    engine.dispose()
