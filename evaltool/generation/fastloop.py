"""evaltool's own decoding loop for GPT-2 models, with either beam-sampling rule.

The card's decoding rule (transformers 4.25.1) is ``beam_card``; the locked release's is
``beam_transformers``; with one beam both are the same sampling or greedy loop (``sample``).
The model's forward passes live in ``gpt2``.

Each context draws from its own random stream (``noise``), so its replies do not depend on
the batch. Replay mode instead draws from torch's global generator exactly as transformers
does for a batch: tests use it to compare token for token with transformers' ``generate``.
"""

from __future__ import annotations

from typing import Any

import torch

from evaltool.errors import UserError
from evaltool.generation.beam_card import beam_search_card
from evaltool.generation.beam_transformers import beam_search_transformers
from evaltool.generation.gpt2 import Cache, GPT2Runner, unsupported
from evaltool.generation.logits import (
    finite_candidates,
    processors,
    warp_like_transformers,
    warped_candidates,
)
from evaltool.generation.models import (
    GenerationSettings,
    LocalModel,
    TransformersDecoder,
    cut_at,
    pad,
)
from evaltool.generation.noise import Draws

# Candidate lists longer than this (a whole-vocabulary fallback) are cut to their finite part.
TRIM_ABOVE = 64


# ``--decoder`` choices: the fast GPT-2 loop when the model allows it, or one of them.
DECODER_NAMES = ("auto", "fast", "hf")


def choose(name: str, loaded: LocalModel, decoding: str = "card") -> Any:
    """The decoder for ``--decoder``: ``auto`` takes the fast loop when the model allows it."""
    if name not in DECODER_NAMES:
        raise UserError(f"{name!r}: use {', '.join(DECODER_NAMES)}", field="decoder")
    why = unsupported(loaded.model) if name != "hf" else "transformers' generate was asked for"
    if why is None:
        return FastGPT2Decoder(loaded)
    if decoding == "card":
        raise UserError(
            f"the card's decoding rule runs only in evaltool's GPT-2 loop ({why}); "
            "use the transformers rule for this model"
        )
    if name == "fast":
        raise UserError(f"the fast GPT-2 loop cannot run this model: {why}")
    return TransformersDecoder(loaded)


class FastGPT2Decoder:
    """Beam search (with or without sampling), sampling and greedy decoding for GPT-2."""

    name = "fast"

    def __init__(self, loaded: LocalModel, replay: bool = False) -> None:
        self.loaded = loaded
        self.replay = replay
        self.concurrent = not replay  # replay draws from torch's global generator
        self.runner = GPT2Runner(loaded.model)
        self.pad_id = loaded.tokenizer.pad_token_id

    def generate(
        self, prompts: list[list[int]], settings: GenerationSettings, eos_id: int, seeds: list[int]
    ) -> list[list[list[int]]]:
        """Candidates per prompt (cut before eos), in the rule's order; ``seeds`` has one key per
        prompt (replay mode seeds torch with the first, as transformers is seeded per batch)."""
        dev = self.loaded.device
        ids, mask = pad(prompts, self.pad_id, dev)
        if self.replay:
            torch.manual_seed(seeds[0])
            draws = Draws(None)
        else:
            draws = Draws(torch.tensor(seeds, dtype=torch.long, device=dev))
        if settings.num_beams == 1:
            decode: Any = sample
        elif settings.decoding == "card":
            decode = beam_search_card
        else:
            decode = beam_search_transformers
        with torch.inference_mode():
            out = decode(self.runner, ids, mask, settings, eos_id, self.pad_id, draws)
        return [[cut_at(r, {eos_id}) for r in per_prompt] for per_prompt in out]


def sample(
    runner: GPT2Runner,
    ids: torch.Tensor,
    mask: torch.Tensor,
    s: GenerationSettings,
    eos_id: int,
    pad_id: int,
    draws: Draws,
) -> list[list[list[int]]]:
    """Greedy or multinomial decoding (``_sample``, the same in 4.25.1 and today); one row per
    returned sequence."""
    n = s.num_return_sequences
    b, p = ids.shape
    logits, keys, values = runner.prefill(ids, mask)
    rows = b * n
    cache = Cache.make(keys, values, mask, rows, s.max_new_tokens, beams=False)
    seqs = ids.repeat_interleave(n, dim=0)
    logits = logits.repeat_interleave(n, dim=0)
    lengths = mask.sum(-1)
    pos = lengths.repeat_interleave(n)
    start = None if draws.replay else (p - lengths).repeat_interleave(n)
    unfinished = torch.ones(rows, dtype=torch.bool, device=ids.device)
    for t in range(s.max_new_tokens):
        if t > 0:
            logits = runner.step(seqs[:, -1], pos + t - 1, cache, t - 1)
        scores = processors(seqs, logits.float(), s, eos_id, t, start)
        if not s.do_sample:
            nxt = torch.argmax(scores, dim=-1)
        elif draws.replay:
            warped = warp_like_transformers(scores, s, keep=1)
            nxt = torch.multinomial(torch.softmax(warped, dim=-1), num_samples=1).squeeze(1)
        else:
            values, tokens = warped_candidates(scores, s, keep=1)
            values, tokens = _finite(values, tokens)
            nxt = tokens.gather(1, draws.pick(values, 1, t, tokens, n)).squeeze(1)
        nxt = torch.where(unfinished, nxt, torch.full_like(nxt, pad_id))
        seqs = torch.cat([seqs, nxt[:, None]], dim=-1)
        unfinished &= nxt != eos_id
        if not unfinished.any():
            break
    out = seqs[:, p:].tolist()
    return [out[i * n : (i + 1) * n] for i in range(b)]


def _finite(values: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidates trimmed to the most finite ones any row has (full-vocabulary fallbacks)."""
    if values.shape[-1] <= TRIM_ABOVE:
        return values, tokens
    kept, where = finite_candidates(values)
    return kept, tokens.gather(1, where)
