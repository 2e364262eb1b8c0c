"""``evaltool perplexity``: the right number (checked one context at a time against the model
itself), stored with the system, shown in the report with its rank correlation to SSA."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from evaltool.generation import models as E
from evaltool.generation.perplexity import score, sequences
from evaltool.generation.prompting import RuDialoGPTFormat

from .conftest import make_tiny_model

CONTEXTS = [
    {"id": f"c{i}", "turns": turns, "reference": ref}
    for i, (turns, ref) in enumerate(
        [
            (["Привет!"], "Привет, как дела?"),
            (["Ты любишь кино?", "Да.", "А какой жанр?"], "Фантастику, особенно старую."),
            (["Что ел на завтрак?"], "Кашу."),
            (["Куда поедешь летом?", "Пока не знаю."], "Может быть, на море."),
            (["Как тебя зовут?"], "Меня зовут Бот."),
        ]
    )
]


def direct(folder: Path) -> float:
    """Perplexity computed the plain way: each context alone, no padding."""
    loaded = E.load(str(folder), revision=None, device=torch.device("cpu"), dtype=torch.float32)
    fmt, nll, n = RuDialoGPTFormat(), 0.0, 0
    for c in CONTEXTS:
        prompt = fmt.build(c["turns"], 3)
        head = loaded.tokenizer.encode(prompt)
        ids = loaded.tokenizer.encode(prompt + fmt.continuation(c["reference"]))
        with torch.inference_mode():
            logp = torch.log_softmax(loaded.model(torch.tensor([ids])).logits[0].float(), -1)
        for t in range(len(head), len(ids)):
            nll -= float(logp[t - 1, ids[t]])
            n += 1
    return math.exp(nll / n)


def test_batched_score_equals_one_context_at_a_time(tiny_model: Path) -> None:
    loaded = E.load(str(tiny_model), revision=None, device=torch.device("cpu"), dtype=torch.float32)
    seqs = sequences(
        loaded.tokenizer,
        RuDialoGPTFormat(),
        [c["turns"] for c in CONTEXTS],
        [c["reference"] for c in CONTEXTS],
        None,
        3,
    )
    for batch in (1, 2, 5):
        assert score(loaded, seqs, batch).perplexity == pytest.approx(direct(tiny_model), rel=1e-5)
    assert all(n >= 2 for _, n in seqs)  # the reply and the end of the turn are scored


@pytest.mark.slow
def test_perplexity_is_stored_and_reported_beside_ssa(run_cli, tmp_path: Path) -> None:
    assert run_cli("init").exit_code == 0
    (tmp_path / "v.jsonl").write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in CONTEXTS)
    )
    assert run_cli("contexts", "import", "v.jsonl").exit_code == 0
    labels = []
    for k, name in enumerate(("a", "b", "c")):
        rows = [{"context_id": c["id"], "response": f"{name} {c['id']}"} for c in CONTEXTS]
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        assert run_cli("responses", "import", f"{name}.jsonl", "--system", name).exit_code == 0
        model = make_tiny_model(tmp_path / f"m{k}", seed=10 + k)
        result = run_cli("perplexity", "--model", str(model), "--system", name)
        assert result.exit_code == 0, result.output
        assert f"{name}: perplexity" in result.output and "5 reference replies" in result.output
        labels += [
            {"context_id": c["id"], "system": name, "annotator": f"r{r}", "sensible": i <= k}
            | {"specific": False}
            for i, c in enumerate(CONTEXTS)
            for r in range(3)
        ]
    (tmp_path / "l.jsonl").write_text("".join(json.dumps(r) + "\n" for r in labels))
    assert run_cli("labels", "import", "l.jsonl").exit_code == 0
    assert run_cli("report", "--resamples", "1000").exit_code == 0
    rep = json.loads((tmp_path / "reports/v/report.json").read_text())
    assert all(s["perplexity"] > 1 for s in rep["systems"])
    corr = rep["perplexity_vs_ssa"]
    assert corr["systems"] == 3 and -1 <= corr["spearman"] <= 1 and "weak evidence" in corr["note"]
    assert (
        "Spearman's rank correlation of perplexity with SSA"
        in (tmp_path / "reports/v/report.md").read_text()
    )
    again = run_cli("perplexity", "--model", str(tmp_path / "m0"), "--system", "a")
    assert again.exit_code == 0  # a new measurement replaces the old one
    missing = run_cli("perplexity", "--model", str(tmp_path / "m0"), "--system", "nope")
    assert missing.exit_code == 2 and "--system: no system 'nope'" in missing.stderr


def test_chat_model_scores_the_reply_its_template_would_close(tiny_chat_model: Path) -> None:
    from evaltool.generation.prompting import FORMATS, messages

    loaded = E.load(
        str(tiny_chat_model), revision=None, device=torch.device("cpu"), dtype=torch.float32
    )
    tok, system = loaded.tokenizer, "Отвечай кратко."
    turns = [c["turns"] for c in CONTEXTS]
    replies = [c["reference"] for c in CONTEXTS]
    seqs = sequences(tok, FORMATS["chat-template"], turns, replies, None, 3, system)
    nll, n = 0.0, 0
    for t, reply in zip(turns, replies, strict=True):
        convo = messages(t, 3, system)
        head = tok.apply_chat_template(convo, add_generation_prompt=True)["input_ids"]
        full = tok.apply_chat_template([*convo, {"role": "assistant", "content": reply}])
        ids = full["input_ids"]
        assert ids[: len(head)] == head and tok.eos_token_id in ids[len(head) :]
        with torch.inference_mode():
            logp = torch.log_softmax(loaded.model(torch.tensor([ids])).logits[0].float(), -1)
        nll -= sum(float(logp[i - 1, ids[i]]) for i in range(len(head), len(ids)))
        n += len(ids) - len(head)
    assert score(loaded, seqs, 2).perplexity == pytest.approx(math.exp(nll / n), rel=1e-5)
