"""The ruDialoGPT prompt: speakers, truncation, token ids with the real tokenizer, cutting."""

from __future__ import annotations

import pytest

from evaltool.generation.prompting import FIRST, SECOND, RuDialoGPTFormat

from .conftest import build_tokenizer

FMT = RuDialoGPTFormat()


@pytest.mark.parametrize(
    ("turns", "prompt"),
    [
        (["привет"], "@@ПЕРВЫЙ@@ привет @@ВТОРОЙ@@"),
        (["привет", "как дела?"], "@@ВТОРОЙ@@ привет @@ПЕРВЫЙ@@ как дела? @@ВТОРОЙ@@"),
        (
            ["привет", "привет", "как дела?"],
            "@@ПЕРВЫЙ@@ привет @@ВТОРОЙ@@ привет @@ПЕРВЫЙ@@ как дела? @@ВТОРОЙ@@",
        ),
        (["1", "2", "3", "4", "5"], "@@ПЕРВЫЙ@@ 3 @@ВТОРОЙ@@ 4 @@ПЕРВЫЙ@@ 5 @@ВТОРОЙ@@"),
        (["  пробелы  "], "@@ПЕРВЫЙ@@ пробелы @@ВТОРОЙ@@"),
    ],
)
def test_prompt_text(turns: list[str], prompt: str) -> None:
    assert FMT.build(turns, 3) == prompt


def test_context_turns_is_settable() -> None:
    assert FMT.build(["a", "b", "c"], 1) == f"{FIRST} c {SECOND}"
    assert FMT.build(["a", "b", "c", "d"], 4).startswith(f"{SECOND} a ")


def test_token_ids_with_real_tokenizer() -> None:
    tok = build_tokenizer()
    assert tok.encode("@@ПЕРВЫЙ@@ привет @@ВТОРОЙ@@") == [50257, 6129, 225, 50258]
    ids = tok.encode(FMT.build(["привет", "привет", "как дела?"], 3))
    assert ids[0] == 50257 and ids[-1] == 50258
    assert ids.count(50257) == 2 and ids.count(50258) == 2
    assert tok.decode(ids) == "@@ПЕРВЫЙ@@ привет @@ВТОРОЙ@@ привет @@ПЕРВЫЙ@@ как дела? @@ВТОРОЙ@@"


@pytest.mark.parametrize(
    ("continuation", "reply"),
    [
        (" Хорошо, а у тебя? @@ПЕРВЫЙ@@ Отлично", "Хорошо, а у тебя?"),
        (" Да @@ВТОРОЙ@@ нет", "Да"),
        ("  без маркера  ", "без маркера"),
        (" @@ПЕРВЫЙ@@ сразу маркер", ""),
        ("", ""),
    ],
)
def test_reply_is_cut_at_first_marker_and_stripped(continuation: str, reply: str) -> None:
    assert FMT.extract(continuation) == reply
