"""Decoding settings and seeds, torch-free so that any command can read and store them.

``GenerationSettings`` holds the decoding options with the ruDialoGPT model card's values as
defaults and the decoding rule that gives them meaning (docs/protocol.md, "Decoding").
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from evaltool.errors import UserError

DECODING_RULES = ("card", "transformers")


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding options; the defaults are the ones on the ruDialoGPT model cards.

    ``eos_token_id`` None means: the id of the prompt format's stop token (``@@ПЕРВЫЙ@@``,
    50257 in the ruDialoGPT tokenizer).
    """

    top_k: int = 10
    top_p: float = 0.95
    num_beams: int = 3
    num_return_sequences: int = 3
    do_sample: bool = True
    no_repeat_ngram_size: int = 2
    temperature: float = 1.2
    repetition_penalty: float = 1.2
    length_penalty: float = 1.0
    eos_token_id: int | None = None
    max_new_tokens: int = 40
    min_new_tokens: int = 0
    decoding: str = "card"

    def validate(self) -> GenerationSettings:
        """Raise a user error for settings the decoding loop would reject later, mid-run."""
        if self.decoding not in DECODING_RULES:
            raise UserError(f"decoding rule {self.decoding!r}: use card or transformers")
        if self.num_beams < 1 or self.num_return_sequences < 1:
            raise UserError("num_beams and num_return_sequences must be 1 or more")
        if self.num_return_sequences > self.num_beams and not self.do_sample:
            raise UserError("num_return_sequences cannot exceed num_beams without sampling")
        # The card's rule runs one search per returned sequence; today's returns the best of one.
        one_search = self.decoding == "transformers" or not self.do_sample
        if self.num_beams > 1 and one_search and self.num_return_sequences > self.num_beams:
            raise UserError("num_return_sequences cannot exceed num_beams")
        if self.max_new_tokens < 1 or self.min_new_tokens > self.max_new_tokens:
            raise UserError("need 1 <= max_new_tokens and min_new_tokens <= max_new_tokens")
        if self.temperature <= 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise UserError("need temperature > 0, 0 < top_p <= 1 and top_k >= 0")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The settings as stored with the system."""
        return asdict(self)


def context_key(seed: int, *parts: str) -> int:
    """A 63-bit stream key for one context from the run seed and the context's identity.

    >>> context_key(0, "ru-mtb", "c1") == context_key(0, "ru-mtb", "c1")
    True
    >>> context_key(0, "ru-mtb", "c1") != context_key(1, "ru-mtb", "c1")
    True
    """
    text = "\x1f".join([str(seed), *parts])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def system_name(model: str) -> str:
    """The default system name: the model's last path part.

    >>> system_name("tinkoff-ai/ruDialoGPT-small")
    'ruDialoGPT-small'
    """
    return model.rstrip("/").split("/")[-1]
