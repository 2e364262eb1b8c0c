"""What the two beam-sampling rules produce: candidate diversity and reply length.

The card's settings on a tiny random GPT-2 with the real ruDialoGPT tokenizer
(tests/golden/tiny.py), over the first N shipped contexts, one context at a time as the card's
snippet runs: evaltool's ``card`` and ``transformers`` rules, transformers' own ``generate``
(the locked release) and, with ``--tf425 PYTHON`` (the venv ``make golden`` builds), transformers
4.25.1 itself. For each it prints the share of candidate pairs (ranks 0-2 of a context) that
start with the same 8 characters, the share of identical pairs, and the mean reply length in
characters (rank 0, and all ranks).

    .venv/bin/python bench/decoding_rules.py --tf425 .venv-tf425/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import transformers

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaltool.generation import fastloop  # noqa: E402
from evaltool.generation import models as E  # noqa: E402
from evaltool.generation.prompting import RuDialoGPTFormat  # noqa: E402
from evaltool.generation.settings import context_key  # noqa: E402
from evaltool.storage.contexts import builtin_path, read_contexts  # noqa: E402
from tests.golden import make_golden, tiny  # noqa: E402

EOS = tiny.EOS_ID


def summarise(name: str, tok: object, outputs: list[list[list[int]]]) -> None:
    """One table row: pair similarity and reply lengths."""
    fmt = RuDialoGPTFormat()
    texts = [[fmt.extract(tok.decode(c, skip_special_tokens=True)) for c in o] for o in outputs]
    pairs = [(a, b) for t in texts for i, a in enumerate(t) for b in t[i + 1 :]]
    prefix = sum(a[:8] == b[:8] for a, b in pairs) / len(pairs)
    same = sum(a == b for a, b in pairs) / len(pairs)
    first = sum(len(t[0]) for t in texts) / len(texts)
    every = sum(len(x) for t in texts for x in t) / sum(len(t) for t in texts)
    print(f"{name:34} {prefix:10.2f} {same:10.2f} {first:12.1f} {every:10.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contexts", type=int, default=30)
    ap.add_argument("--tf425", help="python of a venv with transformers 4.25.1 (make golden)")
    ap.add_argument("--eos-boost", type=float, default=4.0)
    args = ap.parse_args()
    fmt = RuDialoGPTFormat()
    rows = read_contexts(builtin_path())[: args.contexts]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "tiny"
        tiny.build_model(0, args.eos_boost).save_pretrained(folder)
        tiny.build_tokenizer().save_pretrained(folder)
        loaded = E.load(str(folder), revision=None, device=torch.device("cpu"), dtype=torch.float32)
        tok = loaded.tokenizer
        prompts = [tok.encode(fmt.build(r.turns, 3)) for r in rows]
        keys = [context_key(0, "ru-mtb", r.external_id) for r in rows]
        print(
            f"{len(rows)} shipped contexts, card settings, tiny GPT-2 (eos boost {args.eos_boost})"
        )
        print(f"{'rule':34} {'same 8 ch':>10} {'identical':>10} {'len rank 0':>12} {'len all':>10}")
        engine = fastloop.FastGPT2Decoder(loaded)
        for rule in ("card", "transformers"):
            s = E.GenerationSettings(decoding=rule)
            summarise(f"evaltool --decoding {rule}", tok, engine.generate(prompts, s, EOS, keys))
        hf = E.TransformersDecoder(loaded)
        s = E.GenerationSettings(decoding="transformers")
        out = [hf.generate([p], s, EOS, [i])[0] for i, p in enumerate(prompts)]
        summarise(f"transformers {transformers.__version__} generate", tok, out)
        if args.tf425:
            job, result = Path(tmp) / "job.json", Path(tmp) / "out.json"
            card = make_golden.SETTINGS["card"]
            job.write_text(
                json.dumps(
                    {
                        "model": {"seed": 0, "eos_boost": args.eos_boost},
                        "pad_token_id": tok.pad_token_id,
                        "settings": card,
                        "prompts": prompts,
                        "seeds": list(range(len(prompts))),
                    }
                )
            )
            script = ROOT / "tests" / "golden" / "make_golden.py"
            subprocess.run([args.tf425, str(script), "--decode", str(job), str(result)], check=True)
            summarise("transformers 4.25.1 generate", tok, json.loads(result.read_text())["out"])


if __name__ == "__main__":
    main()
