"""Pair items: which two systems' replies (or chats) people compare, and on which side each
is shown. Every draw comes from one recorded seed, so a design can be made again.

Designs (``PAIR_DESIGNS``): ``all`` pairs of the named systems on every context both
answered (two systems named: that one pair on every such context, ``chosen``); ``random``,
a set number of contexts drawn per pair; ``chats``, finished chats of a chat campaign paired
across bots (ACUTE-Eval's whole-dialogue comparison). The side of each item is drawn at
random and stored; a pair already made (same context or chats, same systems) is kept, so a
design can be run again to add systems without doubling items. Gold pairs (``gold``) come
from a file that names the better reply; people's answers on them check people, as gold SSA
items do, or teach them in a study's qualification step.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from evaltool.annotation.gold import teaching
from evaltool.errors import UserError
from evaltool.storage.chats import get_campaign
from evaltool.storage.contexts import resolve_dataset
from evaltool.storage.db import session_scope
from evaltool.storage.fileio import Record, read_records, require_str
from evaltool.storage.schema import (
    DRAW_KEYS,
    Chat,
    ChatBot,
    Context,
    PairItem,
    Response,
    System,
)
from evaltool.storage.systems import require_system


@dataclass(frozen=True)
class Built:
    """What a design made: new items, those already there, and the seed it drew from."""

    added: int
    kept: int
    seed: int
    design: str


def build_pairs(
    engine: Engine,
    dataset: str | None,
    systems: list[str],
    comparisons: int | None = None,
    seed: int = 0,
) -> Built:
    """Pair items for a dataset's contexts from two or more systems' rank-0 responses: every
    pair on every context, or with ``comparisons`` that many random contexts per pair."""
    if len(set(systems)) < 2:
        raise UserError("name two or more systems to compare", field="systems")
    if comparisons is not None and comparisons < 1:
        raise UserError("must be 1 or more", field="comparisons")
    design = "random" if comparisons else ("chosen" if len(set(systems)) == 2 else "all")
    rng = random.Random(seed)
    with session_scope(engine) as s:
        ds = resolve_dataset(s, dataset)
        ids = sorted({require_system(s, name).id for name in systems})
        replies = _replies(s, ds.id, ids)
        made = _existing(s, ds.id)
        added = kept = 0
        for a, b in itertools.combinations(ids, 2):
            shared = sorted(set(replies[a]) & set(replies[b]))
            if comparisons is not None:
                shared = sorted(rng.sample(shared, min(comparisons, len(shared))))
            for context in shared:
                if (context, a, b) in made:
                    kept += 1
                    continue
                s.add(
                    _item(
                        rng,
                        ds.id,
                        a,
                        b,
                        design,
                        seed,
                        context_id=context,
                        response_a=replies[a][context],
                        response_b=replies[b][context],
                    )
                )
                added += 1
    return Built(added, kept, seed, design)


def build_chat_pairs(
    engine: Engine, campaign: str, comparisons: int | None = None, seed: int = 0
) -> Built:
    """Pair items of a chat campaign's finished chats: for each pair of its bots, their chats
    shuffled and matched one to one (up to ``comparisons`` per pair)."""
    rng = random.Random(seed)
    with session_scope(engine) as s:
        found = get_campaign(s, campaign)
        rows = s.execute(
            select(ChatBot.system_id, Chat.id)
            .join(Chat, Chat.bot_id == ChatBot.id)
            .where(ChatBot.campaign_id == found.id, Chat.state == "finished")
            .order_by(ChatBot.system_id, Chat.id)
        ).all()
        chats: dict[int, list[int]] = {}
        for system, chat in rows:
            chats.setdefault(system, []).append(chat)
        if len(chats) < 2:
            raise UserError(f"campaign {campaign!r} has finished chats of fewer than two bots")
        made = {
            (i.chat_a, i.chat_b)
            for i in s.scalars(
                select(PairItem).where(
                    PairItem.dataset_id == found.dataset_id, PairItem.design == "chats"
                )
            )
        }
        added = kept = 0
        for a, b in itertools.combinations(sorted(chats), 2):
            left, right = chats[a][:], chats[b][:]
            rng.shuffle(left)
            rng.shuffle(right)
            for chat_a, chat_b in list(zip(left, right, strict=False))[:comparisons]:
                if (chat_a, chat_b) in made:
                    kept += 1
                    continue
                s.add(
                    _item(rng, found.dataset_id, a, b, "chats", seed, chat_a=chat_a, chat_b=chat_b)
                )
                added += 1
    return Built(added, kept, seed, "chats")


def import_gold_pairs(
    engine: Engine, path: str | Path, dataset: str | None = None, seed: int = 0
) -> tuple[int, int]:
    """Gold pairs from a file: rows give ``context_id``, ``better`` and ``worse`` (system
    names), optionally ``training`` (yes: a teaching pair for a study's qualification step)
    and an ``explanation`` shown after the answer. The pair item is made (its side drawn from
    ``seed``) or, when it exists, marked. All or nothing; returns (added, updated)."""
    path = Path(path)
    records = read_records(path)
    rng = random.Random(seed)
    with session_scope(engine) as s:
        ds = resolve_dataset(s, dataset)
        items = {
            (i.context_id, i.system_a, i.system_b): i
            for i in s.scalars(select(PairItem).where(PairItem.dataset_id == ds.id))
        }
        lines: dict[tuple[int, int, int], int] = {}
        added = updated = 0
        for rec in records:
            context, better, worse = _gold_replies(s, path, rec, ds.id)
            key = (context, *sorted((better, worse)))
            if key in lines:
                raise UserError(f"{path}:{rec.line}: pair listed twice (line {lines[key]})")
            lines[key] = rec.line
            item = items.get(key)  # type: ignore[arg-type]
            if item is None:
                a, b = key[1], key[2]
                item = _item(rng, ds.id, a, b, "gold", seed, context_id=context)
                item.response_a, item.response_b = _reply(s, context, a), _reply(s, context, b)
                s.add(item)
                added += 1
            else:
                updated += 1
            item.expected, item.open = ("a" if better == item.system_a else "b"), False
            item.training, item.explanation = teaching(path, rec)
    return added, updated


def _gold_replies(s: Session, path: Path, rec: Record, dataset_id: int) -> tuple[int, int, int]:
    """(context id, better system id, worse system id) of a gold pair row, checked."""
    ctx = require_str(path, rec, "context_id").strip()
    context = s.scalar(
        select(Context.id).where(Context.dataset_id == dataset_id, Context.external_id == ctx)
    )
    if context is None:
        raise UserError(f"{path}:{rec.line}: no context {ctx!r} in this dataset")
    ids = []
    for field in ("better", "worse"):
        name = require_str(path, rec, field).strip()
        system = s.scalar(select(System.id).where(System.name == name))
        if system is None or _reply(s, context, system) is None:
            raise UserError(f"{path}:{rec.line}: system {name!r} has no response to {ctx!r}")
        ids.append(system)
    if ids[0] == ids[1]:
        raise UserError(f"{path}:{rec.line}: 'better' and 'worse' name the same system")
    return context, ids[0], ids[1]


def _reply(s: Session, context: int, system: int) -> int | None:
    query = select(Response.id).where(
        Response.context_id == context, Response.system_id == system, Response.rank == 0
    )
    return s.scalar(query)


def _replies(s: Session, dataset_id: int, systems: list[int]) -> dict[int, dict[int, int]]:
    """Per system: its rank-0 response id on each context of the dataset."""
    rows = s.execute(
        select(Response.system_id, Response.context_id, Response.id)
        .join(Context, Context.id == Response.context_id)
        .where(
            Context.dataset_id == dataset_id, Response.rank == 0, Response.system_id.in_(systems)
        )
    ).all()
    out: dict[int, dict[int, int]] = {sid: {} for sid in systems}
    for system, context, rid in rows:
        out[system][context] = rid
    for sid, got in out.items():
        if not got:
            name = s.get(System, sid).name  # type: ignore[union-attr]
            raise UserError(f"system {name!r} has no responses on this dataset", field="systems")
    return out


def _existing(s: Session, dataset_id: int) -> set[tuple[int | None, int, int]]:
    rows = s.execute(
        select(PairItem.context_id, PairItem.system_a, PairItem.system_b).where(
            PairItem.dataset_id == dataset_id, PairItem.context_id.is_not(None)
        )
    )
    return {tuple(r) for r in rows}  # type: ignore[misc]


def _item(
    rng: random.Random, dataset_id: int, a: int, b: int, design: str, seed: int, **where: int
) -> PairItem:
    """A new pair item, its side and draw key drawn from ``rng``."""
    return PairItem(
        dataset_id=dataset_id,
        system_a=a,
        system_b=b,
        a_left=rng.random() < 0.5,
        design=design,
        seed=seed,
        open=True,
        draw_key=rng.randrange(DRAW_KEYS),
        **where,
    )
