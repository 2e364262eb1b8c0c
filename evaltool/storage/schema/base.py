"""What every table module of the schema shares: the declarative base, names' limits, the
clock every timestamp column uses, and the pool's draw keys."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from evaltool.errors import UserError

SYSTEM_KINDS = ("model", "baseline", "imported")
PLATFORMS = ("toloka", "prolific", "mturk", "generic")
QUALIFICATION = ("none", "pending", "passed", "failed")
# A lease is leased until answered (done) or skipped; one past its time that the pool has
# taken back is lapsed (its holder may still answer while a slot is free).
LEASE_STATES = ("leased", "done", "skipped", "lapsed")
# Draw keys of pool items are uniform in [0, DRAW_KEYS).
DRAW_KEYS = 2**31 - 1
# Longest name or id (datasets, contexts, systems, annotators) every database stores whole.
NAME_LENGTH = 200
ROLES = ("annotator", "admin")
# The kinds of task the labelling pool serves (``annotation.tasks`` has one entry for each).
TASK_KINDS = ("ssa", "pairs")


def check_name(what: str, value: str, field: str | None = None) -> str:
    """``value`` stripped, or a user error when it is blank or longer than ``NAME_LENGTH``.

    >>> check_name("system", " small ")
    'small'
    """
    value = value.strip()
    if not value:
        raise UserError(f"{what} name must not be blank", field=field)
    if len(value) > NAME_LENGTH:
        raise UserError(
            f"{what} name is {len(value)} characters; at most {NAME_LENGTH} fit", field=field
        )
    return value


def utcnow() -> datetime:
    """The current time as naive UTC, the form every timestamp column holds."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base of all evaltool tables."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Lease:
    """The columns of a lease of one item to one annotator, for every kind of item: who,
    since and until when, its state (``LEASE_STATES``) and a skip's reason."""

    id: Mapped[int] = mapped_column(primary_key=True)
    annotator_id: Mapped[int] = mapped_column(
        ForeignKey("annotators.id", ondelete="CASCADE"), index=True
    )
    leased_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(20), default="leased")
    reason: Mapped[str | None] = mapped_column(String(NAME_LENGTH), nullable=True)


def draw_key(response_id: int) -> int:
    """A pool item's first key: its id scattered by a hash, so that a campaign's draws
    reproduce from the seed of its claims (each claim re-keys the item it leases)."""
    digest = hashlib.blake2b(str(response_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % DRAW_KEYS
