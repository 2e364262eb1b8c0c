"""Local causal LMs: loading, the model's room for a prompt, padding, and decoding with
transformers' own ``generate``.

A decoder turns a batch of prompts (token ids) into ``num_return_sequences`` continuations
each. ``TransformersDecoder`` calls transformers' ``generate`` (today's decoding rule);
``generation.fastloop`` is evaltool's own loop for GPT-2 models, with both rules.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from evaltool.errors import UserError
from evaltool.generation.settings import GenerationSettings

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class LocalModel:
    """A model and its tokenizer on a device, ready to generate."""

    model: Any
    tokenizer: PreTrainedTokenizerBase
    device: torch.device
    dtype: torch.dtype

    def positions(self) -> int | None:
        """How many tokens the model can attend to (None: no fixed limit)."""
        cfg = self.model.config
        return getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None)


def pad(
    rows: list[list[int]], pad_id: int, device: Any = None, left: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask of equal-length rows, padded on the left (generation) or
    the right (scoring, where padding must not shift a position).

    >>> ids, mask = pad([[5, 6], [7]], 0)
    >>> ids.tolist(), mask.tolist()
    ([[5, 6], [0, 7]], [[1, 1], [0, 1]])
    """
    width = max(len(r) for r in rows)
    fill = [[pad_id] * (width - len(r)) for r in rows]
    ones = [[0] * (width - len(r)) for r in rows]
    ids = [f + r if left else r + f for f, r in zip(fill, rows, strict=True)]
    mask = [z + [1] * len(r) if left else [1] * len(r) + z for z, r in zip(ones, rows, strict=True)]
    return torch.tensor(ids, device=device), torch.tensor(mask, device=device)


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; other names are checked to exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"{name}: no CUDA device here (torch {torch.__version__})", field="device")
    if name == "mps" and not torch.backends.mps.is_available():
        raise UserError("mps: MPS is not available here", field="device")
    if name.split(":")[0] not in ("cpu", "cuda", "mps"):
        raise UserError(f"{name}: use auto, cpu, cuda, cuda:N or mps", field="device")
    return torch.device(name)


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto`` is fp32 on CPU (bf16 is many times slower there) and bf16/fp16 on a GPU."""
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if name not in DTYPES:
        raise UserError(f"{name}: use auto, fp32, fp16 or bf16", field="dtype")
    return DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    """The ``--dtype`` name of a torch dtype.

    >>> dtype_name(torch.bfloat16)
    'bf16'
    """
    return next(name for name, value in DTYPES.items() if value == dtype)


def weights_id(model_id: str, revision: str | None) -> str:
    """What identifies the weights: the hub commit the cache resolved the model to, or for a
    local folder a SHA-256 over its weight files (a changed folder is a different model)."""
    folder = Path(model_id)
    if folder.is_dir():
        digest = hashlib.sha256()
        for path in sorted(folder.iterdir()):
            if path.suffix in (".safetensors", ".bin", ".pt", ".pth") and path.is_file():
                digest.update(path.name.encode())
                with path.open("rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        digest.update(chunk)
        return "sha256:" + digest.hexdigest()
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model_id, "config.json", revision=revision)
    return f"commit:{Path(found).parent.name}" if isinstance(found, str) else f"ref:{revision}"


def load(
    model_id: str, *, revision: str | None, device: torch.device, dtype: torch.dtype
) -> LocalModel:
    """Load a model and tokenizer from a local folder or the hub cache, never running remote code.

    A model that is neither local nor reachable is a one-line user error.
    """
    transformers.utils.logging.disable_progress_bar()  # evaltool shows its own progress
    local = os.path.isdir(model_id)
    kwargs: dict[str, Any] = {"revision": revision, "trust_remote_code": False}
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_id, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(model_id, dtype=dtype, **kwargs)
    except (OSError, ValueError) as exc:
        if local:
            raise UserError(f"cannot load model from folder {model_id}: {exc}") from None
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        why = "HF_HUB_OFFLINE is set" if offline else "the hub cannot be reached"
        raise UserError(
            f"model {model_id} is not in the local Hugging Face cache and {why}; download it "
            f"where there is network (`hf download {model_id}`) or give a local model folder"
        ) from None
    model.to(device).eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LocalModel(model, tokenizer, device, dtype)


class Decoder(Protocol):
    """Decodes a batch of prompts into ``num_return_sequences`` continuations each."""

    name: str

    def generate(
        self, prompts: list[list[int]], settings: GenerationSettings, eos_id: int, seeds: list[int]
    ) -> list[list[list[int]]]:
        """Continuation token ids (prompt excluded, cut before eos) per prompt, in the rule's
        order; ``seeds`` holds each prompt's random-stream key."""
        ...


def cut_at(ids: list[int], stop_ids: set[int]) -> list[int]:
    """The ids before the first stop id.

    >>> cut_at([5, 6, 7, 6], {7})
    [5, 6]
    """
    for i, token in enumerate(ids):
        if token in stop_ids:
            return ids[:i]
    return ids


@dataclass
class TransformersDecoder:
    """transformers' own ``model.generate`` (today's decoding rule), with left padding.

    ``generate`` seeds torch per context and, when sampling, calls ``model.generate`` once per
    context, so a reply does not depend on its batch (transformers draws from one stream per
    call). Replay mode makes one call per batch seeded with the first seed, as a user would.
    """

    loaded: LocalModel
    replay: bool = False
    name: str = "hf"

    def generate(
        self, prompts: list[list[int]], settings: GenerationSettings, eos_id: int, seeds: list[int]
    ) -> list[list[list[int]]]:
        """Candidates per prompt (cut before eos), best first."""
        if self.replay or not settings.do_sample:
            return self._call(prompts, settings, eos_id, seeds[0])
        return [
            self._call([p], settings, eos_id, seed)[0]
            for p, seed in zip(prompts, seeds, strict=True)
        ]

    def _call(
        self, prompts: list[list[int]], s: GenerationSettings, eos_id: int, seed: int
    ) -> list[list[list[int]]]:
        pad_id = self.loaded.tokenizer.pad_token_id
        ids, mask = pad(prompts, pad_id)
        width = ids.shape[1]
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.loaded.model.generate(
                input_ids=ids.to(self.loaded.device),
                attention_mask=mask.to(self.loaded.device),
                do_sample=s.do_sample,
                num_beams=s.num_beams,
                num_return_sequences=s.num_return_sequences,
                top_k=s.top_k,
                top_p=s.top_p,
                temperature=s.temperature,
                no_repeat_ngram_size=s.no_repeat_ngram_size,
                repetition_penalty=s.repetition_penalty,
                length_penalty=s.length_penalty,
                eos_token_id=eos_id,
                pad_token_id=pad_id,
                max_new_tokens=s.max_new_tokens,
                min_new_tokens=s.min_new_tokens,
            )
        rows = out[:, width:].tolist()
        n = s.num_return_sequences
        stop = {eos_id}
        return [[cut_at(r, stop) for r in rows[i * n : (i + 1) * n]] for i in range(len(prompts))]
