"""``evaltool generate`` end to end on a tiny local model: storage, resume, seeds, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from evaltool.generation import loop as gen
from evaltool.generation.local import make_batches
from evaltool.storage import db
from evaltool.storage.schema import Context, Response, System


@pytest.fixture
def shipped(run_cli, tmp_path: Path) -> str:
    assert run_cli("init").exit_code == 0
    assert run_cli("contexts", "import", "--builtin").exit_code == 0
    return f"sqlite:///{tmp_path / 'evaltool.db'}"


def responses(url: str, system: str | None = None) -> list[tuple[int, int, str]]:
    with db.session_scope(db.make_engine(url)) as s:
        q = select(Response.context_id, Response.rank, Response.text).join(System)
        if system:
            q = q.where(System.name == system)
        return sorted(tuple(row) for row in s.execute(q))


@pytest.mark.slow
def test_fills_the_shipped_set_with_progress(run_cli, shipped, tiny_model) -> None:
    result = run_cli("generate", "--model", str(tiny_model), "--batch-size", "16")
    assert result.exit_code == 0, result.output
    rows = responses(shipped)
    assert len(rows) == 300 * 3
    assert {rank for _, rank, _ in rows} == {0, 1, 2}
    assert "ctx/s" in result.stderr or "ctx]" in result.stderr  # tqdm's bar
    assert "300 contexts, 900 responses" in result.stdout
    with db.session_scope(db.make_engine(shipped)) as s:
        system = s.scalars(select(System)).one()
        assert system.name == tiny_model.name and system.kind == "model"
        assert system.settings["top_k"] == 10 and system.settings["eos_token_id"] == 50257
        assert system.settings["context_turns"] == 3
        assert system.settings["decoding"] == "card"
        prov = system.provenance
        assert (prov["engine"], prov["decoding"], prov["dtype"], prov["device"]) == (
            "fast",
            "card",
            "fp32",
            "cpu",
        )
        assert prov["weights"].startswith("sha256:") and prov["batch_size"] == 16
        assert prov["torch"] and prov["transformers"] and prov["runs"][0]["contexts"] == 300
        meta = s.scalars(select(Response.meta)).first()
        assert {"elapsed_s", "prompt_tokens", "new_tokens"} <= set(meta)
    again = run_cli("generate", "--model", str(tiny_model))
    assert "0 contexts, 0 responses" in again.stdout and "300 already done" in again.stdout
    assert len(responses(shipped)) == 900


@pytest.mark.slow
def test_same_seed_same_responses_other_seed_differs(run_cli, shipped, tiny_model) -> None:
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        args = ["generate", "--model", str(tiny_model), "--system", name, "--limit", "12"]
        assert run_cli(*args, "--seed", seed, "--batch-size", "4").exit_code == 0
    a, b, c = (
        [(ctx, rank, text) for ctx, rank, text in responses(shipped, n)] for n in ("a", "b", "c")
    )
    assert a == b
    assert a != c


def test_changed_settings_under_same_name_refused(run_cli, shipped, tiny_model) -> None:
    assert run_cli("generate", "--model", str(tiny_model), "--limit", "2").exit_code == 0
    for args, named in (
        (["--top-k", "5"], "top_k: 10 -> 5"),
        (["--decoding", "transformers"], "decoding: card -> transformers"),
        (["--dtype", "bf16"], "dtype: fp32 -> bf16"),
    ):
        result = run_cli("generate", "--model", str(tiny_model), *args)
        assert result.exit_code == 2, args
        assert f"was made differently ({named})" in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1
    # device and batch size may change between runs: they are only recorded
    again = run_cli("generate", "--model", str(tiny_model), "--limit", "3", "--batch-size", "2")
    assert again.exit_code == 0, again.output
    with db.session_scope(db.make_engine(shipped)) as s:
        runs = s.scalars(select(System)).one().provenance["runs"]
    assert [r["batch_size"] for r in runs] == [64, 2]


def test_changed_weights_under_same_name_refused(run_cli, shipped, tmp_path) -> None:
    from tests.conftest import make_tiny_model

    folder = make_tiny_model(tmp_path / "m", seed=3)
    assert run_cli("generate", "--model", str(folder), "--limit", "2").exit_code == 0
    make_tiny_model(folder, seed=4)
    result = run_cli("generate", "--model", str(folder))
    assert result.exit_code == 2 and "weights: sha256:" in result.stderr


def test_refused_run_registers_no_system(run_cli, shipped, tiny_model) -> None:
    """Checks that need the model run before the system row is written."""
    for args in (["--max-new-tokens", "256"], ["--engine", "hf"]):
        result = run_cli("generate", "--model", str(tiny_model), *args)
        assert result.exit_code == 2, (args, result.output)
    assert "card's decoding rule runs only in evaltool's GPT-2 loop" in result.stderr
    with db.session_scope(db.make_engine(shipped)) as s:
        assert s.scalars(select(System)).all() == []
    ok = run_cli("generate", "--model", str(tiny_model), "--max-new-tokens", "8", "--limit", "1")
    assert ok.exit_code == 0, ok.output


@pytest.mark.slow
@pytest.mark.parametrize("decoding", ["card", "transformers"])
def test_resumed_with_another_batch_size_equals_an_uninterrupted_run(
    run_cli, shipped, tiny_model, monkeypatch, decoding
) -> None:
    common = ["generate", "--model", str(tiny_model), "--limit", "24", "--decoding", decoding]
    whole = run_cli(*common, "--system", "whole", "--batch-size", "24")
    assert whole.exit_code == 0, whole.output
    real = gen.store_responses
    calls = {"n": 0}

    def interrupted(engine, system_id, rows):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(engine, system_id, rows)

    monkeypatch.setattr(gen, "store_responses", interrupted)
    assert run_cli(*common, "--system", "parts", "--batch-size", "5").exit_code == 1
    monkeypatch.setattr(gen, "store_responses", real)
    assert 0 < len(responses(shipped, "parts")) < 24 * 3
    assert run_cli(*common, "--system", "parts", "--batch-size", "3").exit_code == 0
    assert responses(shipped, "parts") == responses(shipped, "whole")


@pytest.mark.slow
def test_interrupted_run_loses_only_the_batch_in_flight(
    run_cli, shipped, tiny_model, monkeypatch
) -> None:
    real = gen.store_responses
    calls = {"n": 0}

    def flaky(engine, system_id, rows):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(engine, system_id, rows)

    monkeypatch.setattr(gen, "store_responses", flaky)
    aborted = run_cli("generate", "--model", str(tiny_model), "--limit", "40", "--batch-size", "8")
    assert aborted.exit_code == 1 and "Aborted" in aborted.stderr  # click's answer to Ctrl-C
    rows = responses(shipped)
    assert len(rows) == 2 * 8 * 3  # two whole batches, nothing of the third
    monkeypatch.setattr(gen, "store_responses", real)
    assert run_cli("generate", "--model", str(tiny_model), "--limit", "40").exit_code == 0
    rows = responses(shipped)
    assert len(rows) == 40 * 3
    assert len({(c, r) for c, r, _ in rows}) == len(rows)


@pytest.mark.slow
def test_killed_process_then_rerun_completes_without_duplicates(shipped, tiny_model, tmp_path):
    env = {**os.environ, "EVALTOOL_DB": shipped, "HF_HUB_OFFLINE": "1"}
    cmd = [
        sys.executable,
        "-m",
        "evaltool",
        "generate",
        "--model",
        str(tiny_model),
        "--batch-size",
        "4",
        "--no-sample",
        "--num-beams",
        "1",
        "--num-return-sequences",
        "1",
    ]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(responses(shipped)) < 12:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = len(responses(shipped))
    assert 12 <= partial < 300 and partial % 4 == 0  # whole batches only
    subprocess.run(cmd, env=env, cwd=tmp_path, check=True, capture_output=True)
    rows = responses(shipped)
    assert len(rows) == 300 and len({c for c, _, _ in rows}) == 300


@pytest.mark.slow
def test_unknown_hub_model_offline_is_one_line(shipped, tmp_path) -> None:
    env = {
        **os.environ,
        "EVALTOOL_DB": shipped,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf-home"),
    }
    cmd = [sys.executable, "-m", "evaltool", "generate", "--model", "tinkoff-ai/ruDialoGPT-small"]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "tinkoff-ai/ruDialoGPT-small is not in the local Hugging Face cache" in proc.stderr
    assert "HF_HUB_OFFLINE is set" in proc.stderr and "give a local model folder" in proc.stderr


def test_bad_flags_are_user_errors(run_cli, shipped, tiny_model) -> None:
    cases = [
        (["--num-return-sequences", "5", "--no-sample"], "cannot exceed num_beams"),
        (["--batch-size", "0"], "--batch-size must be 1 or more"),
        (["--device", "cuda:7"], "--device: cuda:7: no CUDA device"),
        (["--engine", "nope"], "--decoder: 'nope': use auto, fast, hf"),  # the old name too
        (["--limit", "0"], "--limit must be 1 or more"),
        (["--dataset", "nope"], "no dataset 'nope'"),
        (["--system", "x", "--model", "y"], "--system: names one system"),
    ]
    for args, message in cases:
        result = run_cli("generate", "--model", str(tiny_model), *args)
        assert result.exit_code == 2, args
        assert message in result.stderr, (args, result.stderr)


def test_make_batches_groups_similar_lengths() -> None:
    batches = make_batches(list("abcdef"), [5, 1, 4, 2, 6, 3], 2)
    assert batches == [["e", "a"], ["c", "f"], ["d", "b"]]


def test_overlong_prompt_keeps_its_end(run_cli, tmp_path, tiny_model) -> None:
    assert run_cli("init").exit_code == 0
    long_turn = "очень длинная реплика " * 200  # far beyond the tiny model's 256 positions
    (tmp_path / "v.jsonl").write_text(
        json.dumps({"id": "long", "turns": [long_turn.strip()]}, ensure_ascii=False) + "\n"
    )
    assert run_cli("contexts", "import", "v.jsonl").exit_code == 0
    result = run_cli("generate", "--model", str(tiny_model))
    assert result.exit_code == 0, result.output
    assert "1 prompts cut to the model's length" in result.stdout


def test_decoding_rule_is_shown_by_status_and_report(
    run_cli, shipped, tiny_model, tmp_path
) -> None:
    args = ["generate", "--model", str(tiny_model), "--limit", "4", "--decoding", "transformers"]
    assert run_cli(*args).exit_code == 0
    systems = run_cli("status").output.split("Systems")[1].split("Labels")[0]
    assert "decoding" in systems and "transformers" in systems
    rows = [
        {
            "context_id": f"mtb-{i:03d}",
            "system": tiny_model.name,
            "annotator": f"r{r}",
            "sensible": 1,
            "specific": 0,
        }
        for i in range(1, 5)
        for r in range(3)
    ]
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    imported = run_cli("labels", "import", "labels.jsonl")
    assert imported.exit_code == 0, imported.output
    assert run_cli("report", "--resamples", "1000").exit_code == 0
    rep = json.loads((tmp_path / "reports" / "ru-mtb" / "report.json").read_text())
    assert rep["systems"][0]["decoding"] == "transformers"
    md = (tmp_path / "reports" / "ru-mtb" / "report.md").read_text()
    assert f"| {tiny_model.name} | model | transformers | 4 |" in md


def test_chat_model_from_a_folder_is_prompted_through_its_template(
    run_cli, shipped, tiny_chat_model
) -> None:
    from transformers import AutoTokenizer

    from evaltool.generation.prompting import messages

    system_prompt = "Отвечай кратко."
    args = ["generate", "--model", str(tiny_chat_model), "--limit", "8"]
    result = run_cli(*args, "--system-prompt", system_prompt)
    assert result.exit_code == 0, result.output
    tok = AutoTokenizer.from_pretrained(tiny_chat_model)
    with db.session_scope(db.make_engine(shipped)) as s:
        system = s.scalars(select(System)).one()
        assert system.settings["prompt_format"] == "chat-template"
        assert system.settings["system_prompt"] == system_prompt
        assert system.settings["eos_token_id"] == tok.convert_tokens_to_ids("<|im_end|>")
        rows = s.execute(select(Response.text, Response.meta, Response.context_id)).all()
        turns = {c.id: c.turns for c in s.scalars(select(Context))}
    assert len(rows) == 8 * 3
    assert not any("<|im_" in text for text, _, _ in rows)
    for _, meta, cid in rows:
        expected = tok.apply_chat_template(
            messages(turns[cid], 3, system_prompt), tokenize=True, add_generation_prompt=True
        )["input_ids"]
        assert meta["prompt_tokens"] == len(expected)
    # ruDialoGPT's format has no place for the system prompt: refused before anything is written
    other = run_cli(*args, "--system", "x", "--prompt-format", "rudialogpt", "--system-prompt", "y")
    assert other.exit_code == 2 and "--system-prompt: the rudialogpt format" in other.stderr
    assert len(responses(shipped)) == 24


def test_chat_model_of_another_architecture_runs_through_transformers_generate(
    run_cli, shipped, tmp_path, tiny_chat_model
) -> None:
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tiny_chat_model)
    folder = tmp_path / "tiny-llama-chat"
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        eos_token_id=tok.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    args = ["generate", "--model", str(folder), "--limit", "4", "--max-new-tokens", "8"]
    refused = run_cli(*args)
    assert refused.exit_code == 2 and "use the transformers rule" in refused.stderr
    result = run_cli(*args, "--decoding", "transformers")
    assert result.exit_code == 0, result.output
    assert "hf engine" in result.stdout
    with db.session_scope(db.make_engine(shipped)) as s:
        system = s.scalars(select(System)).one()
        assert system.settings["prompt_format"] == "chat-template"
        assert system.settings["eos_token_id"] == tok.eos_token_id
    assert len(responses(shipped)) == 4 * 3
