"""``evaltool generate``: answer every context of a dataset with a model, resumably.

Contexts are sorted by prompt length and cut into batches; each batch's responses are
committed in one transaction, so an interrupted run loses at most the batch in flight and a
re-run skips the (context, system) pairs already answered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

import evaltool
from evaltool.errors import UserError
from evaltool.generation.prompting import AUTO, PromptFormat, resolve
from evaltool.generation.settings import GenerationSettings, context_key
from evaltool.reference import REFERENCE_MODELS
from evaltool.storage.schema import Context, Response
from evaltool.storage.systems import SystemSpec, pending_contexts, register_system, store_batch

DEFAULT_MODELS = REFERENCE_MODELS
# Contexts per batch: 64 keeps the matrix products efficient (bench/generate.py on a 2-core CPU,
# medium shape: 1.17 s per context at 32, 0.93 at 64, 0.94 at 128).
DEFAULT_BATCH_SIZE = 64


@dataclass(frozen=True)
class RunConfig:
    """What to generate and how."""

    model: str
    settings: GenerationSettings
    dataset: str | None = None
    system: str | None = None
    revision: str | None = None
    limit: int | None = None
    context_turns: int = 3
    prompt_format: str = AUTO
    system_prompt: str | None = None
    batch_size: int | None = None
    device: str = "auto"
    dtype: str = "auto"
    seed: int = 0
    engine: str = "auto"


@dataclass
class Summary:
    """What a run did, for the closing line."""

    system: str
    contexts: int = 0
    responses: int = 0
    empty: int = 0
    skipped: int = 0
    new_tokens: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        """New tokens generated per second of wall time."""
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


def system_name(model: str) -> str:
    """The default system name: the model's last path part.

    >>> system_name("tinkoff-ai/ruDialoGPT-small")
    'ruDialoGPT-small'
    """
    return model.rstrip("/").split("/")[-1]


@dataclass
class Prepared:
    """A loaded model with everything a run derives from it."""

    loaded: Any
    backend: Any
    fmt: PromptFormat
    eos_id: int
    spec: SystemSpec
    run: dict[str, Any]


def prepare(config: RunConfig, name: str) -> Prepared:
    """Load the model and check that it can run these settings; nothing is written."""
    import torch
    import transformers

    from evaltool.generation import engines as eng
    from evaltool.generation import fastloop as fastgen

    settings = config.settings
    device = eng.pick_device(config.device)
    dtype = eng.pick_dtype(config.dtype, device)
    loaded = eng.load(config.model, revision=config.revision, device=device, dtype=dtype)
    tok = loaded.tokenizer
    fmt = resolve(config.prompt_format, tok)
    eos_id = settings.eos_token_id if settings.eos_token_id is not None else fmt.stop_id(tok)
    backend = fastgen.choose(config.engine, loaded, settings.decoding)
    stored = {
        **settings.to_dict(),
        "eos_token_id": eos_id,
        "context_turns": config.context_turns,
        "prompt_format": fmt.name,
        "system_prompt": config.system_prompt,
        "seed": config.seed,
    }
    run = {
        "device": str(device),
        "batch_size": config.batch_size or DEFAULT_BATCH_SIZE,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "evaltool": evaltool.__version__,
    }
    provenance = {
        "engine": backend.name,
        "decoding": settings.decoding,
        "dtype": eng.dtype_name(dtype),
        "weights": eng.weights_id(config.model, config.revision),
        **run,
    }
    spec = SystemSpec(name, "model", config.model, config.revision, stored, provenance)
    return Prepared(loaded, backend, fmt, eos_id, spec, run)


def build_prompts(
    prep: Prepared, todo: list[Context], config: RunConfig
) -> tuple[dict[int, list[int]], int]:
    """Token ids per context id, and how many prompts were cut to fit the model's positions.

    Overlong prompts keep their end (the latest words): the model could not take them whole.
    """
    tok, fmt, turns = prep.loaded.tokenizer, prep.fmt, config.context_turns
    prompts = {
        c.id: fmt.encode(tok, fmt.prompt(c.turns, turns, config.system_prompt, tok)) for c in todo
    }
    max_new = config.settings.max_new_tokens
    cfg = prep.loaded.model.config
    room = getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None)
    if room is None:
        return prompts, 0
    keep = room - max_new
    if keep < 1:
        raise UserError(
            f"max_new_tokens {max_new} leaves no room for a prompt in this model's {room} positions"
        )
    long = [cid for cid, ids in prompts.items() if len(ids) > keep]
    for cid in long:
        prompts[cid] = prompts[cid][-keep:]
    return prompts, len(long)


def run(
    engine: Engine, config: RunConfig, *, progress: Callable[[int, int], Any] | None = None
) -> Summary:
    """Generate responses for every pending context; returns what was done.

    ``progress(total, 0)`` is called once, then ``progress(total, n)`` after each batch.
    Every check runs before the system is registered, so a refused run leaves nothing behind.
    """
    settings = config.settings.validate()
    if config.batch_size is not None and config.batch_size < 1:
        raise UserError("the batch size must be 1 or more")
    name = config.system or system_name(config.model)
    dataset, todo, skipped = pending_contexts(engine, config.dataset, name, config.limit)
    prep = prepare(config, name)
    prompts, cut = build_prompts(prep, todo, config)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    system_id = register_system(
        engine, prep.spec, {**prep.run, "started": started, "contexts": len(todo)}
    )
    size = prep.run["batch_size"]
    summary = Summary(system=name, skipped=skipped)
    summary.extra = {**(prep.spec.provenance or {}), "truncated_prompts": cut}
    keys = {c.id: context_key(config.seed, dataset.name, c.external_id) for c in todo}
    if progress:
        progress(len(todo), 0)
    start = time.perf_counter()
    for batch in make_batches(todo, [len(prompts[c.id]) for c in todo], size):
        t0 = time.perf_counter()
        outputs = prep.backend.generate(
            [prompts[c.id] for c in batch], settings, prep.eos_id, [keys[c.id] for c in batch]
        )
        elapsed = (time.perf_counter() - t0) / len(batch)
        rows = _responses(prep, system_id, batch, outputs, prompts, elapsed, summary)
        store_batch(engine, rows)
        summary.contexts += len(batch)
        if progress:
            progress(len(todo), len(batch))
    summary.seconds = time.perf_counter() - start
    return summary


def _responses(
    prep: Prepared,
    system_id: int,
    batch: list[Context],
    outputs: list[list[list[int]]],
    prompts: dict[int, list[int]],
    elapsed: float,
    summary: Summary,
) -> list[Response]:
    """One batch's candidates as rows (rank = the decoding rule's order), counted in ``summary``."""
    tok = prep.loaded.tokenizer
    rows = []
    for ctx, candidates in zip(batch, outputs, strict=True):
        for rank, ids in enumerate(candidates):
            text = prep.fmt.extract(tok.decode(ids, skip_special_tokens=True))
            meta = {
                "elapsed_s": round(elapsed, 4),
                "prompt_tokens": len(prompts[ctx.id]),
                "new_tokens": len(ids),
            }
            rows.append(
                Response(context_id=ctx.id, system_id=system_id, rank=rank, text=text, meta=meta)
            )
            summary.new_tokens += len(ids)
            summary.responses += 1
            summary.empty += text == ""
    return rows


def make_batches(items: list[Any], lengths: list[int], batch_size: int) -> list[list[Any]]:
    """Group items of similar length (sorted longest first) into batches of ``batch_size``.

    >>> make_batches(["a", "b", "c"], [1, 5, 3], 2)
    [['b', 'c'], ['a']]
    """
    order = sorted(range(len(items)), key=lambda i: -lengths[i])
    return [[items[i] for i in order[j : j + batch_size]] for j in range(0, len(order), batch_size)]
