"""The chat tables (Meena's interactive mode): campaigns, their bots, chats and turns.

Part of the one schema (``storage.schema`` registers this module's tables with ``Base``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from evaltool.storage.schema.base import NAME_LENGTH, Base, utcnow

# A chat is open while the human chats, finished when they end it at or past the minimum
# number of turns, abandoned when left below it (kept, excluded, its slot back in the quota).
CHAT_STATES = ("open", "finished", "abandoned")
SPEAKERS = ("human", "bot")
# A bot turn is pending until a bot process stores its reply (answered).
TURN_STATES = ("pending", "answered")
REPLY_FLAGS = ("offensive", "broken")


class ChatCampaign(Base):
    """An interactive evaluation: people chat with its bots, then others label the bot turns
    (Meena's interactive mode). Each bot turn of a finished chat becomes a context of the
    campaign's own dataset, answered by the bot's system."""

    __tablename__ = "chat_campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    conversations: Mapped[int] = mapped_column(Integer)  # finished chats wanted per bot
    min_turns: Mapped[int] = mapped_column(Integer)
    max_turns: Mapped[int] = mapped_column(Integer)
    opening: Mapped[str] = mapped_column(Text)
    max_chars: Mapped[int] = mapped_column(Integer)
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ChatBot(Base):
    """A campaign's bot: its registered system and what a bot process needs to make it again."""

    __tablename__ = "chat_bots"
    __table_args__ = (UniqueConstraint("campaign_id", "system_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("chat_campaigns.id", ondelete="CASCADE"))
    system_id: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Chat(Base):
    """One person's conversation with one bot (they are not told which)."""

    __tablename__ = "chats"
    __table_args__ = (
        CheckConstraint(f"state IN {CHAT_STATES!r}", name="state"),
        Index("ix_chats_bot_id_state", "bot_id", "state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    bot_id: Mapped[int] = mapped_column(ForeignKey("chat_bots.id", ondelete="CASCADE"))
    annotator_id: Mapped[int] = mapped_column(
        ForeignKey("annotators.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(20), default="open")
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ChatTurn(Base):
    """One turn of a chat. A bot turn is stored pending before any bot sees it; a bot process
    leases it (``claimed_by`` until ``claimed_until``) and stores every candidate, the first
    shown. ``response_id`` is the item it became when the chat finished."""

    __tablename__ = "chat_turns"
    __table_args__ = (
        UniqueConstraint("chat_id", "position"),
        CheckConstraint(f"speaker IN {SPEAKERS!r}", name="speaker"),
        CheckConstraint(f"state IN {TURN_STATES!r}", name="state"),
        Index("ix_chat_turns_state_claimed_until", "state", "claimed_until"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20), default="answered")
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    claimed_by: Mapped[str | None] = mapped_column(String(NAME_LENGTH), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    flag: Mapped[str | None] = mapped_column(String(20), nullable=True)
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("responses.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
