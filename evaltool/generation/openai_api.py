"""Talking to OpenAI-compatible servers (vLLM, TGI, llama.cpp, ``transformers serve``).

``request_params`` maps decoding settings to request fields and refuses, before anything is
sent, the settings a server cannot honour. ``Client`` sends JSON with the standard library,
retrying 429, 5xx, refused connections and timeouts with exponential backoff (and the
server's ``Retry-After``), so a busy or restarting server costs time, not contexts.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evaltool.errors import UserError
from evaltool.generation.settings import GenerationSettings

API_STYLES = ("openai", "vllm")
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_SEED = 2**31 - 1


def _flag(name: str) -> str:
    return "{" + name + "}"


def request_params(s: GenerationSettings, api: str = "openai") -> dict[str, Any]:
    """Request fields for ``s``; a user error naming every setting the server lacks.

    ``openai`` sends only the standard fields; ``vllm`` adds vLLM's extra sampling fields
    (``top_k``, ``repetition_penalty``, ``min_tokens``). Beam search and n-gram bans are
    neither, so the card's settings are refused until the user says what to drop.

    >>> request_params(GenerationSettings(num_beams=1, no_repeat_ngram_size=0, top_k=0,
    ...     repetition_penalty=1.0))
    {'max_tokens': 40, 'temperature': 1.2, 'top_p': 0.95}
    >>> request_params(GenerationSettings(num_beams=1, no_repeat_ngram_size=0), "vllm")
    {'max_tokens': 40, 'temperature': 1.2, 'top_p': 0.95, 'top_k': 10, 'repetition_penalty': 1.2}
    """
    if api not in API_STYLES:
        raise UserError(f"{api!r}: use openai or vllm", field="api")
    wanted = {"num_beams": 1, "no_repeat_ngram_size": 0, "length_penalty": 1.0}
    if api == "openai":
        wanted |= {"top_k": 0, "repetition_penalty": 1.0, "min_new_tokens": 0}
    refused = {k: v for k, v in wanted.items() if getattr(s, k) != v}
    if s.eos_token_id is not None:
        refused["eos_token_id"] = None
    if refused:
        have = ", ".join(f"{_flag(k)} {getattr(s, k)}" for k in refused)
        sets = " ".join(f"{_flag(k)} {v}" for k, v in refused.items() if v is not None)
        fix = " and ".join(
            ([f"set {sets}"] if sets else [])
            + (["leave out {eos_token_id}"] if s.eos_token_id is not None else [])
        )
        extra = " (or {api} vllm for top-k, repetition penalty and min tokens)" * (
            api == "openai" and bool({"top_k", "repetition_penalty", "min_new_tokens"} & {*refused})
        )
        raise UserError(
            f"an OpenAI-compatible server cannot take {have}: its requests have no such "
            f"fields (a server samples); {fix}{extra}",
            field="endpoint",
            settings=(*refused, "api"),
        )
    params: dict[str, Any] = {"max_tokens": s.max_new_tokens}
    if s.do_sample:
        params |= {"temperature": s.temperature, "top_p": s.top_p}
    else:
        params["temperature"] = 0.0
    if api == "vllm":
        if s.do_sample and s.top_k > 0:
            params["top_k"] = s.top_k
        if s.repetition_penalty != 1.0:
            params["repetition_penalty"] = s.repetition_penalty
        if s.min_new_tokens > 0:
            params["min_tokens"] = s.min_new_tokens
    return params


class ServerError(UserError):
    """The server refused a request for good (HTTP 4xx, or a status the caller will not retry);
    ``status`` and ``text`` are what it answered."""

    def __init__(self, message: str, status: int, text: str) -> None:
        super().__init__(message, field="endpoint")
        self.status = status
        self.text = text


class Retryable(Exception):
    """A failure worth another try: 429, 5xx, a refused or dropped connection, a timeout."""

    def __init__(self, why: str, retry_after: float | None = None) -> None:
        super().__init__(why)
        self.retry_after = retry_after


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None) -> float:
    """Seconds to wait before try ``attempt + 2``: the server's Retry-After when it gave one,
    else ``base * 2**attempt`` (at most ``cap``) with jitter, so clients do not retry in step.

    >>> backoff_delay(0, 0.5, 30, 2.0)
    2.0
    >>> 2.0 <= backoff_delay(3, 0.5, 30, None) <= 4.0
    True
    >>> backoff_delay(20, 0.5, 30, None) <= 30
    True
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), cap)
    delay = min(base * 2**attempt, cap)
    return delay / 2 + random.uniform(0, delay / 2)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _server_message(body: bytes) -> str:
    """The error text a server sent, in any of the usual shapes, on one line."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip().replace("\n", " ")[:300]
    err = data.get("error", data.get("detail", data)) if isinstance(data, dict) else data
    if isinstance(err, dict):
        err = err.get("message", err)
    return str(err).replace("\n", " ")[:300]


@dataclass
class Client:
    """JSON over HTTP to one server; safe to share between threads."""

    base_url: str
    api_key: str | None = None
    timeout: float = 120.0
    retries: int = 6
    backoff: float = 0.5
    max_backoff: float = 30.0
    sleep: Callable[[float], None] | None = None  # None: wait on ``stopped``
    retried: int = 0
    stopped: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def stop(self) -> None:
        """Make requests waiting to retry give up at once (the run is being interrupted)."""
        self.stopped.set()

    def get(self, path: str) -> dict[str, Any]:
        """GET ``path`` under the base URL, with retries."""
        return self._with_retries("GET", path, None)

    def post(
        self, path: str, body: dict[str, Any], final: frozenset[int] = frozenset()
    ) -> dict[str, Any]:
        """POST ``body`` as JSON to ``path`` under the base URL, with retries (but not on the
        statuses in ``final``)."""
        return self._with_retries("POST", path, body, final)

    def _with_retries(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        final: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        for attempt in range(self.retries + 1):
            try:
                return self._once(method, path, body, final)
            except Retryable as exc:
                if attempt == self.retries or self.stopped.is_set():
                    raise UserError(
                        f"{self.base_url}{path}: {exc} after {attempt + 1} tries; answered "
                        "contexts are kept, re-run the same command to finish",
                        field="endpoint",
                    ) from None
                with self._lock:
                    self.retried += 1
                delay = backoff_delay(attempt, self.backoff, self.max_backoff, exc.retry_after)
                if self.sleep is not None:
                    self.sleep(delay)
                elif self.stopped.wait(delay):
                    raise UserError("interrupted", field="endpoint") from None
        raise AssertionError("unreachable")

    def _once(
        self, method: str, path: str, body: dict[str, Any] | None, final: frozenset[int]
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.base_url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            text = _server_message(exc.read())
            if exc.code in RETRY_STATUS - final:
                raise Retryable(f"HTTP {exc.code} {text}", _retry_after(exc.headers)) from None
            raise ServerError(
                f"{self.base_url}{path} answered HTTP {exc.code}: {text or '(no message)'}",
                exc.code,
                text,
            ) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise Retryable(f"no answer ({reason})") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise Retryable("an answer that is not JSON") from None
