"""``evaltool perplexity``: how well a model predicts a dataset's human reference replies.

Meena reported that perplexity tracks SSA. The text scored for each context is exactly what
``generate`` would ask the model to continue: the prompt it builds, then the reference reply
and the end of the turn (for ruDialoGPT `` reply @@ПЕРВЫЙ@@``). Perplexity is exp of the mean
negative log-likelihood per scored token, over all contexts that have a reference. Sequences are
right-padded so that padding never shifts a position; a prompt too long for the model keeps
its end, as in ``generate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from evaltool.errors import UserError
from evaltool.generation.local import LocalConfig
from evaltool.generation.prompting import AUTO, PromptFormat, resolve
from evaltool.storage.db import session_scope
from evaltool.storage.systems import dataset_contexts, record_perplexity, require_system

DEFAULT_BATCH = 16


@dataclass(frozen=True)
class PerplexityConfig(LocalConfig):
    """What to score (the system's stored prompt format unless told otherwise) and how."""

    system: str = ""
    dataset: str | None = None
    batch_size: int | None = DEFAULT_BATCH


@dataclass(frozen=True)
class Scored:
    """Perplexity, the tokens it was measured on, and the contexts they came from."""

    perplexity: float
    tokens: int
    contexts: int


def sequences(
    tok: Any,
    fmt: PromptFormat,
    turns: list[list[str]],
    replies: list[str],
    room: int | None,
    context_turns: int,
    system_prompt: str | None = None,
) -> list[tuple[list[int], int]]:
    """(token ids, how many of them at the end are scored) per context."""
    out = []
    for t, reply in zip(turns, replies, strict=True):
        head = fmt.encode(tok, fmt.prompt(t, context_turns, system_prompt, tok))
        full = fmt.encode(tok, fmt.answered(t, context_turns, system_prompt, tok, reply))
        tail = full[len(head) :]
        if room is not None and len(head) + len(tail) > room:
            head = head[-max(room - len(tail), 1) :]
            tail = tail[: room - len(head)]
        out.append((head + tail, len(tail)))
    return out


def score(loaded: Any, seqs: list[tuple[list[int], int]], batch_size: int) -> Scored:
    """Sum the negative log-likelihood of every scored token; batches are right-padded."""
    import torch

    from evaltool.generation.models import pad

    pad_id = loaded.tokenizer.pad_token_id or 0
    nll, tokens = 0.0, 0
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i][0]))
    for start in range(0, len(order), batch_size):
        batch = [seqs[i] for i in order[start : start + batch_size]]
        ids, mask = pad([s for s, _ in batch], pad_id, left=False)
        with torch.inference_mode():
            logits = loaded.model(
                input_ids=ids.to(loaded.device), attention_mask=mask.to(loaded.device)
            ).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        picked = logp.gather(-1, ids[:, 1:, None].to(loaded.device))[..., 0].cpu()
        for row, (s, n) in enumerate(batch):
            nll -= float(picked[row, len(s) - 1 - n : len(s) - 1].sum())
            tokens += n
    return Scored(math.exp(nll / tokens), tokens, len(seqs))


def run(engine: Engine, config: PerplexityConfig) -> Scored:
    """Score the dataset's reference replies with the model and store the result with the
    system (which must exist: generate or import its responses first)."""
    from evaltool.generation import models as eng

    if config.batch_size is None or config.batch_size < 1:
        raise UserError("must be 1 or more", field="batch_size")
    with session_scope(engine, readonly=True) as s:
        stored = require_system(s, config.system).settings  # before the model is loaded
    # Score with the prompts the system's responses were generated from, unless told otherwise.
    fmt_name = config.prompt_format
    if fmt_name == AUTO:
        fmt_name = stored.get("prompt_format", AUTO)
    system_prompt = config.system_prompt or stored.get("system_prompt")
    dataset, contexts, _ = dataset_contexts(engine, config.dataset)
    contexts = [c for c in contexts if c.reference]
    if not contexts:
        raise UserError(f"dataset {dataset.name!r} has no reference replies to score")
    device = eng.pick_device(config.device)
    loaded = eng.load(
        config.model,
        revision=config.revision,
        device=device,
        dtype=eng.pick_dtype(config.dtype, device),
    )
    fmt = resolve(fmt_name, loaded.tokenizer)
    room = loaded.positions()
    seqs = sequences(
        loaded.tokenizer,
        fmt,
        [c.turns for c in contexts],
        [c.reference or "" for c in contexts],
        room,
        config.context_turns,
        system_prompt,
    )
    result = score(loaded, seqs, config.batch_size)
    settings = {
        "context_turns": config.context_turns,
        "prompt_format": fmt.name,
        "system_prompt": system_prompt,
    }
    record_perplexity(
        engine,
        config.system,
        dataset.id,
        result.perplexity,
        result.tokens,
        result.contexts,
        config.model,
        settings,
    )
    return result
