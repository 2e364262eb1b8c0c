"""The card's rule against transformers 4.25.1 itself: golden token ids, token for token.

``tests/golden/make_golden.py`` ran 4.25.1's ``generate`` (``make golden``) on tiny models
built by ``tests/golden/tiny.py``; the files under ``tests/data/golden`` are the contract.
Replay mode makes the same random draws as 4.25.1 for the same seed and batch, so every
returned id must match. 4.25.1 is slow on the full vocabulary: the suite checks every case
of the card's own settings with one seed, three seeds on the four-prompt batch, and that batch
for every other setting (``EVALTOOL_GOLDEN=all`` checks every case).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch

from evaltool.generation import fastloop as fastgen
from evaltool.generation import models as E
from evaltool.generation.prompting import RuDialoGPTFormat
from tests.golden import make_golden, tiny

GOLDEN = Path(__file__).parent / "data" / "golden"
FILES = sorted(GOLDEN.glob("card-*.json"))
PADDED = [0, 1, 2, 3]


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _selected(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if os.environ.get("EVALTOOL_GOLDEN") == "all":
        return doc["cases"]
    return [
        c
        for c in doc["cases"]
        if (c["settings"] == "card" and c["seed"] == 1) or c["batch"] == PADDED
        if c["seed"] == 1 or c["settings"] == "card"
    ]


@pytest.fixture(scope="module", params=FILES, ids=lambda p: p.stem)
def golden(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One golden file and its model, saved and loaded the way users load models."""
    doc = _load(request.param)
    model = tiny.build_model(doc["model"]["seed"], doc["model"]["eos_boost"])
    assert tiny.weights_digest(model) == doc["model"]["digest"], "tiny.py builds other weights"
    folder = tmp_path_factory.mktemp(request.param.stem)
    model.save_pretrained(folder)
    tiny.build_tokenizer().save_pretrained(folder)
    loaded = E.load(str(folder), revision=None, device=torch.device("cpu"), dtype=torch.float32)
    return doc, loaded


def test_golden_files_cover_the_cases() -> None:
    assert len(FILES) == 2
    for path in FILES:
        doc = _load(path)
        assert doc["transformers"] == "4.25.1"
        settings = {c["settings"] for c in doc["cases"]}
        assert settings == set(make_golden.SETTINGS)
        assert {len(c["batch"]) for c in doc["cases"]} >= {1, 3, 4}
        assert {c["seed"] for c in doc["cases"]} == {1, 2, 3}


def test_golden_prompts_are_evaltools_prompts(golden) -> None:
    doc, loaded = golden
    fmt = RuDialoGPTFormat()
    for turns, text, ids in zip(doc["contexts"], doc["prompt_texts"], doc["prompts"], strict=True):
        assert fmt.build(turns, 3) == text
        assert loaded.tokenizer.encode(text) == ids


@pytest.mark.slow
def test_card_rule_replays_transformers_4_25_1_token_for_token(golden) -> None:
    doc, loaded = golden
    engine = fastgen.FastGPT2Decoder(loaded, replay=True)
    cases = _selected(doc)
    assert len(cases) >= 14
    for case in cases:
        settings = E.GenerationSettings(**doc["settings"][case["settings"]], decoding="card")
        prompts = [doc["prompts"][i] for i in case["batch"]]
        got = engine.generate(prompts, settings, doc["eos_token_id"], [case["seed"]])
        assert got == case["out"], (case["settings"], case["batch"], case["seed"])


def test_the_golden_outputs_are_not_trivial() -> None:
    """Stopping, full length and three different candidates all occur in the contract."""
    lengths, distinct = set(), 0
    for path in FILES:
        for case in _load(path)["cases"]:
            for candidates in case["out"]:
                lengths.update(len(c) for c in candidates)
                distinct += len({tuple(c) for c in candidates}) == len(candidates) > 1
    assert 0 in lengths and 40 in lengths and len(lengths) > 20
    assert distinct > 50
