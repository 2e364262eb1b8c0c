"""Database engine, sessions and schema versioning (SQLite by default, PostgreSQL by URL).

SQLite connections get WAL, a busy timeout and foreign keys, and write transactions start
with ``BEGIN IMMEDIATE`` so two writers queue for the lock instead of failing with
"database is locked" when a read upgrades to a write.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.orm import Session

from evaltool.errors import UserError

DEFAULT_URL = "sqlite:///evaltool.db"
ENV_VAR = "EVALTOOL_DB"
BUSY_TIMEOUT_MS = 30_000
# Connections kept per process: the page serves many people from one process.
SQLITE_POOL = {"pool_size": 16, "max_overflow": 48}
POSTGRES_POOL = {"pool_size": 10, "max_overflow": 30}
MIGRATIONS = Path(__file__).parent / "migrations"
# PostgreSQL's codes for a transaction it rolled back to resolve a conflict: deadlock detected,
# serialization failure. Running it again is the documented remedy.
RETRY_CODES = ("40P01", "40001")
RETRIES = 3
T = TypeVar("T")


def resolve_url(url: str | None = None) -> str:
    """The database URL: ``--db`` first, then ``$EVALTOOL_DB``, then ``sqlite:///evaltool.db``.

    ``postgresql://`` URLs are sent to psycopg 3, so a plain URL is enough.

    >>> resolve_url("postgresql://u@localhost/ev")
    'postgresql+psycopg://u@localhost/ev'
    """
    url = url or os.environ.get(ENV_VAR) or DEFAULT_URL
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def shown(url: str | Engine) -> str:
    """The URL as it may be printed or logged: the password hidden.

    >>> shown("postgresql://ev:secret@db.example:5432/ev")
    'postgresql+psycopg://ev:***@db.example:5432/ev'
    """
    parsed = url.url if isinstance(url, Engine) else make_url(resolve_url(url))
    return parsed.render_as_string(hide_password=True)


def _sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _configure_sqlite(engine: Engine) -> None:
    """Turn on WAL, busy timeout and foreign keys; take the write lock when a transaction begins."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # SQLAlchemy, not sqlite3, emits BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        mode = "DEFERRED" if conn.get_execution_options().get("readonly") else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str | None = None, *, must_exist: bool = True) -> Engine:
    """Create an engine for ``url``; with ``must_exist`` a missing SQLite file is a user error.

    The check keeps a mistyped path from leaving an empty database file behind.
    """
    url = resolve_url(url)
    path = _sqlite_path(url)
    if path is not None and must_exist and not path.exists():
        raise UserError(f"database {path} does not exist: create it first", step="init")
    if path is not None and not path.parent.exists():
        raise UserError(f"folder {path.parent} for the database does not exist")
    try:
        if url.startswith("sqlite"):
            pool = SQLITE_POOL if path is not None else {}
            engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, **pool)
            _configure_sqlite(engine)
        else:
            engine = create_engine(url, pool_pre_ping=True, **POSTGRES_POOL)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise UserError(f"cannot use database URL {url!r}: {exc}") from None
    return engine


def as_engine(db: str | Engine | None) -> Engine:
    """Accept a URL, None (the default database) or an Engine, and return an Engine.

    Engines made from URLs are kept, one per URL, so callers such as the page can pass a URL
    on every call without paying for a new connection pool each time.
    """
    return db if isinstance(db, Engine) else _connect_cached(resolve_url(db))


@functools.lru_cache(maxsize=16)
def _connect_cached(url: str) -> Engine:
    return connect(url)


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _write_lock(engine: Engine) -> threading.Lock | None:
    """One lock per SQLite file in this process, taken around each write transaction.

    SQLite lets one writer in at a time; waiters poll with growing sleeps, so under load a few
    unlucky threads wait seconds. Queueing them on a lock first keeps waits short and fair
    (other processes are still covered by the busy timeout).
    """
    if engine.dialect.name != "sqlite":
        return None
    key = str(engine.url.database)
    with _LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


@contextmanager
def session_scope(engine: Engine, *, readonly: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error (all or nothing)."""
    bind = engine.execution_options(readonly=True) if readonly else engine
    lock = None if readonly else _write_lock(engine)
    if lock is not None:
        lock.acquire()
    try:
        with Session(bind, expire_on_commit=False) as session, session.begin():
            yield session
    finally:
        if lock is not None:
            lock.release()


def retried(transaction: Callable[[], T]) -> T:
    """Run ``transaction`` (one whole session scope) again when PostgreSQL rolled it back to
    break a deadlock or a serialization conflict; nothing of the failed try was kept."""
    for attempt in range(RETRIES):
        try:
            return transaction()
        except DBAPIError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            if code not in RETRY_CODES or attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


@contextmanager
def created_once(what: str) -> Iterator[None]:
    """Turn a lost race on a unique name (another process created ``what`` between our check
    and our commit) into a one-line user error; wrap the whole transaction in it."""
    try:
        yield
    except IntegrityError:
        raise UserError(
            f"another process created {what} at the same moment; run the command again"
        ) from None


def _alembic_config(engine: Engine | None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest schema revision this version of evaltool knows."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(None))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision stored in the database, or None when it has no evaltool schema."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        why = " ".join(str(exc.orig).split())  # drivers write several lines; errors take one
        raise UserError(f"cannot open database {shown(engine)}: {why}") from None


def upgrade(engine: Engine, to: str = "head") -> tuple[str | None, str]:
    """Create the schema or bring it to the newest revision (or ``to``); returns (before,
    after)."""
    from alembic import command

    before = current_revision(engine)
    command.upgrade(_alembic_config(engine), to)
    return before, head_revision() if to == "head" else to


def autogenerate_migration(message: str) -> str:
    """Write the next migration file from the difference between the newest migration and
    ``storage.schema`` (for contributors: ``make migration MESSAGE="what changed"``); returns
    its path."""
    import tempfile

    from alembic import command

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/head.db", must_exist=False)
        upgrade(engine)
        rev = f"{int(head_revision()) + 1:04d}"
        cfg = _alembic_config(engine)
        script = command.revision(cfg, message, autogenerate=True, rev_id=rev)
        engine.dispose()
    assert script is not None and not isinstance(script, list)
    return script.path


def require_schema(engine: Engine) -> None:
    """Raise a user error saying what to do when the schema is missing or old."""
    url = shown(engine)
    current = current_revision(engine)
    if current is None:
        raise UserError(f"database {url} has no evaltool tables: create them first", step="init")
    if current != head_revision():
        raise UserError(
            f"database {url} is at schema {current}, this evaltool needs {head_revision()}: "
            "upgrade it first",
            step="init",
        )


def connect(url: str | None = None) -> Engine:
    """Open an existing evaltool database and check its schema is current."""
    engine = make_engine(url, must_exist=True)
    require_schema(engine)
    return engine
