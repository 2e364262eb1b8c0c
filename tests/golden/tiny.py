"""Tiny GPT-2 models whose weights depend on a seed alone, not on the transformers release.

The golden-file script runs under transformers 4.25.1 and the tests under the locked release;
both build the same weights from here, and ``weights_digest`` proves it. Each parameter is
drawn from a generator seeded by (seed, parameter name), so neither the release's own
initialisation nor the order of parameters matters. This file runs under both releases.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

CONFIG: dict[str, Any] = {
    "vocab_size": 50261,
    "n_positions": 256,
    "n_embd": 64,
    "n_layer": 2,
    "n_head": 4,
}
EOS_ID = 50257
TOKENIZER_DIR = Path(__file__).resolve().parents[1] / "data" / "rugpt3-tokenizer"
SPEAKERS = ("@@ПЕРВЫЙ@@", "@@ВТОРОЙ@@")
SPECIAL = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}


def _generator(seed: int, name: str) -> Any:
    import torch

    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") % 2**63)


def fill_weights(model: Any, seed: int, eos_boost: float) -> Any:
    """Overwrite every parameter with values drawn from (seed, name); returns the model.

    Weights are N(0, 0.3) (the output projections N(0, 0.15)), layer-norm gains near 1, small
    biases; the first speaker token's embedding is scaled by ``eos_boost`` so that the model
    stops now and then and the stopping paths run.
    """
    import torch

    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=_generator(seed, name))
            if ".ln_" in name:
                value = 1 + 0.05 * noise if name.endswith("weight") else 0.02 * noise
            elif name.endswith("bias"):
                value = 0.02 * noise
            elif "c_proj" in name:
                value = 0.15 * noise
            else:
                value = 0.3 * noise
            param.copy_(value)
        model.transformer.wte.weight[EOS_ID] *= eos_boost
    return model.eval()


def build_model(seed: int = 0, eos_boost: float = 4.0) -> Any:
    """A tiny random GPT-2 with the ruDialoGPT vocabulary size."""
    from transformers import GPT2Config, GPT2LMHeadModel

    return fill_weights(GPT2LMHeadModel(GPT2Config(**CONFIG)), seed, eos_boost)


def weights_digest(model: Any) -> str:
    """SHA-256 over the parameters' names and bytes, in name order."""
    h = hashlib.sha256()
    for name, param in sorted(model.named_parameters()):
        h.update(name.encode())
        h.update(param.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()


def build_tokenizer() -> Any:
    """The exact ruDialoGPT tokenizer: the ruGPT3 vocabulary plus the two speaker tokens."""
    from transformers import GPT2Tokenizer

    tok = GPT2Tokenizer.from_pretrained(str(TOKENIZER_DIR), **SPECIAL)
    tok.add_tokens(list(SPEAKERS))
    return tok
