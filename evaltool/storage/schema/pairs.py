"""The pairwise tables: pair items (two systems' replies to one context, or two finished
chats, side by side), their leases, people's answers and judges' verdicts.

Part of the one schema (``storage.schema`` registers this module's tables with ``Base``). A
pair item is its own pool row: ``open`` and ``draw_key`` as on ``pool_items``, indexed by the
pair of systems, so a claim reads a few index ranges at any pool size. System ``a`` is the
lower system id; ``a_left`` says which side its reply is shown on (drawn at random, stored).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from evaltool.storage.schema.base import Base, Lease, utcnow

# What a pair answer says, by the side shown: the left reply, the right one, or a tie.
SIDES = ("left", "right", "tie")
# How a pair item was made: every pair of systems per context, one chosen pair, a random
# design, two finished chats of a chat campaign, or a gold file (evaltool pairs gold).
PAIR_DESIGNS = ("all", "chosen", "random", "chats", "gold")


class PairItem(Base):
    """Two replies to one context (or two chats) to be compared, with its pool state; gold
    when ``expected`` (the better system, ``a``, ``b`` or ``tie``) is known, and a teaching
    item of a study's qualification step when ``training`` too."""

    __tablename__ = "pair_items"
    __table_args__ = (
        CheckConstraint("system_a < system_b", name="ordered"),
        Index("ix_pair_items_draw", "system_a", "system_b", "open", "draw_key"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    context_id: Mapped[int | None] = mapped_column(
        ForeignKey("contexts.id", ondelete="CASCADE"), nullable=True, index=True
    )
    system_a: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"))
    system_b: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"))
    response_a: Mapped[int | None] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), nullable=True
    )
    response_b: Mapped[int | None] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), nullable=True
    )
    chat_a: Mapped[int | None] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), nullable=True, index=True
    )
    chat_b: Mapped[int | None] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), nullable=True, index=True
    )
    a_left: Mapped[bool] = mapped_column(Boolean)
    design: Mapped[str] = mapped_column(String(20))
    seed: Mapped[int] = mapped_column(Integer)
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    draw_key: Mapped[int] = mapped_column(Integer)
    # Indexed, as chat_a and chat_b are, so a claim's "gold?" and "seen?" are index reads.
    expected: Mapped[str | None] = mapped_column(String(10), nullable=True, index=True)
    training: Mapped[bool] = mapped_column(Boolean, default=False)
    explanation: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PairAssignment(Lease, Base):
    """A lease of one pair item to one annotator, in the states of ``assignments``."""

    __tablename__ = "pair_assignments"
    __table_args__ = (
        UniqueConstraint("pair_id", "annotator_id"),
        Index("ix_pair_assignments_state_expires_at", "state", "expires_at"),
    )
    pair_id: Mapped[int] = mapped_column(ForeignKey("pair_items.id", ondelete="CASCADE"))


class PairLabel(Base):
    """One annotator's answer on a pair item: the side they chose (as shown) and why."""

    __tablename__ = "pair_labels"
    __table_args__ = (
        UniqueConstraint("pair_id", "annotator_id"),
        CheckConstraint(f"side IN {SIDES!r}", name="side"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pair_items.id", ondelete="CASCADE"))
    annotator_id: Mapped[int] = mapped_column(
        ForeignKey("annotators.id", ondelete="CASCADE"), index=True
    )
    side: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(20), default="web")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PairTrainingAnswer(Base):
    """A worker's answer on a qualification pair, kept apart from the answers counted."""

    __tablename__ = "pair_training_answers"
    __table_args__ = (UniqueConstraint("annotator_id", "pair_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    annotator_id: Mapped[int] = mapped_column(
        ForeignKey("annotators.id", ondelete="CASCADE"), index=True
    )
    pair_id: Mapped[int] = mapped_column(ForeignKey("pair_items.id", ondelete="CASCADE"))
    side: Mapped[str] = mapped_column(String(10))
    correct: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class JudgePairLabel(Base):
    """A judge's verdict on one pair item, asked twice: ``first`` with system a's reply as
    "A", ``second`` with the sides swapped (both as the system chosen: a, b or tie);
    ``winner`` is their verdict when they agree, a tie when it flipped with the side."""

    __tablename__ = "judge_pair_labels"
    __table_args__ = (UniqueConstraint("judge_id", "pair_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("judges.id", ondelete="CASCADE"))
    pair_id: Mapped[int] = mapped_column(
        ForeignKey("pair_items.id", ondelete="CASCADE"), index=True
    )
    first: Mapped[str] = mapped_column(String(10))
    second: Mapped[str] = mapped_column(String(10))
    winner: Mapped[str] = mapped_column(String(10))
    raw: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


def chosen(side: str, a_left: bool) -> str:
    """The system an answer chose, ``a``, ``b`` or ``tie``, from the side it chose as shown.

    >>> chosen("left", False)
    'b'
    """
    if side == "tie":
        return "tie"
    return "a" if (side == "left") == a_left else "b"


def shown(system: str, a_left: bool) -> str:
    """The side system ``a`` or ``b`` is shown on (``tie`` stays): ``chosen``'s inverse.

    >>> shown("a", False), chosen(shown("b", True), True)
    ('right', 'b')
    """
    if system == "tie":
        return "tie"
    return "left" if (system == "a") == a_left else "right"
