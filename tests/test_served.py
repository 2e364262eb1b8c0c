"""``generate --endpoint`` against a real OpenAI-compatible server: ``transformers serve`` on
tiny local models, for completions and chat completions, killed and restarted mid-run, and
behind a proxy that answers 429 and 503 now and then."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evaltool.storage import db
from evaltool.storage.schema import Response, System

from .conftest import free_port, transformers_serve

# What the card's settings become on a server that only samples (request fields of OpenAI's).
SAMPLING = [
    "--num-beams",
    "1",
    "--no-repeat-ngram-size",
    "0",
    "--top-k",
    "0",
    "--repetition-penalty",
    "1.0",
    "--max-new-tokens",
    "12",
    "--num-return-sequences",
    "2",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The base URL of one ``transformers serve`` shared by this module's tests."""
    port = free_port()
    with transformers_serve(port):
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def shipped(run_cli, tmp_path: Path) -> str:
    assert run_cli("init").exit_code == 0
    assert run_cli("contexts", "import", "--builtin").exit_code == 0
    return f"sqlite:///{tmp_path / 'evaltool.db'}"


def stored(url: str, system: str) -> tuple[System, list[Response]]:
    with db.session_scope(db.make_engine(url)) as s:
        row = s.scalars(select(System).where(System.name == system)).one()
        s.expunge(row)
        rows = list(s.scalars(select(Response).where(Response.system_id == row.id)))
        for r in rows:
            s.expunge(r)
    return row, rows


def test_completions_in_the_rudialogpt_format_resume(run_cli, shipped, server, served_rudialogpt):
    args = ["generate", "--endpoint", server, "--model", str(served_rudialogpt)]
    args += ["--prompt-format", "rudialogpt", "--system", "tiny", "--limit", "6", *SAMPLING]
    result = run_cli(*args, "--concurrency", "3")
    assert result.exit_code == 0, result.output
    assert "6 contexts, 12 responses" in result.stdout
    assert "6/6" in result.stderr and "ctx" in result.stderr  # the progress bar
    system, rows = stored(shipped, "tiny")
    assert sorted((r.context_id, r.rank) for r in rows) == [
        (c, k) for c in range(1, 7) for k in (0, 1)
    ]
    assert system.settings["request"] == {"max_tokens": 12, "temperature": 1.2, "top_p": 0.95}
    assert system.settings["prompt_format"] == "rudialogpt"
    assert system.settings["decoding"] == "server"
    assert system.provenance["engine"] == "endpoint"
    run = system.provenance["runs"][0]
    assert run["endpoint"] == server and run["answered_as"] == [str(served_rudialogpt)]
    assert run["system_fingerprints"] == [] and run["retried"] == 0
    assert all(r.meta["server_model"] == str(served_rudialogpt) for r in rows)
    assert all(0 < r.meta["new_tokens"] <= 12 and r.meta["prompt_tokens"] > 0 for r in rows)
    assert not any("@@" in r.text for r in rows)
    again = run_cli(*args)
    assert "0 contexts, 0 responses" in again.stdout and "6 already done" in again.stdout
    # the same name with other settings is refused, as for local models
    other = run_cli(*args, "--temperature", "0.7")
    assert other.exit_code == 2 and "temperature" in other.stderr


def _label_rows(url: str, systems: list[str]) -> list[dict]:
    with db.session_scope(db.make_engine(url)) as s:
        from evaltool.storage.schema import Context

        ids = [c.external_id for c in s.scalars(select(Context).order_by(Context.id).limit(6))]
    return [
        {"context_id": cid, "system": name, "annotator": f"r{r}", "sensible": ok, "specific": ok}
        for name in systems
        for i, cid in enumerate(ids)
        for r in range(3)
        for ok in [(i + r + len(name)) % 3 != 0]
    ]


def test_a_model_without_chat_template_is_told_its_format_at_once(
    run_cli, shipped, server, served_rudialogpt
):
    """``auto`` sends chat messages to a served model; ``transformers serve`` answers a bare
    HTTP 500 for a model without a chat template. One request, no retries, one line that
    quotes the server and names the formats that work, and nothing registered."""
    args = ["generate", "--endpoint", server, "--model", str(served_rudialogpt), *SAMPLING]
    result = run_cli(*args, "--limit", "2", "--retries", "6")
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("error: --prompt-format: ")
    assert "answered HTTP 500: Internal Server Error" in line and "rudialogpt or plain" in line
    assert "tries" not in line  # not retried
    with db.session_scope(db.make_engine(shipped)) as s:
        assert s.scalar(select(func.count(System.id))) == 0


def test_chat_models_local_and_served_reach_the_report_beside_rudialogpt(
    run_cli, shipped, tmp_path, server, tiny_model, tiny_chat_model
):
    base = ["generate", "--limit", "6"]
    assert run_cli(*base, "--model", str(tiny_model), "--system", "ruDialoGPT-tiny").exit_code == 0
    chat = ["--model", str(tiny_chat_model), "--system-prompt", "Отвечай кратко."]
    assert run_cli(*base, *chat, "--system", "chat-local").exit_code == 0
    served = [*base, *chat, "--system", "chat-served", "--endpoint", server, *SAMPLING]
    result = run_cli(*served)
    assert result.exit_code == 0, result.output
    system, rows = stored(shipped, "chat-served")
    assert system.settings["prompt_format"] == "chat-template"  # auto, for a served model
    assert system.settings["system_prompt"] == "Отвечай кратко."
    assert len(rows) == 12 and not any("<|im_" in r.text for r in rows)
    assert {r.meta["finish_reason"] for r in rows} <= {"stop", "length"}
    systems = ["ruDialoGPT-tiny", "chat-local", "chat-served"]
    (tmp_path / "labels.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _label_rows(shipped, systems))
    )
    assert run_cli("labels", "import", "labels.jsonl").exit_code == 0
    report = run_cli("report")
    assert report.exit_code == 0, report.output
    data = json.loads(next((tmp_path / "reports").glob("*/report.json")).read_text())
    by_name = {s["name"]: s for s in data["systems"]}
    assert set(systems) <= set(by_name)
    assert by_name["chat-served"]["decoding"] == "server"
    assert by_name["chat-local"]["decoding"] == by_name["ruDialoGPT-tiny"]["decoding"] == "card"
    assert all(by_name[n]["contexts"] == 6 for n in systems)
    md = next((tmp_path / "reports").glob("*/report.md")).read_text()
    assert all(f"| {n} |" in md for n in systems)


def test_card_settings_and_missing_key_refused_before_any_request(run_cli, shipped):
    # Port 9 (discard) on localhost: nothing listens, so a request would fail differently.
    args = ["generate", "--endpoint", "http://127.0.0.1:9/v1", "--model", "m", "--limit", "2"]
    result = run_cli(*args)
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("error: --endpoint: ")
    assert "--num-beams 3" in line and "--no-repeat-ngram-size 2" in line
    assert "set --num-beams 1 --no-repeat-ngram-size 0" in line and "--api vllm" in line
    result = run_cli(*args, *SAMPLING, "--api-key-env", "EVALTOOL_TEST_UNSET_KEY")
    assert result.exit_code == 2
    assert "--api-key-env: environment variable EVALTOOL_TEST_UNSET_KEY is not set" in result.stderr
    with db.session_scope(db.make_engine(shipped)) as s:
        assert s.scalars(select(System)).first() is None


class _Flaky(BaseHTTPRequestHandler):
    """Forwards to the real server, but answers some requests 429 (with Retry-After) or 503."""

    upstream = ""
    count = 0
    injected = 0
    auth: set[str] = set()  # noqa: RUF012 (set per test below)
    lock = threading.Lock()

    def log_message(self, *args) -> None:  # quiet
        pass

    def _forward(self, body: bytes | None) -> None:
        cls = type(self)
        with cls.lock:
            cls.count += 1
            n = cls.count
            cls.auth.add(self.headers.get("Authorization", ""))
        if body is not None and n % 4 in (1, 3):
            with cls.lock:
                cls.injected += 1
            status = 429 if n % 4 == 1 else 503
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "busy, try again"}}')
            return
        request = urllib.request.Request(cls.upstream + self.path, body, method=self.command)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=60) as answer:
            payload = answer.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._forward(None)

    def do_POST(self) -> None:
        self._forward(self.rfile.read(int(self.headers["Content-Length"])))


def test_every_request_succeeds_through_429_and_503(
    run_cli, shipped, server, served_rudialogpt, monkeypatch
):
    _Flaky.upstream = server.removesuffix("/v1")
    _Flaky.count = _Flaky.injected = 0
    _Flaky.auth = set()
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    secret = "sk-evaltool-test-7f3a"
    monkeypatch.setenv("EVALTOOL_TEST_KEY", secret)
    try:
        url = f"http://127.0.0.1:{proxy.server_address[1]}/v1"
        args = ["generate", "--endpoint", url, "--model", str(served_rudialogpt), "--limit", "10"]
        args += ["--prompt-format", "rudialogpt", "--api-key-env", "EVALTOOL_TEST_KEY"]
        result = run_cli(*args, *SAMPLING, "--concurrency", "4")
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert result.exit_code == 0, result.output
    assert _Flaky.injected >= 10 and f"{_Flaky.injected} requests retried" in result.stdout
    _, rows = stored(shipped, served_rudialogpt.name)
    assert len(rows) == 20 and len({(r.context_id, r.rank) for r in rows}) == 20
    assert _Flaky.auth == {f"Bearer {secret}"}
    assert secret not in result.output
    dump = "\n".join(sqlite3.connect(shipped.removeprefix("sqlite:///")).iterdump())
    assert secret not in dump and "EVALTOOL_TEST_KEY" not in dump


def _answered(url: str) -> int:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
        return con.execute("SELECT COUNT(*) FROM responses WHERE rank = 0").fetchone()[0]


def test_server_killed_mid_run_then_the_same_command_completes(
    shipped, tmp_path, served_rudialogpt
):
    port = free_port()
    command = [sys.executable, "-m", "evaltool", "generate", "--db", shipped]
    command += ["--endpoint", f"http://127.0.0.1:{port}/v1", "--model", str(served_rudialogpt)]
    command += ["--prompt-format", "rudialogpt", "--limit", "30", *SAMPLING]
    command += ["--concurrency", "2", "--retries", "2"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with transformers_serve(port) as first:
        run = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.time() + 120
        while _answered(shipped) < 4 and run.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait()
        out, err = run.communicate(timeout=120)
    assert run.returncode == 2, out + err
    kept = _answered(shipped)
    assert 4 <= kept < 30
    assert "re-run the same command to finish" in err.strip().splitlines()[-1]
    with transformers_serve(port):
        rerun = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
    assert rerun.returncode == 0, rerun.stderr
    assert f"{kept} already done" in rerun.stdout and f"{30 - kept} contexts" in rerun.stdout
    _, rows = stored(shipped, served_rudialogpt.name)
    assert len(rows) == 60 and len({(r.context_id, r.rank) for r in rows}) == 60


def test_flags_of_the_other_kind_of_run_refused(run_cli, shipped):
    served = ["generate", "--endpoint", "http://127.0.0.1:9/v1", "--model", "m", *SAMPLING]
    result = run_cli(*served, "--device", "cpu", "--batch-size", "8")
    assert result.exit_code == 2
    assert "error: --batch-size, --device: only for local models" in result.stderr
    result = run_cli("generate", "--model", "m", "--concurrency", "8")
    assert result.exit_code == 2
    assert "error: --concurrency: only for served models; give --endpoint" in result.stderr
