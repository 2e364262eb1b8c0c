"""``evaltool generate``: answer every context of a dataset with a model, resumably.

Contexts are sorted by prompt length and cut into batches; each batch's responses are
committed in one transaction, so an interrupted run loses at most the batch in flight and a
re-run skips the (context, system) pairs already answered.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from evaltool.contexts import resolve_dataset
from evaltool.db import session_scope
from evaltool.errors import UserError
from evaltool.prompting import FORMATS, PromptFormat
from evaltool.schema import Context, Response, System

DEFAULT_MODELS = ("tinkoff-ai/ruDialoGPT-small", "tinkoff-ai/ruDialoGPT-medium")


@dataclass(frozen=True)
class RunConfig:
    """What to generate and how; ``settings`` is an ``engines.GenerationSettings``."""

    model: str
    settings: Any
    dataset: str | None = None
    system: str | None = None
    revision: str | None = None
    limit: int | None = None
    context_turns: int = 3
    prompt_format: str = "rudialogpt"
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


def batch_seed(seed: int, context_ids: Iterable[int]) -> int:
    """A seed for one batch that depends only on the run seed and the batch's contexts."""
    digest = hashlib.sha256(f"{seed}:{','.join(map(str, context_ids))}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def default_batch_size(device_type: str) -> int:
    """Contexts per batch: 64 keeps the matrix products efficient (measured by bench/generate.py
    on a 2-core CPU: 1.17 s per context at 32, 0.93 at 64, 0.94 at 128 for the medium shape)."""
    return 64


def ensure_system(
    engine: Engine,
    name: str,
    kind: str,
    model: str | None,
    revision: str | None,
    settings: dict[str, Any],
) -> int:
    """Create the system, or reuse it when model and settings match; a mismatch is an error."""
    with session_scope(engine) as s:
        row = s.scalars(select(System).where(System.name == name)).one_or_none()
        if row is None:
            row = System(name=name, kind=kind, model=model, revision=revision, settings=settings)
            s.add(row)
            s.flush()
            return row.id
        if (row.kind, row.model, row.revision, row.settings) != (kind, model, revision, settings):
            changed = sorted(
                k
                for k in set(settings) | set(row.settings)
                if settings.get(k) != row.settings.get(k)
            ) or ["model/revision"]
            raise UserError(
                f"system {name!r} already exists with other settings ({', '.join(changed)}); "
                "pass --system NEWNAME to keep both"
            )
        return row.id


def pending_contexts(
    engine: Engine, dataset: str | None, system_id: int, limit: int | None
) -> tuple[list[Context], int]:
    """Contexts of the dataset not yet answered by the system (first ``limit`` by id), and
    how many were already done."""
    with session_scope(engine, readonly=True) as s:
        ds = resolve_dataset(s, dataset)
        contexts = list(
            s.scalars(select(Context).where(Context.dataset_id == ds.id).order_by(Context.id))
        )
        if limit is not None:
            contexts = contexts[:limit]
        done = set(
            s.scalars(
                select(Response.context_id).where(
                    Response.system_id == system_id, Response.rank == 0
                )
            )
        )
    return [c for c in contexts if c.id not in done], sum(c.id in done for c in contexts)


def store_batch(engine: Engine, system_id: int, rows: list[Response]) -> None:
    """Write one batch's responses in one transaction; a batch someone else wrote is an error."""
    try:
        with session_scope(engine) as s:
            s.add_all(rows)
    except IntegrityError:
        raise UserError(
            "another process wrote responses for the same system meanwhile; run one "
            "`evaltool generate` per system at a time, then re-run to finish"
        ) from None


def make_batches(items: list[Any], lengths: list[int], batch_size: int) -> list[list[Any]]:
    """Group items of similar length (sorted longest first) into batches of ``batch_size``.

    >>> make_batches(["a", "b", "c"], [1, 5, 3], 2)
    [['b', 'c'], ['a']]
    """
    order = sorted(range(len(items)), key=lambda i: -lengths[i])
    return [[items[i] for i in order[j : j + batch_size]] for j in range(0, len(order), batch_size)]


def run(
    engine: Engine, config: RunConfig, *, progress: Callable[[int, int], Any] | None = None
) -> Summary:
    """Generate responses for every pending context; returns what was done.

    ``progress(total, 0)`` is called once, then ``progress(total, n)`` after each batch.
    """
    from evaltool import engines as eng
    from evaltool import fastgen

    settings = config.settings.validate()
    fmt: PromptFormat = FORMATS[config.prompt_format]
    name = config.system or system_name(config.model)
    device = eng.pick_device(config.device)
    dtype = eng.pick_dtype(config.dtype, device)
    loaded = eng.load(config.model, revision=config.revision, device=device, dtype=dtype)
    tok = loaded.tokenizer
    stop_ids = [tok.convert_tokens_to_ids(t) for t in fmt.special_tokens]
    if any(i is None or i == tok.unk_token_id for i in stop_ids):
        raise UserError(
            f"model {config.model}: tokenizer lacks the speaker tokens {fmt.special_tokens}"
        )
    eos_id = settings.eos_token_id if settings.eos_token_id is not None else stop_ids[0]
    backend = fastgen.choose(config.engine, loaded)
    stored = {
        **settings.to_dict(),
        "eos_token_id": eos_id,
        "context_turns": config.context_turns,
        "prompt_format": fmt.name,
        "seed": config.seed,
    }
    system_id = ensure_system(engine, name, "model", config.model, config.revision, stored)
    todo, skipped = pending_contexts(engine, config.dataset, system_id, config.limit)
    summary = Summary(system=name, skipped=skipped)
    summary.extra = {"engine": backend.name, "device": str(device), "dtype": str(dtype)}
    prompts = {c.id: tok.encode(fmt.build(c.turns, config.context_turns)) for c in todo}
    room = getattr(loaded.model.config, "n_positions", None) or getattr(
        loaded.model.config, "max_position_embeddings", None
    )
    if room is not None:
        keep = room - settings.max_new_tokens
        if keep < 1:
            raise UserError(
                f"--max-new-tokens {settings.max_new_tokens} leaves no room for a "
                f"prompt in this model's {room} positions"
            )
        # Overlong prompts keep their end (the latest words); the model could not take them whole.
        long = [cid for cid, ids in prompts.items() if len(ids) > keep]
        for cid in long:
            prompts[cid] = prompts[cid][-keep:]
        summary.extra["truncated_prompts"] = len(long)
    size = config.batch_size or default_batch_size(device.type)
    summary.extra["batch_size"] = size
    batches = make_batches(todo, [len(prompts[c.id]) for c in todo], size)
    if config.batch_size is not None and config.batch_size < 1:
        raise UserError("--batch-size must be 1 or more")
    if progress:
        progress(len(todo), 0)
    start = time.perf_counter()
    for batch in batches:
        t0 = time.perf_counter()
        seed = batch_seed(config.seed, [c.id for c in batch])
        outputs = backend.generate([prompts[c.id] for c in batch], settings, eos_id, seed)
        elapsed = (time.perf_counter() - t0) / len(batch)
        rows = []
        for ctx, candidates in zip(batch, outputs, strict=True):
            for rank, ids in enumerate(candidates):
                text = fmt.extract(tok.decode(ids, skip_special_tokens=True))
                meta = {
                    "seed": seed,
                    "elapsed_s": round(elapsed, 4),
                    "prompt_tokens": len(prompts[ctx.id]),
                    "new_tokens": len(ids),
                }
                rows.append(
                    Response(
                        context_id=ctx.id, system_id=system_id, rank=rank, text=text, meta=meta
                    )
                )
                summary.new_tokens += len(ids)
                summary.responses += 1
                summary.empty += text == ""
        store_batch(engine, system_id, rows)
        summary.contexts += len(batch)
        if progress:
            progress(len(todo), len(batch))
    summary.seconds = time.perf_counter() - start
    return summary
