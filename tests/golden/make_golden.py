"""Write the golden token ids of the model card's decoding rule, run by transformers 4.25.1.

The ruDialoGPT card's authors decoded with transformers 4.x in 2022. This script runs that
release's own ``generate`` on tiny GPT-2 models (``tiny.py``) with the real ruGPT3 vocabulary,
over several settings, seeds, batch sizes and prompt lengths, and writes what it returned.
``tests/test_golden.py`` checks that evaltool's ``card`` rule, in exact-replay mode, returns
the same ids token for token. Run it with ``make golden`` (it builds ``.venv-tf425`` with
torch 2.13.0 and transformers 4.25.1); CI uses the committed files and does not rerun it.

transformers 4.25.1 cannot read ``model.safetensors`` or today's ``tokenizer.json``: the
model is built in memory and the slow tokenizer is made from ``vocab.json`` + ``merges.txt``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import torch
import transformers

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tiny

CONTEXTS = [
    ["привет"],
    ["Ты любишь кино?", "Да, очень.", "А какой жанр?"],
    ["Как дела?", "Хорошо"],
    ["Что ты делал на выходных у бабушки в деревне под Тверью? Расскажи подробно, мне интересно."],
    ["Я завтра лечу в Казань.", "По работе?", "Нет, к друзьям. А ты там был?"],
]
BATCHES = [[0], [1], [3], [0, 1, 2, 3], [4, 2, 0]]
CARD = {
    "top_k": 10,
    "top_p": 0.95,
    "num_beams": 3,
    "num_return_sequences": 3,
    "do_sample": True,
    "no_repeat_ngram_size": 2,
    "temperature": 1.2,
    "repetition_penalty": 1.2,
    "length_penalty": 1.0,
    "max_new_tokens": 40,
}
SETTINGS: dict[str, dict[str, Any]] = {
    "card": CARD,
    "card-one-return": {**CARD, "num_return_sequences": 1},
    "card-no-top-k": {**CARD, "top_k": 0, "max_new_tokens": 12},
    "card-length-penalty": {**CARD, "length_penalty": 0.6, "max_new_tokens": 20},
    "card-five-beams": {**CARD, "num_beams": 5, "num_return_sequences": 2, "max_new_tokens": 16},
    "sample": {**CARD, "num_beams": 1},
    "beam": {**CARD, "do_sample": False},
    "greedy": {**CARD, "do_sample": False, "num_beams": 1, "num_return_sequences": 1},
}
SEEDS = [1, 2, 3]
MODELS = {"stops-often": (0, 4.0), "runs-long": (1, 1.0)}


def build_prompt(turns: list[str], context_turns: int = 3) -> str:
    """The ruDialoGPT prompt (the test checks it equals evaltool's own)."""
    kept = turns[-context_turns:]
    first, second = tiny.SPEAKERS
    parts = [
        f"{first if (len(kept) - 1 - i) % 2 == 0 else second} {t.strip()}"
        for i, t in enumerate(kept)
    ]
    return " ".join(parts) + f" {second}"


def encode(tok: Any, text: str) -> list[int]:
    """Token ids as today's tokenizer gives them: the slow tokenizer of 4.25.1 strips the spaces
    around added tokens, so the text between speaker tokens is encoded piece by piece."""
    ids: list[int] = []
    for piece in re.split(f"({'|'.join(tiny.SPEAKERS)})", text):
        if piece in tiny.SPEAKERS:
            ids.append(tok.convert_tokens_to_ids(piece))
        elif piece:
            ids.extend(tok.convert_tokens_to_ids(tok._tokenize(piece)))
    return ids


def run_case(model: Any, pad: int, prompts: list[list[int]], s: dict[str, Any], seed: int) -> Any:
    """What 4.25.1's generate returns for one left-padded batch: continuations cut at eos."""
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            eos_token_id=tiny.EOS_ID,
            pad_token_id=pad,
            **s,
        )
    n = s["num_return_sequences"]
    rows = [r[width:] for r in out.tolist()]
    cut = [r[: r.index(tiny.EOS_ID)] if tiny.EOS_ID in r else r for r in rows]
    return [cut[i * n : (i + 1) * n] for i in range(len(prompts))]


def decode(job: Path, out: Path) -> None:
    """The card's loop on a job file (bench/decoding_rules.py): one context per generate call,
    each seeded with its own seed, as the card's snippet runs."""
    spec = json.loads(job.read_text(encoding="utf-8"))
    model = tiny.build_model(spec["model"]["seed"], spec["model"]["eos_boost"])
    results = [
        run_case(model, spec["pad_token_id"], [prompt], spec["settings"], seed)[0]
        for prompt, seed in zip(spec["prompts"], spec["seeds"], strict=True)
    ]
    out.write_text(json.dumps({"transformers": transformers.__version__, "out": results}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "data" / "golden")
    ap.add_argument("--decode", nargs=2, type=Path, metavar=("JOB", "OUT"), help=decode.__doc__)
    args = ap.parse_args()
    if transformers.__version__ != "4.25.1":
        sys.exit(f"needs transformers 4.25.1 (found {transformers.__version__}): make golden")
    if args.decode:
        decode(*args.decode)
        return
    tok = tiny.build_tokenizer()
    texts = [build_prompt(t) for t in CONTEXTS]
    prompts = [encode(tok, t) for t in texts]
    args.out.mkdir(parents=True, exist_ok=True)
    for model_name, (seed, boost) in MODELS.items():
        model = tiny.build_model(seed, boost)
        cases = []
        for name, s in SETTINGS.items():
            for batch in BATCHES:
                for run_seed in SEEDS if s["do_sample"] else SEEDS[:1]:
                    got = run_case(
                        model, tok.pad_token_id, [prompts[i] for i in batch], s, run_seed
                    )
                    cases.append({"settings": name, "batch": batch, "seed": run_seed, "out": got})
        doc = {
            "about": "transformers 4.25.1 generate() on tests/golden/tiny.py; make golden",
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "model": {"seed": seed, "eos_boost": boost, "digest": tiny.weights_digest(model)},
            "eos_token_id": tiny.EOS_ID,
            "pad_token_id": tok.pad_token_id,
            "contexts": CONTEXTS,
            "prompt_texts": texts,
            "prompts": prompts,
            "settings": SETTINGS,
            "cases": cases,
        }
        path = args.out / f"card-{model_name}.json"
        path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n")
        print(f"{path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
