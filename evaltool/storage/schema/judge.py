"""The judge tables: automatic judges, their labels, and the random share of contexts people
label (judge-assisted SSA).

Part of the one schema (``storage.schema`` registers this module's tables with ``Base``). A
judge's labels are kept apart from people's ``labels``: nothing that counts labels, fills the
pool or draws the page reads these tables, except the human share, which limits what the pool
offers people.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evaltool.storage.schema.base import NAME_LENGTH, Base, utcnow

JUDGE_KINDS = ("llm", "classifier", "imported")


class Judge(Base):
    """An automatic judge with its provenance: the model (and revision or the server's
    fingerprints), the prompt version, the settings, and the thresholds that turn its
    probabilities into yes or no."""

    __tablename__ = "judges"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    model: Mapped[str] = mapped_column(String(NAME_LENGTH))
    revision: Mapped[str | None] = mapped_column(String(NAME_LENGTH), nullable=True)
    prompt_version: Mapped[str | None] = mapped_column(String(50), nullable=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    threshold_sensible: Mapped[float] = mapped_column(Float, default=0.5)
    threshold_specific: Mapped[float] = mapped_column(Float, default=0.5)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class JudgeLabel(Base):
    """A judge's verdict on one response: the probability it is sensible, and that it is
    specific given sensible (None when the judge was not asked, the reply not being
    sensible), with the judge's raw answer."""

    __tablename__ = "judge_labels"
    __table_args__ = (UniqueConstraint("judge_id", "response_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("judges.id", ondelete="CASCADE"))
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    p_sensible: Mapped[float] = mapped_column(Float)
    p_specific: Mapped[float | None] = mapped_column(Float, nullable=True)
    raw: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


DRAW_DESIGNS = ("uniform", "active")


class HumanDraw(Base):
    """The random share of a dataset's contexts whose items people label: how it was drawn
    (seed, share or a count of contexts; for an active draw the judge whose uncertainty set
    the chances, the floor and the uniform pilot kept), recorded so the report can check its
    labels are that sample. One per dataset; a new draw replaces it."""

    __tablename__ = "human_draws"
    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), unique=True
    )
    seed: Mapped[int] = mapped_column(Integer)
    share: Mapped[float | None] = mapped_column(Float, nullable=True)
    count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    contexts: Mapped[int] = mapped_column(Integer)  # how many were drawn
    design: Mapped[str] = mapped_column(String(20), default="uniform", server_default="uniform")
    judge_id: Mapped[int | None] = mapped_column(
        ForeignKey("judges.id", ondelete="SET NULL"), nullable=True
    )
    floor: Mapped[float | None] = mapped_column(Float, nullable=True)
    pilot: Mapped[int | None] = mapped_column(Integer, nullable=True)  # contexts kept
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class HumanDrawContext(Base):
    """A context in its dataset's draw: its items are the ones people label."""

    __tablename__ = "human_draw_contexts"
    context_id: Mapped[int] = mapped_column(
        ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True
    )
    draw_id: Mapped[int] = mapped_column(ForeignKey("human_draws.id", ondelete="CASCADE"))


class HumanDrawChance(Base):
    """Each context's chance of going to people in an active draw (every context of the
    dataset, drawn or not): what the weighted estimate divides by, and enough with the seed
    to draw it again."""

    __tablename__ = "human_draw_chances"
    draw_id: Mapped[int] = mapped_column(
        ForeignKey("human_draws.id", ondelete="CASCADE"), primary_key=True
    )
    context_id: Mapped[int] = mapped_column(
        ForeignKey("contexts.id", ondelete="CASCADE"), primary_key=True
    )
    chance: Mapped[float] = mapped_column(Float)
