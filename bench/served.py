"""Benchmark: a one-request-at-a-time loop against `evaltool generate --endpoint`, in one run.

Both ask the same real server (`transformers serve`, continuous batching on, CPU) for the same
replies: a random-weight GPT-2 of a ruDialoGPT shape with the real tokenizer, served as a
completion in the ruDialoGPT format, the card's sampling settings a server takes (temperature
1.2, top-p 0.95, 40 new tokens; no beams, no n-gram ban), three candidates per context. The
baseline is the loop a user writes first: for each context, for each candidate, one request,
wait, store. evaltool keeps ``--concurrency`` requests in flight, so a batching server decodes
them together. Prints seconds per context for each and their ratio.

    .venv/bin/python bench/served.py                     # small shape, 24 contexts, 8 in flight
    .venv/bin/python bench/served.py --shape medium --contexts 16 --concurrency 16
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import torch
from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaltool.generation.loop import RunOptions, run  # noqa: E402
from evaltool.generation.openai_api import request_params  # noqa: E402
from evaltool.generation.prompting import RuDialoGPTFormat  # noqa: E402
from evaltool.generation.served import ServedConfig, ServedResponder  # noqa: E402
from evaltool.generation.settings import GenerationSettings  # noqa: E402
from evaltool.storage import db  # noqa: E402
from evaltool.storage.contexts import builtin_path, import_contexts  # noqa: E402
from evaltool.storage.schema import Context  # noqa: E402
from tests.golden.tiny import build_tokenizer  # noqa: E402

SHAPES = {"small": (12, 768, 12), "medium": (24, 1024, 16)}
SERVED = GenerationSettings(num_beams=1, no_repeat_ngram_size=0, top_k=0, repetition_penalty=1.0)


def build(shape: str, folder: Path) -> None:
    """Random weights of the shape, the real tokenizer, a generation config that samples."""
    layers, width, heads = SHAPES[shape]
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=50261, n_positions=2048, n_embd=width, n_layer=layers, n_head=heads)
    model = GPT2LMHeadModel(cfg)
    model.generation_config = GenerationConfig(do_sample=True, eos_token_id=50257, pad_token_id=0)
    model.save_pretrained(folder)
    build_tokenizer().save_pretrained(folder)


def start_server(port: int, batching: bool) -> subprocess.Popen:
    serve = Path(sys.executable).parent / "transformers"
    command = [str(serve), "serve", "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    proc = subprocess.Popen(
        command + ["--continuous-batching"] * batching,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("transformers serve did not start")


def baseline(url: str, model: str, turns: list[list[str]]) -> float:
    """Seconds per context, one request at a time."""
    fmt, params = RuDialoGPTFormat(), request_params(SERVED)
    start = time.perf_counter()
    for i, t in enumerate(turns):
        for rank in range(SERVED.num_return_sequences):
            body = {"model": model, "prompt": fmt.build(t, 3), "stop": fmt.stop_strings()}
            body |= params | {"seed": i * 10 + rank}
            data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
            request = urllib.request.Request(f"{url}/completions", data, headers)
            with urllib.request.urlopen(request, timeout=600) as answer:
                json.loads(answer.read())
    return (time.perf_counter() - start) / len(turns)


def evaltool_served(url: str, model: str, work: Path, contexts: int, concurrency: int) -> float:
    """Seconds per context through `evaltool generate --endpoint`'s code path."""
    engine = db.make_engine(f"sqlite:///{work / f'bench-{concurrency}.db'}", must_exist=False)
    db.upgrade(engine)
    import_contexts(engine, builtin_path(), "ru-mtb")
    config = ServedConfig(
        endpoint=url,
        model=model,
        settings=SERVED,
        prompt_format="rudialogpt",
        concurrency=concurrency,
    )
    summary = run(engine, ServedResponder(config), RunOptions(limit=contexts))
    return summary.seconds / summary.contexts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--contexts", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-batching", action="store_true", help="serve without batching")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        folder = Path(tmp) / f"gpt2-{args.shape}"
        build(args.shape, folder)
        engine = db.make_engine(f"sqlite:///{tmp}/contexts.db", must_exist=False)
        db.upgrade(engine)
        import_contexts(engine, builtin_path(), "ru-mtb")
        with db.session_scope(engine) as s:
            rows = s.query(Context).order_by(Context.id).limit(args.contexts).all()
            turns = [c.turns for c in rows]
        server = start_server(port, not args.no_batching)
        url = f"http://127.0.0.1:{port}/v1"
        try:
            baseline(url, str(folder), turns[:2])  # loads the model; not timed
            seq = baseline(url, str(folder), turns)
            ours = evaltool_served(url, str(folder), Path(tmp), args.contexts, args.concurrency)
        finally:
            server.terminate()
            server.wait()
    batching = "off" if args.no_batching else "on"
    print(f"{args.shape} shape, {args.contexts} contexts x 3 candidates, batching {batching}")
    print(f"one request at a time:             {seq:6.2f} s/context")
    print(f"evaltool --concurrency {args.concurrency:<3}:         {ours:6.2f} s/context")
    print(f"ratio: {seq / ours:.1f}x")


if __name__ == "__main__":
    main()
