"""The chat tables' own reads and writes: a campaign by name, a chat's turns, and the lease by
which bot processes take pending bot turns and store their replies.

A pending bot turn is stored with the human turn before it, so it outlives any bot process. A
process leases it for a while (``claim``); the reply is stored only if that lease is still its
own and the turn still pending (``store_reply``), so a turn is answered once however many
processes serve the campaign, and one whose process died is taken again when its lease ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from evaltool.errors import UserError
from evaltool.storage.db import session_scope
from evaltool.storage.schema import Chat, ChatBot, ChatCampaign, ChatTurn, Response, utcnow


@dataclass(frozen=True)
class PendingTurn:
    """A bot turn a process has leased: the chat so far (human turn last) and whose it is."""

    turn_id: int
    chat_id: int
    position: int
    system_id: int
    turns: list[str]


def get_campaign(s: Session, name: str) -> ChatCampaign:
    """The campaign of that name, or a user error saying how to list them."""
    row = s.scalars(select(ChatCampaign).where(ChatCampaign.name == name)).one_or_none()
    if row is None:
        raise UserError(f"no chat campaign {name!r}", step="list-chats")
    return row


def turns_of(s: Session, chat_id: int) -> list[ChatTurn]:
    """A chat's turns in order."""
    query = select(ChatTurn).where(ChatTurn.chat_id == chat_id).order_by(ChatTurn.position)
    return list(s.scalars(query))


def claim(
    engine: Engine, system_ids: list[int], worker: str, lease: timedelta, limit: int = 1
) -> list[PendingTurn]:
    """Lease up to ``limit`` of the oldest pending turns of these systems' chats whose lease
    is free or over. On PostgreSQL rows another process is leasing are skipped."""
    now = utcnow()
    with session_scope(engine) as s:
        query = (
            select(ChatTurn.id, ChatTurn.chat_id, ChatTurn.position, ChatBot.system_id)
            .join(Chat, Chat.id == ChatTurn.chat_id)
            .join(ChatBot, ChatBot.id == Chat.bot_id)
            .where(
                ChatTurn.state == "pending",
                (ChatTurn.claimed_until.is_(None)) | (ChatTurn.claimed_until <= now),
                ChatBot.system_id.in_(system_ids),
            )
            .order_by(ChatTurn.id)
            .limit(limit)
        )
        if s.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(of=ChatTurn, skip_locked=True)
        rows = s.execute(query).all()
        if rows:
            s.execute(
                update(ChatTurn)
                .where(ChatTurn.id.in_([r[0] for r in rows]))
                .values(claimed_by=worker, claimed_until=now + lease)
            )
        return [
            PendingTurn(turn_id, chat_id, position, system_id, _before(s, chat_id, position))
            for turn_id, chat_id, position, system_id in rows
        ]


def _before(s: Session, chat_id: int, position: int) -> list[str]:
    return [t.text or "" for t in turns_of(s, chat_id) if t.position < position]


def store_reply(
    engine: Engine, turn_id: int, worker: str, candidates: list[dict[str, Any]]
) -> bool:
    """Store a leased turn's candidates (the first is shown); False, and nothing stored, when
    the turn is no longer this worker's to answer."""
    with session_scope(engine) as s:
        done = s.execute(
            update(ChatTurn)
            .where(
                ChatTurn.id == turn_id, ChatTurn.state == "pending", ChatTurn.claimed_by == worker
            )
            .values(
                state="answered",
                text=candidates[0]["text"],
                candidates=candidates,
                answered_at=utcnow(),
                claimed_until=None,
            )
        )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def chat_frame(s: Session, campaign_id: int) -> pd.DataFrame:
    """One row per chat of the campaign: chat_id, system_id, state, turns."""
    query = (
        select(Chat.id, ChatBot.system_id, Chat.state, func.count(ChatTurn.id))
        .join(ChatBot, ChatBot.id == Chat.bot_id)
        .outerjoin(ChatTurn, ChatTurn.chat_id == Chat.id)
        .where(ChatBot.campaign_id == campaign_id)
        .group_by(Chat.id, ChatBot.system_id, Chat.state)
        .order_by(Chat.id)
    )
    return pd.DataFrame(s.execute(query).all(), columns=["chat_id", "system_id", "state", "turns"])


def bot_turn_frame(s: Session, campaign_id: int) -> pd.DataFrame:
    """One row per bot turn that became an item: chat_id, position, context_id, flag."""
    query = (
        select(ChatTurn.chat_id, ChatTurn.position, Response.context_id, ChatTurn.flag)
        .join(Response, Response.id == ChatTurn.response_id)
        .join(Chat, Chat.id == ChatTurn.chat_id)
        .join(ChatBot, ChatBot.id == Chat.bot_id)
        .where(ChatBot.campaign_id == campaign_id)
        .order_by(ChatTurn.chat_id, ChatTurn.position)
    )
    columns = ["chat_id", "position", "context_id", "flag"]
    return pd.DataFrame(s.execute(query).all(), columns=columns)
