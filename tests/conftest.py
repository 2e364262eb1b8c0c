"""Shared fixtures: temp SQLite and PostgreSQL databases, a CLI runner, a tiny-model factory."""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from evaltool.cli import cli
from evaltool.storage import db
from tests.chromium import ARGS, CHROMIUM
from tests.golden import tiny

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, reason: str) -> None:
    """Skip the test when ``condition`` is false, except in CI, where it must hold."""
    if not condition:
        if IN_CI:
            pytest.fail(f"CI must provide this: {reason}")
        pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by what they need, read off their fixtures: PostgreSQL (``pg_url``,
    ``pg_server``, the PostgreSQL half of ``any_url``) or a browser (``browser``). ``make
    check`` leaves these out, with ``slow`` ones (marked by hand)."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        on_pg = callspec is not None and callspec.params.get("any_url") == "postgresql"
        if on_pg or names & {"pg_url", "pg_server"}:
            item.add_marker(pytest.mark.postgres)
        if "browser" in names:
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run ``evaltool ARGS`` in-process inside ``tmp_path``; returns click's Result."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(db.ENV_VAR, raising=False)

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)

    return run


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database with the current schema."""
    url = f"sqlite:///{tmp_path / 'test.db'}"
    db.upgrade(db.make_engine(url, must_exist=False))
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server for the whole test session on 127.0.0.1; yields its base URL."""
    bindir = _pg_bin()
    need(bindir is not None, "PostgreSQL binaries not found (apt-get install postgresql)")
    assert bindir is not None
    pytest.importorskip("psycopg")
    root = Path(tempfile.mkdtemp(prefix="evaltool-pg-"))
    data = root / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-w",
            "-l",
            str(root / "log"),
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A fresh, empty PostgreSQL database on the session's server."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{pg_server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL on each backend (no schema yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'any.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def any_db(any_url: str):  # type: ignore[no-untyped-def]
    """An Engine with the current schema, on SQLite and on PostgreSQL."""
    engine = db.make_engine(any_url, must_exist=False)
    db.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    """Debian's chromium through Playwright, one for the session (pages get their own context)."""
    need(os.path.exists(CHROMIUM), "Debian chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@contextmanager
def served(url: str, cwd: Path, *args: str) -> Iterator[int]:
    """`evaltool annotate [ARGS]` on a free port for the block; stopped (SIGTERM) after it."""
    port = free_port()
    proc = serve(url, port, cwd, args=list(args))
    try:
        yield port
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if the process has not ended after 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _page_servers() -> set[int]:
    """Pids of running servers that tests start: annotation pages (Streamlit running
    annotate_app) and model servers (``transformers serve``)."""
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        page = any(b"streamlit" in a for a in args) and any(b"annotate_app" in a for a in args)
        model = any(a.endswith(b"transformers") for a in args[:2]) and b"serve" in args
        if (page or model) and _ours(int(cmdline.parent.name)):
            found.add(int(cmdline.parent.name))
    return found


def _ours(pid: int) -> bool:
    """Whether ``pid`` descends from this pytest process or was orphaned (its parent died):
    servers of another test session running beside this one are left alone."""
    first = True
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() or (first and ppid == 1):
            return True
        pid, first = ppid, False
    return False


_SERVERS_BEFORE = _page_servers()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a test left a server behind (and stop it)."""
    left = _page_servers() - _SERVERS_BEFORE
    if left:
        for pid in left:
            with suppress(OSError):
                os.kill(pid, 9)
        print(f"\nFAILED: servers left running: {sorted(left)}", file=sys.stderr)
        session.exitstatus = 1


def serve(
    url: str, port: int, cwd: Path, command: list[str] | None = None, args: list[str] | None = None
) -> subprocess.Popen:
    """`evaltool annotate` on ``port``; returns once the page's health check answers.

    ``command`` replaces ``python -m evaltool`` (an installed console script, say).
    """
    env = {**os.environ, "EVALTOOL_DB": url}
    proc = subprocess.Popen(
        [*(command or [sys.executable, "-m", "evaltool"]), "annotate", "--port", str(port)]
        + (args or []),
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("the annotation page did not start")


def build_tokenizer():  # type: ignore[no-untyped-def]
    """The exact ruDialoGPT tokenizer: the vendored ruGPT3 vocabulary plus the speaker tokens."""
    return tiny.build_tokenizer()


def make_tiny_model(folder: Path, seed: int = 0, eos_boost: float = 4.0) -> Path:
    """Save a random 2-layer GPT-2 (``tests/golden/tiny.py``) with the real tokenizer;
    ``eos_boost`` makes it stop early now and then, so stopping and padding paths run."""
    tiny.build_model(seed, eos_boost).save_pretrained(folder)
    build_tokenizer().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a tiny random GPT-2 and the ruDialoGPT tokenizer, loadable by --model."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"))


# A ChatML template, as Qwen's: the turn ends with <|im_end|>, a special token of its own.
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def make_tiny_chat_model(folder: Path, seed: int = 1) -> Path:
    """A tiny random GPT-2 whose tokenizer has a chat template (ChatML, two added special
    tokens that fit the tiny vocabulary) and whose generation config samples, as chat models'
    do; ``<|im_end|>`` is made likely so replies end."""
    import torch
    from transformers import GenerationConfig

    tok = build_tokenizer()
    tok.add_tokens(["<|im_start|>", "<|im_end|>"], special_tokens=True)
    tok.eos_token = "<|im_end|>"
    tok.chat_template = CHATML
    model = tiny.build_model(seed, eos_boost=1.0)
    with torch.no_grad():
        model.transformer.wte.weight[tok.eos_token_id] *= 4.0
    model.generation_config = GenerationConfig(
        do_sample=True, eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id
    )
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a tiny chat model: ``--prompt-format auto`` picks its chat template."""
    return make_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat-model"))


def make_pool(
    engine,
    contexts: int = 100,
    systems: int = 2,
    ranks: tuple[int, ...] = (0, 1),
    turns=None,
    text=None,
) -> list[int]:  # type: ignore[no-untyped-def]
    """Contexts answered by each system at ``ranks``; returns the rank-0 response ids.

    ``turns(i)`` and ``text(system_name, i)`` override the default context and reply texts.
    """
    from evaltool.storage.schema import Context, Dataset, Response, System

    turns = turns or (lambda i: ["привет", f"реплика {i}"])
    text = text or (lambda name, i: f"{name} c{i}")
    with db.session_scope(engine) as s:
        ds = Dataset(name="d")
        s.add(ds)
        s.flush()
        ctxs = [
            Context(dataset_id=ds.id, external_id=f"c{i}", turns=turns(i)) for i in range(contexts)
        ]
        syss = [System(name=f"sys{j}", kind="model") for j in range(systems)]
        s.add_all([*ctxs, *syss])
        s.flush()
        rows = [
            Response(context_id=c.id, system_id=y.id, rank=r, text=text(y.name, i))
            for y in syss
            for i, c in enumerate(ctxs)
            for r in ranks
        ]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows if r.rank == 0]


SERVE = Path(sys.executable).parent / "transformers"


def _serving_installed() -> bool:
    return SERVE.exists() and all(
        importlib.util.find_spec(m) for m in ("fastapi", "uvicorn", "openai")
    )


@contextmanager
def transformers_serve(port: int) -> Iterator[subprocess.Popen]:
    """``transformers serve`` on 127.0.0.1:``port`` (models load on their first request)."""
    need(_serving_installed(), "transformers[serving] is not installed (make install)")
    command = [str(SERVE), "serve", "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                    break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise AssertionError("transformers serve did not start") from None
                time.sleep(0.3)
        yield proc
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def served_rudialogpt(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny ruDialoGPT-format model with a generation config that samples: a server keeps
    the model's own ``do_sample`` and only overrides temperature and top-p."""
    from transformers import GenerationConfig

    folder = tmp_path_factory.mktemp("served-rudialogpt")
    for path in tiny_model.iterdir():
        shutil.copy(path, folder / path.name)
    GenerationConfig(do_sample=True, eos_token_id=50257, pad_token_id=0).save_pretrained(folder)
    return folder


def study_workers(url: str, link, names: list[str], decide) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    """Study workers in threads of this process, each from the study link (``link(name)``,
    its query) to the code through the page's own path (``flow``), some answering twice (a
    double click); (code, answers stored) per worker. ``decide(task, rng)`` gives the call
    that answers the task on screen: ``send(engine, token)`` returning the next view."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    from evaltool.annotation import flow
    from evaltool.annotation.studies import join_study

    engine = db.make_engine(url)

    def one(name: str) -> tuple[str, int]:
        query = dict(q.split("=") for q in link(name).split("&"))
        token = join_study(engine, query["study"], query).token
        rng = random.Random(name)
        stored, screen = 0, flow.view(engine, token, rng)
        while screen.kind == "task" and screen.task is not None:
            send = decide(screen.task, rng)
            for _ in range(2 if rng.random() < 0.2 else 1):
                screen = send(engine, token)
                stored += screen.stored
        assert screen.kind == "finished" and screen.code, screen
        return screen.code, stored

    with ThreadPoolExecutor(len(names)) as threads:
        done = list(threads.map(one, names))
    engine.dispose()
    return done
