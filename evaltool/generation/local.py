"""A local model as a responder: loaded once, decoded by the fast GPT-2 loop under either rule
or by transformers' ``generate``, in batches of contexts of similar prompt length."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import transformers

import evaltool
from evaltool.errors import UserError
from evaltool.generation import fastloop
from evaltool.generation import models as m
from evaltool.generation.prompting import PromptFormat, resolve
from evaltool.generation.responder import (
    Answered,
    Candidate,
    Conversation,
    Identity,
    PromptConfig,
    Responder,
)
from evaltool.generation.settings import GenerationSettings, system_name

# Contexts per batch: 64 keeps the matrix products efficient (bench/generate.py on a 2-core CPU,
# medium shape: 1.17 s per context at 32, 0.93 at 64, 0.94 at 128).
DEFAULT_BATCH_SIZE = 64
# Provenance that changes what a resumed run would produce.
BINDING = ("engine", "dtype", "weights")


@dataclass(frozen=True)
class LocalConfig(PromptConfig):
    """A model from a local folder or the hub cache, and where to run it."""

    revision: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int | None = None


@dataclass(frozen=True)
class LocalRunConfig(LocalConfig):
    """A local model that generates: its decoding settings and decoder."""

    settings: GenerationSettings = field(default_factory=GenerationSettings)
    decoder: str = "auto"


def prompt_ids(
    loaded: m.LocalModel,
    fmt: PromptFormat,
    config: PromptConfig,
    turns: list[str],
    keep: int | None,
) -> tuple[list[int], bool]:
    """The prompt's token ids, its end kept when longer than ``keep`` (the latest words: the
    model could not take it whole), and whether it was cut."""
    tok = loaded.tokenizer
    ids = fmt.encode(tok, fmt.prompt(turns, config.context_turns, config.system_prompt, tok))
    if keep is not None and len(ids) > keep:
        return ids[-keep:], True
    return ids, False


class LocalResponder(Responder):
    """Answers with a model loaded on this machine."""

    def __init__(self, config: LocalRunConfig) -> None:
        if config.batch_size is not None and config.batch_size < 1:
            raise UserError("must be 1 or more", field="batch_size")
        self.config = config
        self.settings = config.settings.validate()
        self.name = system_name(config.model)
        self.size = config.batch_size or DEFAULT_BATCH_SIZE
        self.cut: set[int] = set()
        self.encoded: dict[int, tuple[Conversation, list[int]]] = {}

    def prepare(self, pending: list[Conversation], everything: list[Conversation]) -> None:
        """Load the model (once) and check that it can run these settings."""
        del pending, everything
        if not hasattr(self, "loaded"):
            self._load()

    def _load(self) -> None:
        config = self.config
        device = m.pick_device(config.device)
        dtype = m.pick_dtype(config.dtype, device)
        self.loaded = m.load(config.model, revision=config.revision, device=device, dtype=dtype)
        tok = self.loaded.tokenizer
        self.fmt = resolve(config.prompt_format, tok)
        s = self.settings
        self.eos_id = s.eos_token_id if s.eos_token_id is not None else self.fmt.stop_id(tok)
        self.decoder = fastloop.choose(config.decoder, self.loaded, s.decoding)
        self.keep = self._room()
        stored = {
            **s.to_dict(),
            "eos_token_id": self.eos_id,
            "context_turns": config.context_turns,
            "prompt_format": self.fmt.name,
            "system_prompt": config.system_prompt,
        }
        provenance = {
            "engine": self.decoder.name,
            "decoding": s.decoding,
            "dtype": m.dtype_name(dtype),
            "weights": m.weights_id(config.model, config.revision),
            **self.run_log(),
        }
        self.identity = Identity(
            "model", config.model, config.revision, stored, provenance, BINDING
        )

    def _room(self) -> int | None:
        room = self.loaded.positions()
        if room is None:
            return None
        keep = room - self.settings.max_new_tokens
        if keep < 1:
            raise UserError(
                f"max_new_tokens {self.settings.max_new_tokens} leaves no room for a prompt in "
                f"this model's {room} positions"
            )
        return keep

    def run_log(self) -> dict[str, Any]:
        """Device, batch size and versions: recorded per run, free to change between runs."""
        return {
            "device": str(self.loaded.device),
            "batch_size": self.size,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "evaltool": evaltool.__version__,
        }

    @property
    def concurrent(self) -> bool:  # type: ignore[override]
        """Whether batches may be answered side by side: only when every draw comes from the
        conversation's own stream (evaltool's loop, not replay, not transformers' generate)."""
        return bool(getattr(getattr(self, "decoder", None), "concurrent", False))

    def _ids(self, conv: Conversation) -> list[int]:
        ids, cut = prompt_ids(self.loaded, self.fmt, self.config, conv.turns, self.keep)
        if cut:
            self.cut.add(conv.id)
        return ids

    def batches(self, pending: list[Conversation]) -> list[list[Conversation]]:
        """Contexts of similar prompt length together, longest first; the prompts encoded here
        are kept for ``respond``."""
        self.encoded = {id(c): (c, self._ids(c)) for c in pending}
        return make_batches(pending, [len(self.encoded[id(c)][1]) for c in pending], self.size)

    def _encoded(self, conv: Conversation) -> list[int]:
        kept = self.encoded.pop(id(conv), None)
        return kept[1] if kept is not None and kept[0] is conv else self._ids(conv)

    def respond(self, batch: list[Conversation]) -> Iterator[Answered]:
        """The whole batch at once, candidates in the decoding rule's order."""
        prompts = [self._encoded(c) for c in batch]
        t0 = time.perf_counter()
        outputs = self.decoder.generate(prompts, self.settings, self.eos_id, [c.key for c in batch])
        elapsed = round((time.perf_counter() - t0) / len(batch), 4)
        tok = self.loaded.tokenizer
        answered: Answered = []
        for conv, ids_in, candidates in zip(batch, prompts, outputs, strict=True):
            meta = {"elapsed_s": elapsed, "prompt_tokens": len(ids_in)}
            answered.append(
                (
                    conv,
                    [
                        Candidate(
                            self.fmt.extract(tok.decode(ids, skip_special_tokens=True)),
                            {**meta, "new_tokens": len(ids)},
                        )
                        for ids in candidates
                    ],
                )
            )
        yield answered

    def facts(self) -> dict[str, Any]:
        """How many prompts were cut to the model's length."""
        return {"truncated_prompts": len(self.cut)}

    def describe(self) -> str:
        """Decoding rule, decoder, device, dtype and batch size; prompts cut, if any."""
        p = self.identity.provenance
        text = (
            f" [{p['decoding']} decoding, {p['engine']} engine, {p['device']}, {p['dtype']}, "
            f"batch {p['batch_size']}]"
        )
        if self.cut:
            text += f"; {len(self.cut)} prompts cut to the model's length from the left"
        return text


def make_batches(items: list[Any], lengths: list[int], batch_size: int) -> list[list[Any]]:
    """Group items of similar length (sorted longest first) into batches of ``batch_size``.

    >>> make_batches(["a", "b", "c"], [1, 5, 3], 2)
    [['b', 'c'], ['a']]
    """
    order = sorted(range(len(items)), key=lambda i: -lengths[i])
    return [[items[i] for i in order[j : j + batch_size]] for j in range(0, len(order), batch_size)]
