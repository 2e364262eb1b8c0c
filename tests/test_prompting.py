"""Prompt formats: ruDialoGPT speakers, chat templates token for token, plain lines, auto."""

from __future__ import annotations

import pytest

from evaltool.errors import UserError
from evaltool.generation.prompting import (
    FIRST,
    FORMATS,
    SECOND,
    RuDialoGPTFormat,
    messages,
    resolve,
)

from .conftest import CHATML, build_tokenizer
from .golden import tiny

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


# Llama 3's shape: the template itself writes the BOS token, so encoding the rendered text with
# the tokenizer's own special tokens would put a second one in front.
LLAMA3 = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n"
    "{{ m.content }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
TEMPLATES = {
    "chatml": (CHATML, ["<|im_start|>", "<|im_end|>"], "<|im_end|>"),
    "llama3": (LLAMA3, ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"], "<|eot_id|>"),
}
CONTEXTS = [
    ["привет"],
    ["привет", "как дела?"],
    ["Ты кто?", "Бот.", "А что умеешь?", "Болтать."],
    ["  пробелы  ", "<b>разметка</b> и {{ скобки }}"],
]


def chat_tokenizer(template: str):  # type: ignore[no-untyped-def]
    source, added, end = TEMPLATES[template]
    tok = build_tokenizer()
    tok.add_tokens(added, special_tokens=True)
    tok.chat_template = source
    tok.end_of_turn = end
    return tok


def test_roles_alternate_back_from_the_users_last_turn() -> None:
    assert [m["role"] for m in messages(["a", "b", "c", "d"], 4)] == [
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    # the same speakers as the ruDialoGPT format: @@ПЕРВЫЙ@@ is the user
    for turns in CONTEXTS:
        roles = [m["role"] for m in messages(turns, 3)]
        marks = [w for w in FMT.build(turns, 3).split() if w in (FIRST, SECOND)][:-1]
        assert roles == ["user" if w == FIRST else "assistant" for w in marks]


@pytest.mark.parametrize("template", sorted(TEMPLATES))
@pytest.mark.parametrize("system_prompt", [None, "Отвечай кратко, по-русски."])
def test_chat_template_prompts_token_for_token(template: str, system_prompt: str | None) -> None:
    tok = chat_tokenizer(template)
    fmt = FORMATS["chat-template"]
    for turns in CONTEXTS:
        ids = fmt.encode(tok, fmt.prompt(turns, 3, system_prompt, tok))
        expected = tok.apply_chat_template(
            messages(turns, 3, system_prompt), tokenize=True, add_generation_prompt=True
        )["input_ids"]
        assert ids == expected
    if template == "llama3":
        assert ids[0] == tok.bos_token_id and ids[1] != tok.bos_token_id


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_chat_template_turn_end_and_scored_reply(template: str) -> None:
    tok = chat_tokenizer(template)
    fmt = FORMATS["chat-template"]
    assert fmt.stop_id(tok) == tok.convert_tokens_to_ids(tok.end_of_turn)
    turns = ["привет", "как дела?"]
    head = fmt.encode(tok, fmt.prompt(turns, 3, None, tok))
    full = fmt.encode(tok, fmt.answered(turns, 3, None, tok, " Хорошо. "))
    assert full[: len(head)] == head
    assert tok.decode(full[len(head) :]).startswith("Хорошо.")
    assert fmt.stop_id(tok) in full[len(head) :]


def test_template_refusing_a_system_message_is_a_user_error() -> None:
    tok = chat_tokenizer("chatml")
    tok.chat_template = (
        "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}"
        "{% endif %}" + CHATML
    )
    fmt = FORMATS["chat-template"]
    assert fmt.prompt(["a"], 3, None, tok).endswith("assistant\n")
    with pytest.raises(UserError, match="System role not supported"):
        fmt.prompt(["a"], 3, "be brief", tok)


def test_system_prompt_has_no_place_in_rudialogpt() -> None:
    with pytest.raises(UserError, match="no place for a system prompt") as err:
        FMT.prompt(["a"], 3, "be brief", None)
    assert err.value.field == "system_prompt"


def test_plain_lines_and_stop() -> None:
    tok = build_tokenizer()
    fmt = FORMATS["plain"]
    assert fmt.prompt(["a", "b", "c", "d"], 2, None, tok) == "c\nd\n"
    assert fmt.stop_id(tok) == tok.encode("\n")[0]
    assert fmt.extract(" да, конечно\nа ты?") == "да, конечно"
    assert fmt.answered(["a"], 3, None, tok, "b") == "a\nb\n"


def test_auto_picks_by_tokenizer() -> None:
    assert resolve("auto", build_tokenizer()).name == "rudialogpt"
    assert resolve("auto", chat_tokenizer("chatml")).name == "chat-template"
    assert resolve("auto", None).name == "chat-template"  # a served model
    plain = type(build_tokenizer()).from_pretrained(str(tiny.TOKENIZER_DIR))  # no speakers
    assert resolve("auto", plain).name == "plain"
    with pytest.raises(UserError, match="use one of"):
        resolve("chatml", None)
    with pytest.raises(UserError, match="lacks the speaker tokens"):
        FMT.stop_id(plain)
