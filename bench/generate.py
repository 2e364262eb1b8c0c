"""Benchmark: the model card's per-context loop against `evaltool generate`, in one run.

Random-weight GPT-2 models of the real ruDialoGPT shapes (docs/protocol.md), the real
tokenizer, the card's decoding settings with exactly 40 new tokens, fp32 on this machine.
Prints seconds per context for the card's loop (transformers' generate, one context at a time)
and for evaltool under each decoding rule, their ratio, and evaltool's model FLOP/s as a share
of the fp32 matrix-multiply peak measured here in the same run. The card's rule decodes
num_return_sequences x num_beams rows per context (three searches of three beams), today's
rule num_beams rows: FLOPs are counted per decoded row.

    .venv/bin/python bench/generate.py                 # small and medium
    .venv/bin/python bench/generate.py --shape medium --contexts 64 --card-contexts 4
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaltool.generation.local import LocalResponder, LocalRunConfig  # noqa: E402
from evaltool.generation.loop import RunOptions, run  # noqa: E402
from evaltool.generation.prompting import RuDialoGPTFormat  # noqa: E402
from evaltool.generation.settings import GenerationSettings  # noqa: E402
from evaltool.storage import db  # noqa: E402
from evaltool.storage.contexts import builtin_path, import_contexts  # noqa: E402
from tests.golden.tiny import build_tokenizer  # noqa: E402

SHAPES = {"small": (12, 768, 12), "medium": (24, 1024, 16)}
CARD = dict(
    top_k=10,
    top_p=0.95,
    num_beams=3,
    num_return_sequences=3,
    do_sample=True,
    no_repeat_ngram_size=2,
    temperature=1.2,
    repetition_penalty=1.2,
    length_penalty=1.0,
    eos_token_id=50257,
    max_new_tokens=40,
    min_new_tokens=40,
)


def matmul_peak() -> float:
    """fp32 GFLOP/s of a large square matrix product on this machine, best of 5."""
    a = torch.randn(2048, 2048)
    a @ a
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        a @ a
        best = max(best, 2 * 2048**3 / (time.perf_counter() - t) / 1e9)
    return best


def build(shape: str, folder: Path) -> GPT2Config:
    layers, width, heads = SHAPES[shape]
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=50261, n_positions=2048, n_embd=width, n_layer=layers, n_head=heads)
    GPT2LMHeadModel(cfg).save_pretrained(folder)
    build_tokenizer().save_pretrained(folder)
    return cfg


def model_flops(cfg: GPT2Config, prompt_tokens: int, new_tokens: int) -> float:
    """Weight FLOPs: prompt once per context, each decoded row's new tokens through blocks and
    head."""
    blocks = 12 * cfg.n_layer * cfg.n_embd**2
    head = cfg.vocab_size * cfg.n_embd
    return 2 * (blocks * prompt_tokens + (blocks + head) * new_tokens)


def card_loop(folder: Path, turns: list[list[str]]) -> float:
    """Seconds per context for the model card's snippet: one generate call per context."""
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    fmt = RuDialoGPTFormat()
    torch.manual_seed(0)
    start = time.perf_counter()
    for t in turns:
        inputs = tok(fmt.build(t, 3), return_tensors="pt")
        with torch.inference_mode():
            model.generate(**inputs, **CARD, pad_token_id=tok.pad_token_id)
    return (time.perf_counter() - start) / len(turns)


def evaltool_run(
    folder: Path, work: Path, contexts: int, batch: int | None, decoding: str
) -> tuple[float, int]:
    """Seconds per context through `evaltool generate`'s code path, and prompt tokens used."""
    url = f"sqlite:///{work / f'bench-{decoding}.db'}"
    engine = db.make_engine(url, must_exist=False)
    db.upgrade(engine)
    import_contexts(engine, builtin_path(), "ru-mtb")
    settings = GenerationSettings(
        **{k: v for k, v in CARD.items() if k != "eos_token_id"}, decoding=decoding
    )
    config = LocalRunConfig(
        model=str(folder), settings=settings, batch_size=batch, device="cpu", dtype="fp32"
    )
    summary = run(engine, LocalResponder(config), RunOptions(limit=contexts))
    tok = AutoTokenizer.from_pretrained(folder)
    fmt = RuDialoGPTFormat()
    with db.session_scope(engine) as s:
        from evaltool.storage.schema import Context

        rows = s.query(Context).order_by(Context.id).limit(contexts).all()
        prompt_tokens = sum(len(tok.encode(fmt.build(c.turns, 3))) for c in rows)
    return summary.seconds / summary.contexts, prompt_tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=["small", "medium", "both"], default="both")
    ap.add_argument("--contexts", type=int, default=64, help="contexts for evaltool")
    ap.add_argument("--card-contexts", type=int, default=4, help="contexts for the card loop")
    ap.add_argument("--batch-size", type=int, default=None, help="evaltool batch (default: auto)")
    ap.add_argument(
        "--decoding",
        nargs="+",
        choices=["card", "transformers"],
        default=["card", "transformers"],
        help="evaltool's decoding rules to time",
    )
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    peak = matmul_peak()
    print(f"fp32 matmul peak here: {peak:.0f} GFLOP/s")
    from evaltool.storage.contexts import read_contexts

    turns = [r.turns for r in read_contexts(builtin_path())]
    shapes = ["small", "medium"] if args.shape == "both" else [args.shape]
    print(
        "shape   card loop s/ctx  evaltool rule   rows/ctx  s/ctx  speed-up  GFLOP/s  share of peak"
    )
    for shape in shapes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / shape
            cfg = build(shape, folder)
            card = card_loop(folder, turns[: args.card_contexts])
            for rule in args.decoding:
                ours, prompt_tokens = evaltool_run(
                    folder, Path(tmp), args.contexts, args.batch_size, rule
                )
                rows = CARD["num_beams"] * (CARD["num_return_sequences"] if rule == "card" else 1)
                flops = model_flops(cfg, prompt_tokens, args.contexts * 40 * rows)
                rate = flops / (ours * args.contexts) / 1e9
                print(
                    f"{shape:7} {card:15.2f}  {rule:13} {rows:8} {ours:6.2f} {card / ours:8.1f}x "
                    f"{rate:8.0f} {rate / peak:14.0%}"
                )


if __name__ == "__main__":
    main()
