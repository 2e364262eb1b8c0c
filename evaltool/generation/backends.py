"""The registry of ways to answer: which responder a model name calls for, and which options
each takes. Adding a backend (a llama.cpp server with its own fields, say) is one responder
class and one entry here; the CLI reads its choices and refusals from this table. Torch-free:
each backend's module is imported only when it is made.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields
from typing import Any

from evaltool.catalog import REFERENCE_MODELS
from evaltool.errors import UserError
from evaltool.generation.responder import Responder

DEFAULT_MODELS = REFERENCE_MODELS


@dataclass(frozen=True)
class Backend:
    """One way of answering: where its responder and config live, the options only it takes,
    and what to tell a user who gives those options to another backend."""

    name: str
    responder: str  # "module:Class", imported when made
    config: str | None  # "module:Class" of its config, built from the options it has fields for
    only: tuple[str, ...]  # options that mean nothing to the other backends
    refusal: str  # shown after the flags given to the wrong backend

    def make(self, model: str, options: dict[str, Any]) -> Responder:
        """The responder for ``model``, configured from the options this backend knows."""
        cls = _load(self.responder)
        if self.config is None:
            return cls(model)
        config_cls = _load(self.config)
        known = {f.name for f in fields(config_cls)}
        given = {k: v for k, v in options.items() if k in known and v is not None}
        return cls(config_cls(model=model, **given))


def _load(path: str) -> Any:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


BACKENDS = {
    "local": Backend(
        "local",
        "evaltool.generation.local:LocalResponder",
        "evaltool.generation.local:LocalRunConfig",
        ("revision", "batch_size", "device", "dtype", "decoder", "decoding"),
        "only for local models; leave out with {endpoint}",
    ),
    "endpoint": Backend(
        "endpoint",
        "evaltool.generation.served:ServedResponder",
        "evaltool.generation.served:ServedConfig",
        ("api", "api_key_env", "concurrency", "timeout", "retries"),
        "only for served models; give {endpoint} URL too",
    ),
    "baseline": Backend(
        "baseline",
        "evaltool.generation.baselines:BaselineResponder",
        None,
        (),
        "not for baselines",
    ),
}


def backend_for(model: str, endpoint: str | None = None) -> Backend:
    """The backend a model name calls for: ``baseline:NAME``, a served model when an endpoint
    is given, else a local folder or hub id.

    >>> backend_for("baseline:echo").name, backend_for("m", "http://h/v1").name
    ('baseline', 'endpoint')
    """
    if model.startswith("baseline:"):
        return BACKENDS["baseline"]
    return BACKENDS["endpoint" if endpoint is not None else "local"]


def wrong_options(backend: Backend, given: set[str]) -> tuple[list[str], str] | None:
    """Options given that belong only to another backend, and that backend's refusal
    (baselines take every model's options in stride: they sit beside models in one run)."""
    if backend.name == "baseline":
        return None
    for other in BACKENDS.values():
        if other is backend or other.name == "baseline":
            continue
        wrong = [name for name in other.only if name in given and name not in backend.only]
        if wrong:
            return wrong, other.refusal
    return None


def check_models(models: tuple[str, ...], endpoint: str | None, system: str | None) -> None:
    """Refuse model lists the backends cannot take: one served model, one named system."""
    if endpoint is not None and len(models) != 1:
        raise UserError(
            "needs exactly one {model}: the name the server knows",
            field="endpoint",
            settings=("model",),
        )
    if system and len(models) > 1:
        raise UserError(
            "names one system: give it with a single {model}", field="system", settings=("model",)
        )


def make_responder(model: str, endpoint: str | None = None, **options: Any) -> Responder:
    """The responder for a model name, from the backend it calls for."""
    if endpoint is not None:
        options["endpoint"] = endpoint
    return backend_for(model, endpoint).make(model, options)
