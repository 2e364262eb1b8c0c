"""Automatic judges: of SSA, an LLM behind an OpenAI-compatible server asked the protocol's
two questions, or a local sequence classifier with tinkoff-ai's response-quality-classifier
layout; of pairs, an LLM asked which of two replies is better, twice with the sides swapped.
``JUDGES`` is the registry the CLI reads (task kind, then judge kind).

A judge answers one item at a time (``verdict``): the probability that the reply is sensible,
and that it is specific given that it is sensible. The LLM judge asks the sensible question,
then the specific one only after a yes (as people are asked), each answered with one word;
an answer that is not that word stops the run in one line. Probabilities come from the
answer's logprobs where the server returns them (1 or 0 otherwise). The classifier gives
sigmoid(relevance) and sigmoid(specificity) of "[CLS]t1[SEP]t2[SEP]t3[RESPONSE_TOKEN]reply",
the last three turns, as its model card shows.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from evaltool.errors import UserError
from evaltool.generation.openai_api import Client
from evaltool.generation.served import served_models

PROMPT_VERSION = "ssa-judge-1"
LANGUAGES = ("ru", "en")
WORDS = {"ru": ("да", "нет"), "en": ("yes", "no")}
PROMPTS = {
    "ru": {
        "system": "Ты оцениваешь ответы чат-бота по протоколу SSA (Meena). Отвечай одним словом: "
        "да или нет.",
        "sensible": "Диалог:\n{dialog}\n\nОтвет бота: {reply}\n\nОсмыслен ли ответ в этом "
        "контексте? Здравый смысл, логика, согласие со сказанным раньше. Всё путаное, "
        "нелогичное, не к месту или фактически неверное не осмысленно. Если сомневаешься: нет. "
        "Ответь одним словом: да или нет.",
        "specific": "Диалог:\n{dialog}\n\nОтвет бота: {reply}\n\nКонкретен ли ответ именно "
        "для этого контекста, или он подошёл бы к десяткам разных? «Я люблю теннис.» «Это "
        "здорово.» не конкретно; «Я тоже! Обожаю смотреть Уимблдон.» конкретно. Ответь одним "
        "словом: да или нет.",
    },
    "en": {
        "system": "You rate a chatbot's replies by the SSA protocol (Meena). Answer with one "
        "word: yes or no.",
        "sensible": "Dialog:\n{dialog}\n\nThe bot's reply: {reply}\n\nDoes the reply make "
        "sense in this context? Common sense, logic, consistency with what was said before. "
        "Anything confusing, illogical, off-context or factually wrong is not sensible. When in "
        "doubt: no. Answer with one word: yes or no.",
        "specific": "Dialog:\n{dialog}\n\nThe bot's reply: {reply}\n\nIs the reply specific "
        "to this context, or could it follow dozens of different contexts? A: 'I love tennis.' "
        "B: 'That's nice.' is not specific; B: 'Me too! I never miss Wimbledon.' is specific. "
        "Answer with one word: yes or no.",
    },
}


@dataclass(frozen=True)
class Verdict:
    """A judge's answer on one item."""

    p_sensible: float
    p_specific: float | None
    raw: str


@dataclass
class LLMJudge:
    """The protocol's two questions to a model behind an OpenAI-compatible server."""

    endpoint: str
    model: str
    language: str = "ru"
    max_tokens: int = 3
    concurrency: int = 4
    timeout: float = 120.0
    retries: int = 6
    listed: list[str] = field(default_factory=list)
    answered_as: set[str] = field(default_factory=set)  # the models and fingerprints answering

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise UserError(f"use {', '.join(LANGUAGES)}", field="language")
        if self.max_tokens < 1 or self.concurrency < 1:
            raise UserError("max_tokens and concurrency must be 1 or more", field="max_tokens")
        if not self.endpoint.startswith(("http://", "https://")):
            raise UserError(
                f"{self.endpoint!r}: give the server's base URL, like http://host:8000/v1",
                field="endpoint",
            )
        self.client = Client(self.endpoint.rstrip("/"), None, self.timeout, self.retries)

    def prepare(self) -> None:
        """Ask the server what it serves before anything is judged (a wrong URL fails here)."""
        self.listed = served_models(self.client)

    def spec(self, name: str) -> dict[str, Any]:
        """What the judge is, for its row: model, prompt version, settings, provenance."""
        settings = {"endpoint": self.endpoint, "language": self.language}
        settings |= {"max_tokens": self.max_tokens, "temperature": 0}
        return {
            "name": name,
            "kind": "llm",
            "model": self.model,
            "revision": None,
            "prompt_version": PROMPT_VERSION,
            "settings": settings,
            "provenance": {"listed_models": self.listed},
        }

    def facts(self) -> dict[str, Any]:
        """What the server answered as (model names and fingerprints), for the provenance."""
        return {"answered_as": sorted(self.answered_as)}

    def verdict(self, turns: list[str], reply: str) -> Verdict:
        """Sensible, then specific only after a yes."""
        dialog = "\n".join(f"- {t}" for t in turns)
        p_sensible, said = self._ask("sensible", dialog, reply)
        if p_sensible < 0.5:
            return Verdict(p_sensible, None, said)
        p_specific, said2 = self._ask("specific", dialog, reply)
        return Verdict(p_sensible, p_specific, f"{said} | {said2}")

    def _ask(self, question: str, dialog: str, reply: str) -> tuple[float, str]:
        prompts = PROMPTS[self.language]
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": prompts["system"]},
                {"role": "user", "content": prompts[question].format(dialog=dialog, reply=reply)},
            ],
            "max_tokens": self.max_tokens,
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": 5,
        }
        answer = self.client.post("/chat/completions", body)
        for key in ("model", "system_fingerprint"):
            if answer.get(key):
                self.answered_as.add(f"{key}={answer[key]}")
        choice = (answer.get("choices") or [{}])[0]
        text = str((choice.get("message") or {}).get("content") or "")
        return answer_probability(text, choice.get("logprobs"), self.language, question), text


def answer_probability(
    text: str, logprobs: dict[str, Any] | None, language: str, question: str = "sensible"
) -> float:
    """The probability of yes from a one-word answer: from the first token's top logprobs when
    given (yes over yes and no), else 1 or 0; any other answer is refused.

    >>> answer_probability(" Да.", None, "ru")
    1.0
    >>> lp = {"content": [{"top_logprobs": [{"token": "yes", "logprob": math.log(0.6)},
    ...                                      {"token": "no", "logprob": math.log(0.2)}]}]}
    >>> round(answer_probability("yes", lp, "en"), 6)
    0.75
    """
    yes, no = WORDS[language]
    word = re.sub(r"[\s.!,;:\"'«»]+", " ", text).strip().lower()
    if word not in (yes, no):
        raise UserError(
            f"the judge answered {text!r} to the {question} question; it must answer {yes} or "
            f"{no} (prompt {PROMPT_VERSION}): use a model that follows the instruction",
            field="model",
        )
    first = ((logprobs or {}).get("content") or [{}])[0].get("top_logprobs") or []
    mass = {yes: 0.0, no: 0.0}
    for option in first:
        token = str(option.get("token", "")).strip().lower()
        if token and (yes.startswith(token) or no.startswith(token)):
            key = yes if yes.startswith(token) else no
            mass[key] += math.exp(float(option.get("logprob", -math.inf)))
    if mass[yes] + mass[no] > 0:
        return mass[yes] / (mass[yes] + mass[no])
    return 1.0 if word == yes else 0.0


@dataclass
class ClassifierJudge:
    """A local sequence classifier with the response-quality-classifier's layout: two logits,
    relevance then specificity, over the last three turns and the reply. It scores
    ``batch_size`` items a forward pass, sorted by length and right-padded with an attention
    mask, so padding changes nothing but float rounding."""

    model: str
    revision: str | None = None
    device: str | None = None
    concurrency: int = 1
    batch_size: int = 32

    def prepare(self) -> None:
        """Load the model and check its layout (two outputs, the response token)."""
        import torch
        import transformers
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from evaltool.generation import models as m

        transformers.utils.logging.disable_progress_bar()  # evaltool shows its own progress
        self.device_ = m.pick_device(self.device or "auto")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model, revision=self.revision)
            self.net = AutoModelForSequenceClassification.from_pretrained(
                self.model, revision=self.revision
            ).to(self.device_)
        except OSError as exc:
            raise UserError(
                f"{self.model}: {str(exc).splitlines()[0]}", field="classifier"
            ) from None
        self.net.eval()
        if self.net.config.num_labels != 2 or "[RESPONSE_TOKEN]" not in self.tokenizer.get_vocab():
            raise UserError(
                f"{self.model} is not laid out as response-quality-classifier (two outputs, "
                "relevance and specificity, and a [RESPONSE_TOKEN] token)",
                field="classifier",
            )
        self.torch = torch
        self.weights = m.weights_id(self.model, self.revision)

    def spec(self, name: str) -> dict[str, Any]:
        """What the judge is, for its row."""
        return {
            "name": name,
            "kind": "classifier",
            "model": self.model,
            "revision": self.revision,
            "prompt_version": "response-quality-classifier",
            "settings": {"context_turns": 3, "max_length": 128},
            "provenance": {"weights": self.weights},
        }

    def verdict(self, turns: list[str], reply: str) -> Verdict:
        """sigmoid(relevance), sigmoid(specificity) of the card's input."""
        return self.verdicts([(turns, reply)])[0]

    def verdicts(self, jobs: list[tuple[list[str], str]]) -> list[Verdict]:
        """The verdicts of many items, in their order, ``batch_size`` at a time."""
        ids = [self._encode(turns, reply) for turns, reply in jobs]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out: list[Verdict] = [None] * len(ids)  # type: ignore[list-item]
        for start in range(0, len(order), max(1, self.batch_size)):
            part = order[start : start + max(1, self.batch_size)]
            for i, probs in zip(part, self._forward([ids[i] for i in part]), strict=True):
                out[i] = Verdict(probs[0], probs[1], f"{probs[0]:.4f} {probs[1]:.4f}")
        return out

    def _encode(self, turns: list[str], reply: str) -> list[int]:
        text = "[CLS]" + "[SEP]".join(turns[-3:]) + "[RESPONSE_TOKEN]" + reply
        return self.tokenizer(text, max_length=128, truncation=True, add_special_tokens=False)[
            "input_ids"
        ]

    def _forward(self, rows: list[list[int]]) -> list[list[float]]:
        torch = self.torch
        width = max(len(r) for r in rows)
        x = torch.full((len(rows), width), self.tokenizer.pad_token_id or 0, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for k, r in enumerate(rows):
            x[k, : len(r)], mask[k, : len(r)] = torch.tensor(r), 1
        with torch.inference_mode():
            logits = self.net(input_ids=x.to(self.device_), attention_mask=mask.to(self.device_))
            return torch.sigmoid(logits.logits.float()).tolist()


PAIR_PROMPT_VERSION = "pair-judge-1"
# The one-word answers a pair judge may give, by language: A, B or a tie.
PAIR_WORDS = {
    "ru": {"a": "A", "а": "A", "b": "B", "в": "B", "равно": "tie", "одинаково": "tie"},
    "en": {"a": "A", "b": "B", "tie": "tie", "equal": "tie"},
}
PAIR_PROMPTS = {
    "ru": {
        "system": "Ты сравниваешь ответы чат-ботов. Отвечай одним словом: A, B или равно.",
        "replies": "Диалог:\n{dialog}\n\nОтвет A: {a}\n\nОтвет B: {b}\n\nКакой ответ "
        "осмысленнее и конкретнее в этом диалоге? Ответь одним словом: A, B или равно.",
        "chats": "Разговор A:\n{a}\n\nРазговор B:\n{b}\n\nС каким собеседником (бот в "
        "разговоре A или в разговоре B) ты бы предпочёл поговорить подольше? Ответь одним "
        "словом: A, B или равно.",
    },
    "en": {
        "system": "You compare chatbots' replies. Answer with one word: A, B or tie.",
        "replies": "Dialog:\n{dialog}\n\nReply A: {a}\n\nReply B: {b}\n\nWhich reply is "
        "more sensible and specific in this dialog? Answer with one word: A, B or tie.",
        "chats": "Conversation A:\n{a}\n\nConversation B:\n{b}\n\nWho would you rather "
        "talk to for a long conversation, the bot of A or of B? Answer with one word: A, B or "
        "tie.",
    },
}


@dataclass(frozen=True)
class PairVerdict:
    """A pair judge's answers as the system chosen (a, b or tie): ``first`` with a's reply
    as "A", ``second`` with the sides swapped; ``winner`` a tie when they disagree."""

    first: str
    second: str
    raw: str

    @property
    def winner(self) -> str:
        return self.first if self.first == self.second else "tie"


@dataclass
class LLMPairJudge(LLMJudge):
    """Which of two replies (or chats) is better, asked of a served model twice, the sides
    swapped, so a judge that favours a side gives ties rather than wins."""

    def spec(self, name: str) -> dict[str, Any]:
        """What the judge is, for its row (the pair prompt's version)."""
        return {**super().spec(name), "prompt_version": PAIR_PROMPT_VERSION}

    def compare(self, turns: list[str], a: list[str], b: list[str], chats: bool) -> PairVerdict:
        """Ask with a as "A", then with b as "A"; both answers mapped to systems."""
        first, said = self._pick(turns, a, b, chats)
        second, said2 = self._pick(turns, b, a, chats)
        swap = {"A": "b", "B": "a", "tie": "tie"}
        return PairVerdict(
            {"A": "a", "B": "b", "tie": "tie"}[first], swap[second], f"{said} | {said2}"
        )

    def _pick(self, turns: list[str], a: list[str], b: list[str], chats: bool) -> tuple[str, str]:
        prompts = PAIR_PROMPTS[self.language]
        lines = lambda texts: "\n".join(f"- {t}" for t in texts)  # noqa: E731
        question = prompts["chats" if chats else "replies"].format(
            dialog=lines(turns), a=lines(a) if chats else a[0], b=lines(b) if chats else b[0]
        )
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": prompts["system"]},
                {"role": "user", "content": question},
            ],
            "max_tokens": self.max_tokens,
            "temperature": 0,
        }
        answer = self.client.post("/chat/completions", body)
        for key in ("model", "system_fingerprint"):
            if answer.get(key):
                self.answered_as.add(f"{key}={answer[key]}")
        text = str(((answer.get("choices") or [{}])[0].get("message") or {}).get("content") or "")
        return pair_answer(text, self.language), text


def pair_answer(text: str, language: str) -> str:
    """A, B or tie from a one-word answer; anything else is refused.

    >>> pair_answer(" B.", "en"), pair_answer("Равно", "ru")
    ('B', 'tie')
    """
    word = re.sub(r"[\s.!,;:\"'«»*]+", " ", text).strip().lower()
    found = PAIR_WORDS[language].get(word)
    if found is None:
        allowed = "A, B or " + ("равно" if language == "ru" else "tie")
        raise UserError(
            f"the judge answered {text!r} to the pair question; it must answer {allowed} "
            f"(prompt {PAIR_PROMPT_VERSION}): use a model that follows the instruction",
            field="model",
        )
    return found


# The judges by the task they judge, then by kind: what ``evaltool judge run`` can make.
JUDGES: dict[str, dict[str, type]] = {
    "ssa": {"llm": LLMJudge, "classifier": ClassifierJudge},
    "pairs": {"llm": LLMPairJudge},
}
