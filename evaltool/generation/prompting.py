"""Prompt formats: how dialog turns become model input and model output becomes a reply.

Every format maps the context's speakers the same way: counting back from the last turn, which
is the user's, turns alternate user / assistant, and the model answers as the assistant. The
ruDialoGPT format writes the user as ``@@ПЕРВЫЙ@@`` and the assistant as ``@@ВТОРОЙ@@``;
``chat-template`` hands role messages to the tokenizer's own chat template (and to a server's
chat completions); ``plain`` writes one turn per line for base models. Torch-free: served runs
use the formats without loading a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from evaltool.errors import UserError

FIRST = "@@ПЕРВЫЙ@@"
SECOND = "@@ВТОРОЙ@@"
AUTO = "auto"


def kept_turns(turns: list[str], context_turns: int) -> list[str]:
    """The last ``context_turns`` turns (all of them for 0), stripped."""
    kept = turns[-context_turns:] if context_turns > 0 else list(turns)
    return [t.strip() for t in kept]


def messages(
    turns: list[str], context_turns: int, system_prompt: str | None = None
) -> list[dict[str, str]]:
    """Chat messages: the last turn is the user's and roles alternate backwards from it.

    >>> [m["role"] for m in messages(["a", "b", "c"], 3)]
    ['user', 'assistant', 'user']
    >>> messages(["a", "b"], 3, "Be brief.")[0]
    {'role': 'system', 'content': 'Be brief.'}
    >>> [m["content"] for m in messages(["a", "b", "c", "d"], 2)]
    ['c', 'd']
    """
    kept = kept_turns(turns, context_turns)
    n = len(kept)
    out = [{"role": "system", "content": system_prompt}] if system_prompt else []
    for i, turn in enumerate(kept):
        out.append({"role": "user" if (n - 1 - i) % 2 == 0 else "assistant", "content": turn})
    return out


class PromptFormat(Protocol):
    """Turns a context into a prompt and a generated continuation into a reply."""

    name: str
    chat: bool  # served through chat completions (messages), not completions (text)

    def prompt(
        self, turns: list[str], context_turns: int, system_prompt: str | None, tok: Any
    ) -> str:
        """The prompt text for the last ``context_turns`` turns."""
        ...

    def answered(
        self, turns: list[str], context_turns: int, system_prompt: str | None, tok: Any, reply: str
    ) -> str:
        """The prompt followed by ``reply`` and the end of the model's turn (for perplexity)."""
        ...

    def encode(self, tok: Any, text: str) -> list[int]:
        """Token ids of a prompt text, with the special tokens this format expects."""
        ...

    def stop_strings(self) -> list[str]:
        """Texts that end the reply when a server generates it as a completion."""
        ...

    def stop_id(self, tok: Any) -> int:
        """The token id that ends the model's turn in local generation."""
        ...

    def extract(self, continuation: str) -> str:
        """The reply: the continuation cut where the model's turn ends, stripped."""
        ...


@dataclass(frozen=True)
class RuDialoGPTFormat:
    """The format tinkoff-ai/ruDialoGPT-small and -medium were trained on.

    >>> RuDialoGPTFormat().build(["привет", "привет", "как дела?"], 3)
    '@@ПЕРВЫЙ@@ привет @@ВТОРОЙ@@ привет @@ПЕРВЫЙ@@ как дела? @@ВТОРОЙ@@'
    >>> RuDialoGPTFormat().build(["a", "b", "c", "d"], 3)
    '@@ПЕРВЫЙ@@ b @@ВТОРОЙ@@ c @@ПЕРВЫЙ@@ d @@ВТОРОЙ@@'
    >>> RuDialoGPTFormat().extract(" Хорошо, а у тебя? @@ПЕРВЫЙ@@ отлично")
    'Хорошо, а у тебя?'
    >>> RuDialoGPTFormat().continuation(" Хорошо. ")
    ' Хорошо. @@ПЕРВЫЙ@@'
    """

    name: str = "rudialogpt"
    chat: bool = False
    special_tokens: tuple[str, ...] = (FIRST, SECOND)

    def build(self, turns: list[str], context_turns: int) -> str:
        """The prompt text: speakers from the roles of ``messages``, ending with the model's."""
        marks = {"user": FIRST, "assistant": SECOND}
        parts = [f"{marks[m['role']]} {m['content']}" for m in messages(turns, context_turns)]
        return " ".join(parts) + f" {SECOND}"

    def continuation(self, reply: str) -> str:
        """What the model writes after the prompt to give ``reply`` and end its turn."""
        return f" {reply.strip()} {FIRST}"

    def prompt(
        self,
        turns: list[str],
        context_turns: int,
        system_prompt: str | None,
        tok: Any,  # noqa: ARG002 (the protocol's: other formats need it)
    ) -> str:
        if system_prompt:
            raise UserError(
                "the rudialogpt format has no place for a system prompt; use "
                "{prompt_format} chat-template or plain, or leave {system_prompt} out",
                field="system_prompt",
                settings=("prompt_format", "system_prompt"),
            )
        return self.build(turns, context_turns)

    def answered(
        self, turns: list[str], context_turns: int, system_prompt: str | None, tok: Any, reply: str
    ) -> str:
        return self.prompt(turns, context_turns, system_prompt, tok) + self.continuation(reply)

    def encode(self, tok: Any, text: str) -> list[int]:
        return tok.encode(text)

    def stop_strings(self) -> list[str]:
        return [FIRST, SECOND]

    def stop_id(self, tok: Any) -> int:
        ids = [tok.convert_tokens_to_ids(t) for t in self.special_tokens]
        if any(i is None or i == tok.unk_token_id for i in ids):
            raise UserError(
                f"the tokenizer lacks the speaker tokens {self.special_tokens}; use "
                "{prompt_format} chat-template or plain for this model",
                field="prompt_format",
                settings=("prompt_format",),
            )
        return ids[0]

    def extract(self, continuation: str) -> str:
        cut = len(continuation)
        for marker in self.special_tokens:
            pos = continuation.find(marker)
            if pos != -1:
                cut = min(cut, pos)
        return continuation[:cut].strip()


@dataclass(frozen=True)
class ChatTemplateFormat:
    """The tokenizer's own chat template (``apply_chat_template``), as chat models expect.

    Prompts are rendered as text and encoded without adding special tokens, which gives the
    ids of ``apply_chat_template(..., tokenize=True)`` (tests/test_prompting.py checks it).
    """

    name: str = "chat-template"
    chat: bool = True

    def prompt(
        self, turns: list[str], context_turns: int, system_prompt: str | None, tok: Any
    ) -> str:
        return self._render(tok, messages(turns, context_turns, system_prompt), True)

    def answered(
        self, turns: list[str], context_turns: int, system_prompt: str | None, tok: Any, reply: str
    ) -> str:
        head = self.prompt(turns, context_turns, system_prompt, tok)
        convo = [*messages(turns, context_turns, system_prompt)]
        full = self._render(tok, [*convo, {"role": "assistant", "content": reply.strip()}], False)
        if full.startswith(head):
            return full
        # Some templates rewrite earlier turns once a reply follows; keep the prompt as asked.
        return head + reply.strip() + tok.convert_ids_to_tokens(self.stop_id(tok))

    def encode(self, tok: Any, text: str) -> list[int]:
        return tok.encode(text, add_special_tokens=False)

    def stop_strings(self) -> list[str]:
        return []

    def stop_id(self, tok: Any) -> int:
        """The special token the template writes after an assistant message (``<|im_end|>``,
        ``<|eot_id|>``, ``<end_of_turn>``...), else the tokenizer's end of sequence."""
        convo = messages(["x"], 1)
        head = self.encode(tok, self._render(tok, convo, True))
        answer = [*convo, {"role": "assistant", "content": "y"}]
        full = self.encode(tok, self._render(tok, answer, False))
        special = set(tok.all_special_ids) | {
            i for i, t in getattr(tok, "added_tokens_decoder", {}).items() if t.special
        }
        after = full[len(head) :] if full[: len(head)] == head else []
        found = next((i for i in after if i in special), tok.eos_token_id)
        if found is None:
            raise UserError("the tokenizer names no end-of-turn token", field="prompt_format")
        return found

    def extract(self, continuation: str) -> str:
        return continuation.strip()

    @staticmethod
    def _render(tok: Any, convo: list[dict[str, str]], open_turn: bool) -> str:
        if not getattr(tok, "chat_template", None):
            raise UserError(
                "the tokenizer has no chat template; use {prompt_format} rudialogpt or plain",
                field="prompt_format",
                settings=("prompt_format",),
            )
        try:
            return tok.apply_chat_template(convo, tokenize=False, add_generation_prompt=open_turn)
        except Exception as exc:  # jinja's TemplateError, raised by the template's own checks
            raise UserError(
                f"the model's chat template refused the conversation: {exc}",
                field="prompt_format",
            ) from None


@dataclass(frozen=True)
class PlainFormat:
    """One turn per line, the reply on the next line: for base models without speaker tokens.

    >>> PlainFormat().prompt(["a", "b "], 3, "Be brief.", None)
    'Be brief.\\na\\nb\\n'
    >>> PlainFormat().extract(" yes.\\nno")
    'yes.'
    """

    name: str = "plain"
    chat: bool = False

    def prompt(
        self,
        turns: list[str],
        context_turns: int,
        system_prompt: str | None,
        tok: Any,  # noqa: ARG002 (the protocol's: other formats need it)
    ) -> str:
        head = f"{system_prompt.strip()}\n" if system_prompt else ""
        return head + "".join(f"{t}\n" for t in kept_turns(turns, context_turns))

    def answered(
        self, turns: list[str], context_turns: int, system_prompt: str | None, tok: Any, reply: str
    ) -> str:
        return self.prompt(turns, context_turns, system_prompt, tok) + f"{reply.strip()}\n"

    def encode(self, tok: Any, text: str) -> list[int]:
        return tok.encode(text)

    def stop_strings(self) -> list[str]:
        return ["\n"]

    def stop_id(self, tok: Any) -> int:
        newline = tok.encode("\n", add_special_tokens=False)
        if len(newline) == 1:
            return newline[0]
        if tok.eos_token_id is None:
            raise UserError("the tokenizer names no end-of-sequence token", field="eos_token_id")
        return tok.eos_token_id

    def extract(self, continuation: str) -> str:
        return continuation.split("\n", 1)[0].strip()


FORMATS: dict[str, PromptFormat] = {
    f.name: f for f in (RuDialoGPTFormat(), ChatTemplateFormat(), PlainFormat())
}
FORMAT_NAMES = (AUTO, *FORMATS)


def resolve(name: str, tok: Any | None) -> PromptFormat:
    """The named format; ``auto`` picks by tokenizer: a chat template gets ``chat-template``,
    the ruDialoGPT speaker tokens ``rudialogpt``, anything else ``plain``. Without a tokenizer
    (a served model) ``auto`` is ``chat-template``.
    """
    if name != AUTO:
        if name not in FORMATS:
            choices = ", ".join(FORMAT_NAMES)
            raise UserError(f"{name!r}: use one of {choices}", field="prompt_format")
        return FORMATS[name]
    if tok is None or getattr(tok, "chat_template", None):
        return FORMATS["chat-template"]
    vocab = tok.get_vocab()
    if all(t in vocab for t in (FIRST, SECOND)):
        return FORMATS["rudialogpt"]
    return FORMATS["plain"]
