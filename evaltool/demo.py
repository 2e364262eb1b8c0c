"""``evaltool demo``: the whole loop offline in one folder, for a first look and for CI.

Database, the shipped validation set, the baseline systems, the ruDialoGPT models when they are
cached or reachable, an admin and three annotator links; then either the annotation page or,
with ``simulate_labels``, labels from simulated raters and the report.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select

from evaltool.annotation import flow
from evaltool.annotation.accounts import add_annotator, link
from evaltool.catalog import BASELINES, REFERENCE_MODELS
from evaltool.generation.backends import make_responder
from evaltool.generation.loop import RunOptions, run
from evaltool.storage import db
from evaltool.storage.contexts import BUILTIN_DATASET, builtin_path, import_contexts
from evaltool.storage.project import save_settings
from evaltool.storage.schema import Annotator, Response, System

# What a careful rater would answer for each baseline: (sensible, specific).
# A simulated rater takes a model response to be sensible and specific this often.
MODEL_GOOD_RATE = 0.6


@dataclass
class DemoResult:
    """What the demo made: database URL, links, skipped models, report files."""

    url: str
    links: dict[str, str] = field(default_factory=dict)
    skipped_models: list[str] = field(default_factory=list)


def model_available(model_id: str) -> bool:
    """True when the model is in the local Hugging Face cache or the hub answers quickly."""
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(model_id, "config.json"), str):
        return True
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return False
    try:
        from huggingface_hub import HfApi

        HfApi().model_info(model_id, timeout=5)
        return True
    except Exception:
        return False


def prepare(
    folder: Path,
    models: tuple[str, ...] = REFERENCE_MODELS,
    seed: int = 0,
    say: Callable[[str], None] = print,
) -> tuple[Engine, DemoResult]:
    """Create the demo database in ``folder`` with data, systems and people."""
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{(folder / 'evaltool.db').resolve()}"
    engine = db.make_engine(url, must_exist=False)
    db.upgrade(engine)
    result = DemoResult(url)
    imported = import_contexts(engine, builtin_path(), BUILTIN_DATASET)
    say(f"{BUILTIN_DATASET}: {imported.added} contexts added, {imported.unchanged} already there")
    options = RunOptions(dataset=BUILTIN_DATASET, seed=seed)
    for name in BASELINES:
        summary = run(engine, make_responder(f"baseline:{name}"), options)
        say(f"baseline {name}: {summary.responses} responses ({summary.skipped} already there)")
    for model in models:
        if not model_available(model):
            result.skipped_models.append(model)
            continue
        summary = run(engine, make_responder(model), options)
        say(f"{summary.system}: {summary.contexts} contexts in {summary.seconds:.0f} s")
    if result.skipped_models:
        say(
            "skipped (not cached, hub unreachable): "
            + ", ".join(result.skipped_models)
            + f"; when online, add them with: evaltool generate --db {url}"
        )
    with db.session_scope(engine) as s:
        existing = set(s.scalars(select(Annotator.name)))
    for name, admin in (
        ("admin", True),
        ("annotator-1", False),
        ("annotator-2", False),
        ("annotator-3", False),
    ):
        if name not in existing:
            result.links[name] = link(add_annotator(engine, name, admin=admin))
    return engine, result


def simulate_labels(engine: Engine, raters: int = 5, accuracy: float = 0.85, seed: int = 0) -> int:
    """Label every item through the page's own path (``flow``) with simulated raters.

    Each rater answers an item's expected labels with probability ``accuracy`` per question
    (baselines have known answers; a model's response counts as sensible and specific with
    probability ``MODEL_GOOD_RATE``). Raters and labels are marked simulated. Returns labels stored.
    """
    rng = random.Random(seed)
    tokens = []
    with db.session_scope(engine) as s:
        taken = set(s.scalars(select(Annotator.name)))
    for i in range(raters):
        name = f"simulated-{i + 1}"
        if name in taken:
            name = f"simulated-{i + 1}-{rng.randrange(10**6)}"
        tokens.append(add_annotator(engine, name))
    with db.session_scope(engine) as s:
        for a in s.scalars(select(Annotator).where(Annotator.name.like("simulated-%"))):
            a.simulated = True
            a.seen_instructions = True
        kinds = dict(s.execute(select(Response.id, System.name).join(System)).all())
    truth: dict[int, tuple[bool, bool]] = {}
    stored = 0
    screens = {token: flow.view(engine, token, rng) for token in tokens}
    active = list(tokens)  # in the order the raters were made: the draw is reproducible
    while active:
        token = rng.choice(active)
        task = screens[token].task
        if screens[token].kind != "task" or task is None:
            active.remove(token)
            continue
        rid = task.response_id
        if rid not in truth:
            known = BASELINES.get(kinds[rid])
            truth[rid] = known.expected if known else (rng.random() < MODEL_GOOD_RATE,) * 2
        want_s, want_p = truth[rid]
        s_ans = want_s if rng.random() < accuracy else not want_s
        p_ans = want_p if rng.random() < accuracy else not want_p
        screens[token] = flow.answer(
            engine, token, rid, s_ans, p_ans, seconds=0.0, rng=rng, source="simulated"
        )
        stored += screens[token].stored
    return stored


def configure(engine: Engine, overlap: int) -> None:
    """The demo's collection settings: k labels, no gold items (the shipped set has none)."""
    with db.session_scope(engine) as s:
        save_settings(s, overlap=overlap, gold_rate=0.0)
