"""``evaltool generate --endpoint``: answer contexts with a model behind an OpenAI-compatible
server, ``concurrency`` requests in flight, resumably.

Chat formats go to ``/chat/completions`` as role messages (the server applies the model's
template); text formats go to ``/completions`` with their stop strings. Each candidate is its
own request with its own seed (servers differ on ``n``), and a context's candidates are
committed together once all have arrived, so an interrupted run loses only contexts in flight
and a re-run skips the rest. No torch here: a served run needs no local model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

import evaltool
from evaltool.errors import UserError
from evaltool.generation.openai_api import MAX_SEED, Client, request_params
from evaltool.generation.prompting import AUTO, PromptFormat, messages, resolve
from evaltool.generation.run import Summary, system_name
from evaltool.generation.settings import GenerationSettings, context_key
from evaltool.storage.schema import Context, Response
from evaltool.storage.systems import (
    SystemSpec,
    close_run,
    pending_contexts,
    register_system,
    store_batch,
)


@dataclass(frozen=True)
class ServedConfig:
    """What to ask which server, and how hard to push it."""

    endpoint: str
    model: str
    settings: GenerationSettings
    dataset: str | None = None
    system: str | None = None
    limit: int | None = None
    context_turns: int = 3
    prompt_format: str = AUTO
    system_prompt: str | None = None
    api: str = "openai"
    api_key_env: str | None = None
    concurrency: int = 4
    timeout: float = 120.0
    retries: int = 6
    seed: int = 0


@dataclass
class ServedSummary(Summary):
    """What a served run did, for the closing line, and what the server said it was."""

    retried: int = 0
    server_models: set[str] = field(default_factory=set)
    fingerprints: set[str] = field(default_factory=set)


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


def run_served(
    engine: Engine, config: ServedConfig, *, progress: Callable[[int, int], Any] | None = None
) -> ServedSummary:
    """Answer every pending context through the server; every check runs before the system
    is registered, so a refused run leaves nothing behind."""
    settings = config.settings.validate()
    _check_config(config)
    params = request_params(settings, config.api)
    fmt = resolve(config.prompt_format, None)
    if fmt.name == "rudialogpt" and config.system_prompt:
        fmt.prompt(["x"], 1, config.system_prompt, None)  # raises the format's own error
    client = Client(
        config.endpoint.rstrip("/"),
        _api_key(config.api_key_env),
        timeout=config.timeout,
        retries=config.retries,
    )
    name = config.system or system_name(config.model)
    dataset, todo, skipped = pending_contexts(engine, config.dataset, name, config.limit)
    listed = served_models(client)
    stored = {
        "decoding": "server",
        "request": params,
        "candidates": settings.num_return_sequences,
        "api": config.api,
        "context_turns": config.context_turns,
        "prompt_format": fmt.name,
        "system_prompt": config.system_prompt,
        "seed": config.seed,
    }
    provenance = {"engine": "endpoint", "weights": f"served:{config.model}"}
    run_log = {
        "endpoint": config.endpoint,
        "listed_models": listed,
        "concurrency": config.concurrency,
        "evaltool": evaltool.__version__,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "contexts": len(todo),
    }
    spec = SystemSpec(name, "model", config.model, None, stored, provenance)
    system_id = register_system(engine, spec, run_log)
    summary = ServedSummary(system=name, skipped=skipped)
    keys = {c.id: context_key(config.seed, dataset.name, c.external_id) for c in todo}
    start = time.perf_counter()
    try:
        _run_pool(engine, client, config, fmt, params, todo, keys, system_id, summary, progress)
    finally:  # an interrupted run's log says what it did, too
        summary.seconds = time.perf_counter() - start
        summary.retried = client.retried
        facts = {
            "answered_as": sorted(summary.server_models),
            "system_fingerprints": sorted(summary.fingerprints),
            "retried": summary.retried,
            "answered": summary.contexts,
        }
        close_run(engine, system_id, facts)
    return summary


def _run_pool(
    engine: Engine,
    client: Client,
    config: ServedConfig,
    fmt: PromptFormat,
    params: dict[str, Any],
    todo: list[Context],
    keys: dict[int, int],
    system_id: int,
    summary: ServedSummary,
    progress: Callable[[int, int], Any] | None,
) -> None:
    """Keep ``concurrency`` requests in flight; commit each context when its last candidate
    arrives. The first failure that retries cannot mend stops the run; what was committed
    stays."""
    n = config.settings.num_return_sequences
    jobs = [(c, rank) for c in todo for rank in range(n)]
    got: dict[int, dict[int, dict[str, Any]]] = {}
    if progress:
        progress(len(todo), 0)
    with ThreadPoolExecutor(config.concurrency) as pool:
        pending: dict[Future[dict[str, Any]], tuple[Context, int]] = {}
        queue = iter(jobs)
        try:
            while True:
                while len(pending) < config.concurrency:
                    job = next(queue, None)
                    if job is None:
                        break
                    ctx, rank = job
                    path, body = request_body(fmt, config, ctx.turns, params)
                    body["seed"] = (keys[ctx.id] + rank) % MAX_SEED
                    pending[pool.submit(_ask, client, path, body)] = job
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    ctx, rank = pending.pop(future)
                    got.setdefault(ctx.id, {})[rank] = future.result()
                    if len(got[ctx.id]) == n:
                        _commit(engine, fmt, system_id, ctx, got.pop(ctx.id), summary)
                        if progress:
                            progress(len(todo), 1)
        finally:
            client.stop()  # retries waiting give up, so an interrupted run ends promptly
            for future in pending:
                future.cancel()


def _commit(
    engine: Engine,
    fmt: PromptFormat,
    system_id: int,
    ctx: Context,
    answers: dict[int, dict[str, Any]],
    summary: ServedSummary,
) -> None:
    rows = []
    for rank in sorted(answers):
        meta = dict(answers[rank])
        text = fmt.extract(meta.pop("text"))
        if meta["server_model"]:
            summary.server_models.add(str(meta["server_model"]))
        if meta["system_fingerprint"]:
            summary.fingerprints.add(str(meta["system_fingerprint"]))
        rows.append(
            Response(context_id=ctx.id, system_id=system_id, rank=rank, text=text, meta=meta)
        )
        summary.responses += 1
        summary.empty += text == ""
        summary.new_tokens += meta["new_tokens"] or 0
    store_batch(engine, rows)
    summary.contexts += 1
