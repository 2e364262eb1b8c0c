"""The core tables: datasets, contexts, systems and their responses, people, studies, and
the labelling pool's leases, labels, gold items and pool rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
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
    event,
    insert,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from evaltool.storage.schema.base import (
    NAME_LENGTH,
    PLATFORMS,
    ROLES,
    SYSTEM_KINDS,
    Base,
    Lease,
    draw_key,
    utcnow,
)


class Dataset(Base):
    """A named validation set of dialog contexts."""

    __tablename__ = "datasets"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Context(Base):
    """One dialog context: the turns so far and an optional human reference reply."""

    __tablename__ = "contexts"
    __table_args__ = (UniqueConstraint("dataset_id", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(NAME_LENGTH))
    turns: Mapped[list[str]] = mapped_column(JSON)
    reference: Mapped[str | None] = mapped_column(Text, nullable=True)


class System(Base):
    """Something that answers contexts: a model, a baseline or responses imported from a file."""

    __tablename__ = "systems"
    __table_args__ = (CheckConstraint(f"kind IN {SYSTEM_KINDS!r}", name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="model")
    model: Mapped[str | None] = mapped_column(String(500), nullable=True)
    revision: Mapped[str | None] = mapped_column(String(NAME_LENGTH), nullable=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    provenance: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Response(Base):
    """One candidate reply of a system to a context; rank 0 is the one annotators judge."""

    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("context_id", "system_id", "rank"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("contexts.id", ondelete="CASCADE"))
    system_id: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Annotator(Base):
    """A person (or simulated rater) who labels; the login token is kept only as a hash."""

    __tablename__ = "annotators"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    role: Mapped[str] = mapped_column(String(20), default="annotator")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    seen_instructions: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Crowd workers: one account per (platform, worker id), kept as a hash; the platform's own
    # pseudonymous worker id is kept too, since the requester pays by it.
    study_id: Mapped[int | None] = mapped_column(
        ForeignKey("studies.id", ondelete="SET NULL"), nullable=True, index=True
    )
    platform_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    platform_worker: Mapped[str | None] = mapped_column(String(NAME_LENGTH), nullable=True)
    platform_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    qualification: Mapped[str] = mapped_column(String(20), default="none")
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    completion_code: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Study(Base):
    """A crowd study: one public link for a platform, a quota of items per worker, an
    optional qualification step, and a completion code per worker."""

    __tablename__ = "studies"
    __table_args__ = (CheckConstraint(f"platform IN {PLATFORMS!r}", name="platform"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    platform: Mapped[str] = mapped_column(String(20))
    items_per_worker: Mapped[int] = mapped_column(Integer)
    gold_per_worker: Mapped[int] = mapped_column(Integer, default=0)
    qualification: Mapped[int] = mapped_column(Integer, default=0)
    pass_mark: Mapped[float] = mapped_column(Float, default=0.8)
    max_workers: Mapped[int | None] = mapped_column(Integer, nullable=True)
    secret: Mapped[str] = mapped_column(String(64))
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The kind of task its workers do (``TASK_KINDS``): SSA labels or pairwise answers.
    task: Mapped[str] = mapped_column(String(20), default="ssa", server_default="ssa")
    # A study of a chat campaign: workers chat (``items_per_worker`` chats each), not label.
    chat_campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_campaigns.id", ondelete="CASCADE"), nullable=True
    )


class TrainingAnswer(Base):
    """A worker's answer on a qualification item, kept apart from the labels."""

    __tablename__ = "training_answers"
    __table_args__ = (UniqueConstraint("annotator_id", "response_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    annotator_id: Mapped[int] = mapped_column(
        ForeignKey("annotators.id", ondelete="CASCADE"), index=True
    )
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    sensible: Mapped[bool] = mapped_column(Boolean)
    specific: Mapped[bool] = mapped_column(Boolean)
    correct: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Assignment(Lease, Base):
    """A lease of one response to one annotator: ``leased`` until its label arrives (``done``)
    or the annotator skips it (``skipped``, with a reason); a lease past ``expires_at`` frees
    its slot, and the pool marks it ``lapsed`` when it takes the slot back."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("response_id", "annotator_id"),
        # Leases past their time are found without a scan: ``state = 'leased'`` and
        # ``expires_at <= now`` is one range of this index.
        Index("ix_assignments_state_expires_at", "state", "expires_at"),
    )
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))


class Label(Base):
    """One annotator's answers for one response: sensible, and specific (false if not sensible)."""

    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("response_id", "annotator_id"),
        CheckConstraint("sensible OR NOT specific", name="specific_needs_sensible"),
        Index("ix_labels_annotator_seconds", "annotator_id", "seconds"),  # medians per rater
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    annotator_id: Mapped[int] = mapped_column(
        ForeignKey("annotators.id", ondelete="CASCADE"), index=True
    )
    sensible: Mapped[bool] = mapped_column(Boolean)
    specific: Mapped[bool] = mapped_column(Boolean)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(20), default="web")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class GoldItem(Base):
    """A response whose right answers are known, mixed in to check annotators."""

    __tablename__ = "gold_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), unique=True
    )
    expected_sensible: Mapped[bool] = mapped_column(Boolean)
    expected_specific: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # Training items teach in a study's qualification step, with why the answer is right.
    training: Mapped[bool] = mapped_column(Boolean, default=False)
    explanation: Mapped[str | None] = mapped_column(Text, nullable=True)


class Perplexity(Base):
    """A model's perplexity on a dataset's reference replies, kept with the system it made."""

    __tablename__ = "perplexities"
    __table_args__ = (UniqueConstraint("system_id", "dataset_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    value: Mapped[float] = mapped_column(Float)
    tokens: Mapped[int] = mapped_column(Integer)
    contexts: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(500))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Setting(Base):
    """Project-wide settings (overlap, lease minutes, gold rate), one JSON value per key."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class PoolItem(Base):
    """One item of the labelling pool (a rank-0 response that is not gold) with what makes a
    claim cost the same at any pool size: whether it is open, and a random key to draw by.

    ``open`` false means the item is full or decided; true may be stale (a claim re-counts
    before it leases and closes the row then). Every rank-0 response gets its row when it is
    stored (the hook below); ``evaltool.annotation.pool`` keeps ``open`` current.
    """

    __tablename__ = "pool_items"
    __table_args__ = (Index("ix_pool_items_draw", "system_id", "open", "draw_key"),)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    system_id: Mapped[int] = mapped_column(Integer)
    context_id: Mapped[int] = mapped_column(Integer, index=True)
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    draw_key: Mapped[int] = mapped_column(Integer)


@event.listens_for(Session, "after_flush")
def _enrol_new_items(session: Session, _context: Any) -> None:
    """Give every rank-0 response stored through the ORM its row in the pool, in the same
    transaction (generation, imports and tests all store responses this way)."""
    rows = [
        {
            "response_id": obj.id,
            "system_id": obj.system_id,
            "context_id": obj.context_id,
            "open": True,
            "draw_key": draw_key(obj.id),
        }
        for obj in session.new
        if isinstance(obj, Response) and obj.rank == 0
    ]
    if rows:
        session.connection().execute(insert(PoolItem), rows)
