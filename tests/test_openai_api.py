"""Requests to OpenAI-compatible servers: which settings map, which are refused, and how the
client retries, against a real local HTTP server that answers as told."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from evaltool.errors import UserError
from evaltool.generation.openai_api import Client, request_params
from evaltool.generation.settings import GenerationSettings

SAMPLING = {"num_beams": 1, "no_repeat_ngram_size": 0}


class _Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next (status, headers, body, delay) of ``script``."""

    script: list[tuple[int, dict[str, str], bytes, float]] = []  # noqa: RUF012
    seen: list[dict[str, str]] = []  # noqa: RUF012

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).seen.append(dict(self.headers))
        status, headers, body, delay = self.script.pop(0)
        time.sleep(delay)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        pass  # a client that timed out hangs up before the answer: expected here


@pytest.fixture
def scripted() -> Iterator[str]:
    _Scripted.script, _Scripted.seen = [], []
    server = _Server(("127.0.0.1", 0), _Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


OK = (200, {"Content-Type": "application/json"}, b'{"choices": [{"text": "hi"}]}', 0.0)


def client(url: str, delays: list[float], **kwargs) -> Client:  # type: ignore[no-untyped-def]
    return Client(url, kwargs.pop("api_key", None), sleep=delays.append, **kwargs)


def test_retries_429_and_5xx_with_growing_backoff_and_retry_after(scripted) -> None:
    _Scripted.script = [
        (503, {}, b"overloaded", 0.0),
        (502, {}, b"", 0.0),
        (429, {"Retry-After": "1.5"}, b'{"error": {"message": "slow down"}}', 0.0),
        OK,
    ]
    delays: list[float] = []
    c = client(scripted, delays, api_key="k-123")
    assert c.post("/completions", {"prompt": "x"})["choices"][0]["text"] == "hi"
    assert c.retried == 3 and len(_Scripted.seen) == 4
    assert 0.25 <= delays[0] <= 0.5 and 0.5 <= delays[1] <= 1.0 and delays[2] == 1.5
    assert {h["Authorization"] for h in _Scripted.seen} == {"Bearer k-123"}


def test_gives_up_after_the_retries_with_one_line(scripted) -> None:
    _Scripted.script = [(503, {}, b'{"detail": "model loading"}', 0.0)] * 3
    with pytest.raises(UserError) as err:
        client(scripted, [], retries=2).post("/completions", {})
    text = str(err.value)
    assert "\n" not in text and err.value.field == "endpoint"
    assert "HTTP 503 model loading after 3 tries" in text and "re-run the same command" in text


def test_client_errors_are_not_retried_and_name_the_servers_reason(scripted) -> None:
    body = json.dumps({"error": {"message": "The model `x` does not exist."}}).encode()
    _Scripted.script = [(404, {}, body, 0.0)]
    with pytest.raises(UserError, match=r"answered HTTP 404: The model `x` does not exist\."):
        client(scripted, []).post("/chat/completions", {})
    assert len(_Scripted.seen) == 1


def test_timeouts_and_broken_answers_are_retried(scripted) -> None:
    _Scripted.script = [(200, {}, b"{}", 2.0), (200, {}, b"<html>", 0.0), OK]
    c = client(scripted, [], timeout=0.5)
    assert c.post("/completions", {})["choices"]
    assert c.retried == 2


def test_nothing_listening_is_retried_then_reported() -> None:
    with pytest.raises(UserError, match=r"no answer \(.*refused.*\) after 2 tries"):
        client("http://127.0.0.1:9/v1", [], retries=1).get("/models")


@pytest.mark.parametrize(
    ("changes", "api", "sent"),
    [
        (
            {"do_sample": False, "top_k": 0, "repetition_penalty": 1.0},
            "openai",
            {"temperature": 0.0},
        ),
        ({"min_new_tokens": 5, "repetition_penalty": 1.0}, "vllm", {"min_tokens": 5}),
        ({"top_p": 1.0, "top_k": 0, "repetition_penalty": 1.0}, "openai", {"top_p": 1.0}),
    ],
)
def test_settings_map_to_request_fields(changes: dict, api: str, sent: dict) -> None:
    params = request_params(GenerationSettings(**SAMPLING, **changes), api)
    assert params["max_tokens"] == 40 and sent.items() <= params.items()
    if api == "openai":
        assert not {"top_k", "repetition_penalty", "min_tokens"} & set(params)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"num_beams": 2}, "num_beams 2"),
        ({"length_penalty": 0.8}, "length_penalty 0.8"),
        ({"eos_token_id": 7}, "eos_token_id 7"),
        ({"min_new_tokens": 3}, "min_new_tokens 3"),
    ],
)
def test_what_a_server_cannot_do_is_refused(changes: dict, named: str) -> None:
    settings = {**SAMPLING, "top_k": 0, "repetition_penalty": 1.0, **changes}
    with pytest.raises(UserError, match=named):
        request_params(GenerationSettings(**settings))
    with pytest.raises(UserError, match="use openai or vllm"):
        request_params(GenerationSettings(**SAMPLING), "tgi")


def test_a_stopped_client_gives_up_instead_of_retrying(scripted) -> None:
    _Scripted.script = [(503, {}, b"busy", 0.0)] * 2
    c = Client(scripted, retries=5, backoff=60.0)
    threading.Timer(0.3, c.stop).start()
    started = time.monotonic()
    with pytest.raises(UserError, match="interrupted"):
        c.post("/completions", {})
    assert time.monotonic() - started < 5 and len(_Scripted.seen) == 1
