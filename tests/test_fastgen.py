"""The fast GPT-2 loop decodes by transformers' rules: token-for-token where it can be."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from evaltool import engines as E
from evaltool import fastgen, logits
from evaltool.prompting import RuDialoGPTFormat

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


@pytest.fixture(scope="module")
def loaded(tiny_model: Path) -> E.Loaded:
    return E.load(str(tiny_model), revision=None, device=torch.device("cpu"), dtype=torch.float32)


@pytest.fixture(scope="module")
def prompts(loaded: E.Loaded) -> list[list[int]]:
    fmt = RuDialoGPTFormat()
    return [loaded.tokenizer.encode(fmt.build(c, 3)) for c in CONTEXTS]


@pytest.mark.parametrize("name", list(SETTINGS))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exact_mode_matches_transformers_token_for_token(loaded, prompts, name, seed) -> None:
    s = SETTINGS[name]
    want = E.HFEngine(loaded).generate(prompts, s, EOS, seed)
    got = fastgen.FastGPT2Engine(loaded, exact=True).generate(prompts, s, EOS, seed)
    assert got == want
    if name in ("greedy", "beam"):  # no randomness: the default fast mode is exact too
        assert fastgen.FastGPT2Engine(loaded).generate(prompts, s, EOS, seed) == want


def test_some_outputs_stop_early(loaded, prompts) -> None:
    out = fastgen.FastGPT2Engine(loaded).generate(prompts, SETTINGS["card"], EOS, 1)
    lengths = [len(c) for per_context in out for c in per_context]
    assert min(lengths) < 40, "the tiny model should hit eos sometimes, or stopping is untested"


@pytest.mark.parametrize("engine", ["hf", "fast"])
def test_batched_greedy_equals_one_at_a_time(loaded, prompts, engine) -> None:
    s = E.GenerationSettings(do_sample=False, num_beams=1, num_return_sequences=1)
    backend = fastgen.choose(engine, loaded)
    batched = backend.generate(prompts, s, EOS, 0)
    single = [backend.generate([p], s, EOS, 0)[0] for p in prompts]
    assert batched == single


def test_fast_sampling_keeps_the_distribution(loaded, prompts) -> None:
    """First beam-sampled tokens: fast mode and transformers' mode agree in frequency."""
    s = E.GenerationSettings(max_new_tokens=1, num_return_sequences=3)
    counts: dict[str, dict[int, int]] = {"exact": {}, "fast": {}}
    for mode, engine in (("exact", True), ("fast", False)):
        backend = fastgen.FastGPT2Engine(loaded, exact=engine)
        for seed in range(300):
            for token in backend.generate(prompts[:1], s, EOS, seed)[0]:
                if token:
                    counts[mode][token[0]] = counts[mode].get(token[0], 0) + 1
    tokens = sorted(set(counts["exact"]) | set(counts["fast"]))
    assert len(tokens) > 3
    total = sum(counts["exact"].values())
    for t in tokens:  # each share within 5 standard errors
        a, b = counts["exact"].get(t, 0) / total, counts["fast"].get(t, 0) / total
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
    assert fastgen.choose("hf", loaded).name == "hf"
    with pytest.raises(Exception, match="--engine nope"):
        fastgen.choose("nope", loaded)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_runs(tiny_model: Path, prompts, dtype) -> None:
    """GPU users get bf16/fp16 by default; the loop must run there (checked here on the CPU)."""
    half = E.load(str(tiny_model), revision=None, device=torch.device("cpu"), dtype=dtype)
    for name in ("card", "sample", "greedy"):
        out = fastgen.FastGPT2Engine(half).generate(prompts[:2], SETTINGS[name], EOS, 0)
        assert len(out) == 2 and all(len(c) == SETTINGS[name].num_return_sequences for c in out)
