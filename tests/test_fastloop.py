"""The fast GPT-2 loop: today's rule token for token against transformers, per-context streams."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from evaltool.errors import UserError
from evaltool.generation import fastloop as fastgen
from evaltool.generation import logits
from evaltool.generation import models as E
from evaltool.generation.prompting import RuDialoGPTFormat
from evaltool.generation.settings import context_key
from evaltool.storage.contexts import builtin_path, read_contexts

CONTEXTS = [
    ["привет"],
    ["Ты любишь кино?", "Да, очень.", "А какой жанр?"],
    ["Как дела?", "Хорошо"],
    ["Что ты делал на выходных у бабушки в деревне под Тверью?"],
]
SETTINGS = {
    "greedy": E.GenerationSettings(do_sample=False, num_beams=1, num_return_sequences=1),
    "beam": E.GenerationSettings(do_sample=False),
    "sample": E.GenerationSettings(num_beams=1, num_return_sequences=3),
    "card": E.GenerationSettings(),
    "card-no-top-k": E.GenerationSettings(top_k=0, max_new_tokens=12),
    "card-min-tokens": E.GenerationSettings(min_new_tokens=40),
}
EOS = 50257


def today(s: E.GenerationSettings) -> E.GenerationSettings:
    return replace(s, decoding="transformers")


@pytest.fixture(scope="module")
def loaded(tiny_model: Path) -> E.LocalModel:
    return E.load(str(tiny_model), revision=None, device=torch.device("cpu"), dtype=torch.float32)


@pytest.fixture(scope="module")
def prompts(loaded: E.LocalModel) -> list[list[int]]:
    fmt = RuDialoGPTFormat()
    return [loaded.tokenizer.encode(fmt.build(c, 3)) for c in CONTEXTS]


@pytest.fixture(scope="module")
def shipped(loaded: E.LocalModel) -> tuple[list[list[int]], list[int]]:
    """30 shipped contexts as prompts, with their per-context stream keys."""
    fmt = RuDialoGPTFormat()
    rows = read_contexts(builtin_path())[:30]
    prompts = [loaded.tokenizer.encode(fmt.build(r.turns, 3)) for r in rows]
    return prompts, [context_key(0, "ru-mtb", r.external_id) for r in rows]


@pytest.mark.parametrize("name", list(SETTINGS))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_transformers_rule_replays_locked_transformers(loaded, prompts, name, seed) -> None:
    s = today(SETTINGS[name])
    want = E.TransformersDecoder(loaded, replay=True).generate(prompts, s, EOS, [seed])
    got = fastgen.FastGPT2Decoder(loaded, replay=True).generate(prompts, s, EOS, [seed])
    assert got == want
    if name in ("greedy", "beam"):  # no randomness: per-context streams change nothing
        assert fastgen.FastGPT2Decoder(loaded).generate(prompts, s, EOS, [seed] * 4) == want


def test_some_outputs_stop_early(loaded, prompts) -> None:
    out = fastgen.FastGPT2Decoder(loaded).generate(prompts, SETTINGS["card"], EOS, [1, 2, 3, 4])
    lengths = [len(c) for per_context in out for c in per_context]
    assert min(lengths) < 40, "the tiny model should hit eos sometimes, or stopping is untested"


@pytest.mark.parametrize("engine", ["hf", "fast"])
def test_batched_greedy_equals_one_at_a_time(loaded, prompts, engine) -> None:
    s = E.GenerationSettings(do_sample=False, num_beams=1, num_return_sequences=1)
    backend = fastgen.choose(engine, loaded, "transformers")
    batched = backend.generate(prompts, s, EOS, [0] * len(prompts))
    single = [backend.generate([p], s, EOS, [0])[0] for p in prompts]
    assert batched == single


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["card", "transformers"])
def test_a_contexts_replies_do_not_depend_on_its_batch(loaded, shipped, rule) -> None:
    """Per-context streams: any batch size, any company, any order gives the same bytes."""
    prompts, keys = shipped
    s = replace(SETTINGS["card"], decoding=rule)
    engine = fastgen.FastGPT2Decoder(loaded)
    whole = engine.generate(prompts, s, EOS, keys)
    for size in (1, 4, 7):
        order = list(range(len(prompts)))
        random.Random(size).shuffle(order)
        got: dict[int, list[list[int]]] = {}
        for j in range(0, len(order), size):
            part = order[j : j + size]
            out = engine.generate([prompts[i] for i in part], s, EOS, [keys[i] for i in part])
            got.update(zip(part, out, strict=True))
        assert [got[i] for i in range(len(prompts))] == whole, (rule, size)


def test_the_card_rule_returns_three_independent_replies(loaded, shipped) -> None:
    """The card's rule runs one search per candidate; today's rule ranks one search's beams,
    which mostly share their start."""
    prompts, keys = shipped
    engine = fastgen.FastGPT2Decoder(loaded)
    shares = {}
    for rule in ("card", "transformers"):
        out = engine.generate(prompts, replace(SETTINGS["card"], decoding=rule), EOS, keys)
        pairs = [(a[:3], b[:3]) for c in out for i, a in enumerate(c) for b in c[i + 1 :]]
        shares[rule] = sum(a == b for a, b in pairs) / len(pairs)
    assert shares["card"] < shares["transformers"] - 0.2, shares


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["card", "transformers"])
def test_per_context_streams_keep_the_distribution(loaded, prompts, rule) -> None:
    """First beam-sampled tokens: per-context streams and replayed transformers draws agree."""
    s = E.GenerationSettings(max_new_tokens=1, num_return_sequences=3, decoding=rule)
    counts: dict[str, dict[int, int]] = {"replay": {}, "streams": {}}
    for mode, replay in (("replay", True), ("streams", False)):
        backend = fastgen.FastGPT2Decoder(loaded, replay=replay)
        for seed in range(300):
            for token in backend.generate(prompts[:1], s, EOS, [context_key(seed, "x")])[0]:
                if token:
                    counts[mode][token[0]] = counts[mode].get(token[0], 0) + 1
    tokens = sorted(set(counts["replay"]) | set(counts["streams"]))
    assert len(tokens) > 3
    total = sum(counts["replay"].values())
    assert abs(total - sum(counts["streams"].values())) < 0.1 * total
    for t in tokens:  # each share within 5 standard errors
        a, b = counts["replay"].get(t, 0) / total, counts["streams"].get(t, 0) / total
        se = max((a * (1 - a) / total) ** 0.5, 1e-3)
        assert abs(a - b) < 5 * se + 0.02, (t, a, b)


def test_processors_equal_transformers_processors() -> None:
    from transformers.generation.logits_process import (
        NoRepeatNGramLogitsProcessor,
        RepetitionPenaltyLogitsProcessor,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 30, (6, 25), generator=g)
    scores = torch.randn(6, 50, generator=g) * 3
    for n in (1, 2, 3):
        want = NoRepeatNGramLogitsProcessor(n)(ids, scores.clone())
        assert torch.equal(logits.no_repeat_ngram(ids, scores.clone(), n), want)
    want = RepetitionPenaltyLogitsProcessor(1.2)(ids, scores.clone())
    assert torch.equal(logits.repetition_penalty(ids, scores.clone(), 1.2), want)
    for k, p, keep in ((10, 0.95, 2), (5, 0.5, 1), (0, 0.8, 2), (10, 1.0, 1)):
        want = scores.clone()
        if k:
            want = TopKLogitsWarper(k, min_tokens_to_keep=keep)(ids, want)
        if p < 1:
            want = TopPLogitsWarper(p, min_tokens_to_keep=keep)(ids, want)
        assert torch.equal(logits.top_k_top_p(scores.clone(), k, p, keep), want), (k, p)


def test_engine_choice(loaded) -> None:
    assert fastgen.choose("auto", loaded).name == "fast"
    assert fastgen.choose("hf", loaded, "transformers").name == "hf"
    with pytest.raises(UserError, match=r"decoder: 'nope': use auto, fast, hf"):
        fastgen.choose("nope", loaded)
    with pytest.raises(UserError, match="card's decoding rule runs only in evaltool's GPT-2 loop"):
        fastgen.choose("hf", loaded, "card")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_runs(tiny_model: Path, prompts, dtype) -> None:
    """GPU users get bf16/fp16 by default; the loop must run there (checked here on the CPU)."""
    half = E.load(str(tiny_model), revision=None, device=torch.device("cpu"), dtype=dtype)
    for name in ("card", "sample", "greedy"):
        out = fastgen.FastGPT2Decoder(half).generate(prompts[:2], SETTINGS[name], EOS, [0, 1])
        assert len(out) == 2 and all(len(c) == SETTINGS[name].num_return_sequences for c in out)
