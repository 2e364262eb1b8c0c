"""The judges for real: an LLM judge against ``transformers serve`` on tiny local chat models
(a run killed and resumed; an answer that is not yes or no refused in one line) and the
classifier judge on a tiny random BERT laid out as tinkoff-ai's response-quality-classifier."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from evaltool.storage import db
from evaltool.storage.schema import Judge, JudgeLabel

from .conftest import free_port, make_pool, make_tiny_chat_model, transformers_serve

pytestmark = pytest.mark.slow


def make_judge_model(folder: Path) -> Path:
    """A tiny chat model whose first word is always "да" or "нет" (which one depends on the
    input): the final layer norm's bias points one way and both words' embeddings along it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    make_tiny_chat_model(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        width = model.config.n_embd
        way = torch.randn(width, generator=gen)
        way /= way.norm()
        model.transformer.ln_f.bias.copy_(20 * way)
        for word in ("да", "нет"):
            (token,) = tok.encode(word)
            model.transformer.wte.weight[token] = 5 * way + 0.5 * torch.randn(width, generator=gen)
    model.generation_config = GenerationConfig(
        do_sample=False, eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id
    )
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    with transformers_serve(port):
        yield f"http://127.0.0.1:{port}/v1"


def evaltool(url: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "EVALTOOL_DB": url}
    return subprocess.Popen(
        [sys.executable, "-m", "evaltool", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def labels(url: str) -> int:
    with db.session_scope(db.make_engine(url), readonly=True) as s:
        return s.scalar(select(func.count(JudgeLabel.id))) or 0


def test_an_llm_judge_killed_mid_run_resumes_and_a_bad_answer_is_refused(
    server: str, sqlite_url: str, tmp_path: Path
) -> None:
    """Kill -9 after the first stored verdicts; the rerun judges only the rest. A model that
    answers neither да nor нет stops the run with one line and exit 2."""
    judge_model = make_judge_model(tmp_path / "judge")
    make_pool(db.make_engine(sqlite_url), contexts=30, systems=2, ranks=(0,))
    run = ["judge", "run", "j", "--endpoint", server, "--model", str(judge_model)]
    first = evaltool(sqlite_url, *run, "--concurrency", "1", "--max-tokens", "1")
    deadline = time.monotonic() + 240
    while labels(sqlite_url) == 0:
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    kept = labels(sqlite_url)
    assert 0 < kept < 60
    second = evaltool(sqlite_url, *run, "--max-tokens", "1")
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err[-2000:]
    assert f"{60 - kept} items judged now, {kept} before, 60 of 60" in out
    with db.session_scope(db.make_engine(sqlite_url), readonly=True) as s:
        rows = s.execute(select(JudgeLabel.p_sensible, JudgeLabel.p_specific, JudgeLabel.raw)).all()
    assert len(rows) == 60 and {p for p, _, _ in rows} <= {0.0, 1.0}
    assert all((sp is None) == (p == 0.0) for p, sp, _ in rows)  # specific only after a yes
    assert all(raw.split(" | ")[0].strip() in ("да", "нет") for _, _, raw in rows)
    with db.session_scope(db.make_engine(sqlite_url), readonly=True) as s:
        judge = s.scalars(select(Judge)).one()
        assert judge.prompt_version == "ssa-judge-1" and judge.settings["temperature"] == 0
        assert f"model={judge_model}" in judge.provenance["answered_as"]
    garbage = make_tiny_chat_model(tmp_path / "garbage")
    bad = evaltool(sqlite_url, "judge", "run", "g", "--endpoint", server, "--model", str(garbage))
    out, err = bad.communicate(timeout=300)
    assert bad.returncode == 2 and "Traceback" not in err
    line = err.strip()
    assert line.startswith("error: --model: the judge answered") and "\n" not in line
    assert "it must answer да or нет (prompt ssa-judge-1)" in line


def make_classifier(folder: Path, labels: int = 2) -> Path:
    """A tiny random BERT with the response-quality-classifier's layout: a WordPiece
    vocabulary with [RESPONSE_TOKEN], two outputs (relevance, specificity)."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder.mkdir(parents=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[RESPONSE_TOKEN]"]
    words += list("абвгдеёжзийклмнопрстуфхцчшщъыьэюя0123456789.,!?-") + [
        "##" + c for c in "абвгдеёжзийклмнопрстуфхцчшщъыьэюя0123456789"
    ]
    words += ["привет", "sys", "реплика", "как", "дела"]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    tok = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=False)
    tok.add_special_tokens({"additional_special_tokens": ["[RESPONSE_TOKEN]"]})
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        num_labels=labels,
        max_position_embeddings=160,
    )
    import torch

    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_the_classifier_judge_reads_the_cards_input_and_is_calibrated(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Every item judged as the card's snippet computes it; a model of another layout is
    refused in one line; the judge is listed with its items."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = make_classifier(tmp_path / "rqc")
    engine = db.make_engine(sqlite_url)
    make_pool(engine, contexts=12, systems=2, ranks=(0,))
    done = evaltool(
        sqlite_url, "judge", "run", "rqc", "--classifier", str(model), "--device", "cpu"
    )
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err[-2000:]
    assert "24 items judged now, 0 before, 24 of 24" in out
    tok = AutoTokenizer.from_pretrained(model)
    net = AutoModelForSequenceClassification.from_pretrained(model).eval()
    text = "[CLS]привет[SEP]реплика 3[RESPONSE_TOKEN]sys1 c3"
    inputs = tok(text, max_length=128, add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        want = torch.sigmoid(net(**inputs).logits)[0].tolist()
    with db.session_scope(engine, readonly=True) as s:
        from evaltool.storage.schema import Response

        rid = s.scalar(select(Response.id).where(Response.text == "sys1 c3"))
        got = s.execute(
            select(JudgeLabel.p_sensible, JudgeLabel.p_specific).where(
                JudgeLabel.response_id == rid
            )
        ).one()
    assert abs(got[0] - want[0]) < 1e-6 and abs(got[1] - want[1]) < 1e-6
    other = make_classifier(tmp_path / "three", labels=3)
    bad = evaltool(sqlite_url, "judge", "run", "x", "--classifier", str(other), "--device", "cpu")
    _, err = bad.communicate(timeout=300)
    assert bad.returncode == 2 and err.strip().count("\n") == 0
    assert "is not laid out as response-quality-classifier" in err
    listed = evaltool(sqlite_url, "judge", "list")
    out, _ = listed.communicate(timeout=60)
    assert "rqc" in out and "classifier" in out and "24" in out


def test_batched_classifier_verdicts_equal_one_by_one(tmp_path: Path) -> None:
    """Items of many lengths, sorted, padded and scored 8 a pass: the one-by-one verdicts to
    1e-5, in the items' own order."""
    from evaltool.generation.judges import ClassifierJudge

    model = make_classifier(tmp_path / "rqc")
    jobs = [
        (["привет", "как дела " * (k % 7)], "реплика " * (1 + k % 5) + str(k)) for k in range(40)
    ]
    one = ClassifierJudge(str(model), device="cpu", batch_size=1)
    many = ClassifierJudge(str(model), device="cpu", batch_size=8)
    one.prepare()
    many.prepare()
    alone = [one.verdict(*job) for job in jobs]
    together = many.verdicts(jobs)
    assert len({len(many._encode(*job)) for job in jobs}) > 5  # padding really happens
    for a, b in zip(alone, together, strict=True):
        assert abs(a.p_sensible - b.p_sensible) < 1e-5 and abs(a.p_specific - b.p_specific) < 1e-5


def make_side_judge_model(folder: Path) -> Path:
    """A tiny chat model whose first word is always "A": a judge that favours whatever is
    shown first, so every verdict flips when the sides are swapped."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    make_tiny_chat_model(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        way = torch.randn(model.config.n_embd, generator=gen)
        way /= way.norm()
        model.transformer.ln_f.bias.copy_(20 * way)
        (token,) = tok.encode("A")
        model.transformer.wte.weight[token] = 5 * way
    model.generation_config = GenerationConfig(
        do_sample=False, eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id
    )
    model.save_pretrained(folder)
    return folder


def test_a_pair_judge_asked_twice_turns_a_side_preference_into_ties(
    server: str, sqlite_url: str, tmp_path: Path
) -> None:
    """Against a real server: every pair compared twice, sides swapped; a judge that always
    says A flips every time, so the report counts ties and says how often."""
    import json

    from evaltool.annotation.pairing import build_pairs
    from evaltool.storage.schema import JudgePairLabel

    judge_model = make_side_judge_model(tmp_path / "side")
    make_pool(db.make_engine(sqlite_url), contexts=4, systems=3, ranks=(0,))
    build_pairs(db.make_engine(sqlite_url), None, ["sys0", "sys1", "sys2"])
    run = ["judge", "run", "pj", "--pairs", "--endpoint", server, "--model", str(judge_model)]
    done = evaltool(sqlite_url, *run, "--max-tokens", "1", "--language", "en")
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err[-2000:]
    assert "12 items judged now, 0 before, 12 of 12" in out
    with db.session_scope(db.make_engine(sqlite_url), readonly=True) as s:
        rows = s.execute(
            select(JudgePairLabel.first, JudgePairLabel.second, JudgePairLabel.winner)
        ).all()
        judge = s.scalars(select(Judge)).one()
    assert set(rows) == {("a", "b", "tie")} and judge.prompt_version == "pair-judge-1"
    folder = tmp_path / "report"
    got = evaltool(sqlite_url, "report", "--pairs-only", "--judge", "pj", "--out", str(folder),
                   "--resamples", "1000")  # fmt: skip
    _, err = got.communicate(timeout=300)
    assert got.returncode == 0, err[-2000:]
    section = json.loads((folder / "report.json").read_text())["pairwise"]["judged"]
    assert (section["verdicts"], section["flipped"], section["flip_share"]) == (12, 12, 1.0)
    assert {(p["ties"], p["wins"]) for p in section["pairs"]} == {(4, 0)}
    assert "flipped with the side and count as ties" in (folder / "report.md").read_text()
