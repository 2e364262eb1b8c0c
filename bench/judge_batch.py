"""Benchmark: the classifier judge one item a forward pass against batches, in one run.

A random BERT of BERT-base's shape (12 layers, 768 wide, 12 heads) laid out as tinkoff-ai's
response-quality-classifier (a WordPiece vocabulary with [RESPONSE_TOKEN], two outputs) is
saved to a temp folder and loaded as ``judge run --classifier`` loads it. --items dialog
snippets of 3 turns and a reply (8 to 40 words each, a word a token, as ruBERT's vocabulary
mostly gives) are judged one by one (``--batch-size 1``, the old path) and in batches sorted
by length; prints items per second of each, the ratio, and the largest difference between
the two runs' probabilities (they must agree to 1e-5). Goal (issue 28): at least 5x here.
--layers 2 --hidden 32 times the tiny model whose cost is all per-call overhead.

    .venv/bin/python bench/judge_batch.py [--items 512] [--batch-size 32] [--device cpu]
        [--layers 12 --hidden 768]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaltool.generation.judges import ClassifierJudge

WORDS = [
    "привет",
    "как",
    "дела",
    "хорошо",
    "плохо",
    "спасибо",
    "пожалуйста",
    "сегодня",
    "завтра",
    "вчера",
    "погода",
    "фильм",
    "книга",
    "музыка",
    "работа",
    "дом",
    "кот",
    "собака",
    "чай",
    "кофе",
    "город",
    "море",
    "лес",
    "время",
    "утро",
    "вечер",
    "ночь",
    "друг",
    "семья",
    "игра",
    "школа",
    "учеба",
    "отпуск",
    "поезд",
    "машина",
    "мечта",
    "вопрос",
    "ответ",
    "идея",
    "новость",
    "праздник",
    "подарок",
]


def build(folder: Path, seed: int, layers: int = 12, hidden: int = 768) -> Path:
    """A random BERT classifier (BERT-base's shape by default) with the card's layout, saved
    in ``folder``."""
    import torch
    import transformers
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    transformers.utils.logging.disable_progress_bar()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[RESPONSE_TOKEN]"]
    (folder / "vocab.txt").write_text("\n".join(special + WORDS) + "\n", encoding="utf-8")
    tok = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=False)
    tok.add_special_tokens({"additional_special_tokens": ["[RESPONSE_TOKEN]"]})
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),
        intermediate_size=4 * hidden,
        num_labels=2,
    )
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def snippets(n: int, seed: int) -> list[tuple[list[str], str]]:
    """``n`` (three turns, reply) pairs of random lengths."""
    rng = random.Random(seed)

    def say(lo: int, hi: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))

    return [([say(2, 10) for _ in range(3)], say(2, 10)) for _ in range(n)]


def timed(judge: ClassifierJudge, jobs: list, batch: int) -> tuple[list, float]:  # type: ignore[type-arg]
    """The verdicts and items per second, one forward pass per item when ``batch`` is 1."""
    judge.batch_size = batch
    start = time.perf_counter()
    verdicts = [judge.verdict(*job) for job in jobs] if batch == 1 else judge.verdicts(jobs)
    return verdicts, len(jobs) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layers", type=int, default=12, help="12: BERT-base; 2: a tiny one")
    ap.add_argument("--hidden", type=int, default=768, help="768: BERT-base; 32: a tiny one")
    args = ap.parse_args()
    jobs = snippets(args.items, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = build(Path(tmp), args.seed, args.layers, args.hidden)
        judge = ClassifierJudge(str(folder), device=args.device)
        judge.prepare()
        timed(judge, jobs[:8], 1)  # warm-up
        alone, rate_one = timed(judge, jobs, 1)
        together, rate_batch = timed(judge, jobs, args.batch_size)
    diff = max(
        max(abs(a.p_sensible - b.p_sensible), abs(a.p_specific - b.p_specific))
        for a, b in zip(alone, together, strict=True)
    )
    ratio = rate_batch / rate_one
    print(f"BERT {args.layers} layers x {args.hidden}, {args.items} items on {judge.device_}:")
    print(f"  one by one        {rate_one:8.1f} items/s")
    print(f"  batches of {args.batch_size:<4d}   {rate_batch:8.1f} items/s")
    print(f"  ratio {ratio:.1f}x (goal 5x: {'met' if ratio >= 5 else 'MISSED'})")
    print(f"  largest difference of probabilities {diff:.2e} (must be < 1e-5)")


if __name__ == "__main__":
    main()
