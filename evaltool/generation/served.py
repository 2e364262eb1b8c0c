"""A model behind an OpenAI-compatible server as a responder, ``concurrency`` requests in
flight.

Chat formats go to ``/chat/completions`` as role messages (the server applies the model's
template); text formats go to ``/completions`` with their stop strings. Each candidate is its
own request with its own seed (servers differ on ``n``), and a context is handed back once all
its candidates have arrived, so an interrupted run loses only contexts in flight. No torch
here: a served run needs no local model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import evaltool
from evaltool.errors import UserError
from evaltool.generation.openai_api import MAX_SEED, Client, ServerError, request_params
from evaltool.generation.prompting import PromptFormat, messages, resolve
from evaltool.generation.responder import (
    Answered,
    Candidate,
    Conversation,
    Identity,
    PromptConfig,
    Responder,
)
from evaltool.generation.settings import GenerationSettings, system_name


@dataclass(frozen=True)
class ServedConfig(PromptConfig):
    """What to ask which server, and how hard to push it."""

    endpoint: str = ""
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    api: str = "openai"
    api_key_env: str | None = None
    concurrency: int = 4
    timeout: float = 120.0
    retries: int = 6


def _api_key(name: str | None) -> str | None:
    if name is None:
        return None
    key = os.environ.get(name)
    if not key:
        raise UserError(f"environment variable {name} is not set", field="api_key_env")
    return key


def _check_config(config: ServedConfig) -> None:
    if config.concurrency < 1:
        raise UserError("must be 1 or more", field="concurrency")
    if config.retries < 0:
        raise UserError("must be 0 or more", field="retries")
    if config.timeout <= 0:
        raise UserError("must be more than 0 seconds", field="timeout")
    if not config.endpoint.startswith(("http://", "https://")):
        raise UserError(
            f"{config.endpoint!r}: give the server's base URL, like http://host:8000/v1",
            field="endpoint",
        )


def served_models(client: Client) -> list[str]:
    """The model ids the server lists: asked first, so that an unreachable server or a wrong
    URL fails before the system is registered. (Servers that load on demand, as
    ``transformers serve``, list only what they hold, so the list is recorded, not enforced.)"""
    listed = client.get("/models").get("data") or []
    return [str(m.get("id")) for m in listed if isinstance(m, dict)]


def request_body(
    fmt: PromptFormat, config: ServedConfig, turns: list[str], params: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The path and body that ask for one candidate reply to ``turns`` (seed not yet set)."""
    body: dict[str, Any] = {"model": config.model, **params}
    if fmt.chat:
        body["messages"] = messages(turns, config.context_turns, config.system_prompt)
        return "/chat/completions", body
    body["prompt"] = fmt.prompt(turns, config.context_turns, config.system_prompt, None)
    if fmt.stop_strings():
        body["stop"] = fmt.stop_strings()
    return "/completions", body


def _ask(client: Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    answer = client.post(path, body)
    choices = answer.get("choices") or []
    if not choices:
        raise UserError(f"{client.base_url}{path} answered without choices", field="endpoint")
    choice = choices[0]
    text = choice.get("text")
    if text is None:
        text = (choice.get("message") or {}).get("content") or ""
    usage = answer.get("usage") or {}
    return {
        "text": text,
        "elapsed_s": round(time.perf_counter() - t0, 4),
        "prompt_tokens": usage.get("prompt_tokens"),
        "new_tokens": usage.get("completion_tokens"),
        "finish_reason": choice.get("finish_reason"),
        "server_model": answer.get("model"),
        "system_fingerprint": answer.get("system_fingerprint") or None,
    }


class ServedResponder(Responder):
    """Answers through an OpenAI-compatible server."""

    concurrent = True  # every request carries its own seed

    def __init__(self, config: ServedConfig) -> None:
        self.config = config
        self.settings = config.settings.validate()
        _check_config(config)
        self.params = request_params(self.settings, config.api)
        self.fmt = resolve(config.prompt_format, None)
        if self.fmt.name == "rudialogpt" and config.system_prompt:
            self.fmt.prompt(["x"], 1, config.system_prompt, None)  # raises the format's own error
        self.client = Client(
            config.endpoint.rstrip("/"),
            _api_key(config.api_key_env),
            timeout=config.timeout,
            retries=config.retries,
        )
        self.name = system_name(config.model)
        self.server_models: set[str] = set()
        self.fingerprints: set[str] = set()
        self.listed: list[str] | None = None
        stored = {
            "decoding": "server",
            "request": self.params,
            "candidates": self.settings.num_return_sequences,
            "api": config.api,
            "context_turns": config.context_turns,
            "prompt_format": self.fmt.name,
            "system_prompt": config.system_prompt,
        }
        provenance = {"engine": "endpoint", "weights": f"served:{config.model}"}
        self.identity = Identity("model", config.model, None, stored, provenance, ("engine",))

    def prepare(self, pending: list[Conversation], everything: list[Conversation]) -> None:
        """Ask the server for its models first, so that a wrong URL fails before anything is
        written."""
        del everything
        if self.listed is None:
            self.listed = served_models(self.client)
            if pending and self.fmt.chat:
                self._probe_chat(pending[0])

    def _probe_chat(self, conv: Conversation) -> None:
        """One short chat request, not retried on HTTP 500: a server without the model's chat
        template fails it at once, and the user learns which format to use instead of waiting
        through the retries."""
        path, body = request_body(self.fmt, self.config, conv.turns, self.params)
        body["max_tokens"] = 1
        try:
            self.client.post(path, body, final=frozenset({500}))
        except ServerError as exc:
            about_template = "chat template" in exc.text.lower().replace("_", " ")
            if exc.status != 500 and not about_template:
                raise
            raise UserError(
                f"{exc.message}. A model without a chat template (ruDialoGPT has none) cannot "
                "take chat messages: use the rudialogpt or plain format",
                field="prompt_format",
            ) from None

    def run_log(self) -> dict[str, Any]:
        """The endpoint, what it listed, and how hard it was pushed."""
        return {
            "endpoint": self.config.endpoint,
            "listed_models": self.listed,
            "concurrency": self.config.concurrency,
            "evaltool": evaltool.__version__,
        }

    def respond(self, batch: list[Conversation]) -> Iterator[Answered]:
        """Keep ``concurrency`` requests in flight; hand back each context when its last
        candidate arrives. The first failure that retries cannot mend stops the run."""
        n = self.settings.num_return_sequences
        jobs = iter([(c, rank) for c in batch for rank in range(n)])
        got: dict[int, dict[int, Candidate]] = {}
        finished = False
        with ThreadPoolExecutor(self.config.concurrency) as pool:
            pending: dict[Future[Candidate], tuple[Conversation, int]] = {}
            try:
                while True:
                    while len(pending) < self.config.concurrency:
                        job = next(jobs, None)
                        if job is None:
                            break
                        pending[pool.submit(self._ask, *job)] = job
                    if not pending:
                        break
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        conv, rank = pending.pop(future)
                        got.setdefault(conv.id, {})[rank] = future.result()
                        if len(got[conv.id]) == n:
                            answers = got.pop(conv.id)
                            yield [(conv, [answers[r] for r in sorted(answers)])]
                finished = True
            finally:
                if not finished:  # retries waiting give up, so an interrupted run ends promptly
                    self.client.stop()
                    for future in pending:
                        future.cancel()

    def _ask(self, conv: Conversation, rank: int) -> Candidate:
        path, body = request_body(self.fmt, self.config, conv.turns, self.params)
        body["seed"] = (conv.key + rank) % MAX_SEED
        meta = _ask(self.client, path, body)
        text = self.fmt.extract(meta.pop("text"))
        if meta["server_model"]:
            self.server_models.add(str(meta["server_model"]))
        if meta["system_fingerprint"]:
            self.fingerprints.add(str(meta["system_fingerprint"]))
        return Candidate(text, meta)

    def facts(self) -> dict[str, Any]:
        """The models and fingerprints the server answered as, and the requests retried."""
        return {
            "answered_as": sorted(self.server_models),
            "system_fingerprints": sorted(self.fingerprints),
            "retried": self.client.retried,
        }

    def describe(self) -> str:
        """Requests retried and the server."""
        return f", {self.client.retried} requests retried [served by {self.config.endpoint}]"
