"""pool items: an open flag and a random draw key per item; lapsed leases found by index;
labels indexed by rater and seconds (the admin page's medians)

Revision ID: 0005
Revises: 0004

Every rank-0 response that is not gold gets its row, open, with a key scattered from its
id. The pool re-counts every row against the project's rule the first time it is used after
this (it keeps the rule it last counted under in the settings, and this revision has none),
so the backfill need not know the rule.
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DRAW_KEYS = 2**31 - 1
CHUNK = 20_000


def draw_key(response_id: int) -> int:
    """The schema's first key of a pool item, frozen here as this revision wrote it."""
    digest = hashlib.blake2b(str(response_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % DRAW_KEYS


def upgrade() -> None:
    pool = op.create_table(
        "pool_items",
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("draw_key", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_pool_items_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("response_id", name=op.f("pk_pool_items")),
    )
    op.create_index(
        "ix_pool_items_draw", "pool_items", ["system_id", "open", "draw_key"], unique=False
    )
    op.create_index(op.f("ix_pool_items_context_id"), "pool_items", ["context_id"], unique=False)
    with op.batch_alter_table("assignments") as batch:
        batch.drop_index("ix_assignments_expires_at")
        batch.create_index("ix_assignments_state_expires_at", ["state", "expires_at"])
    op.create_index("ix_labels_annotator_seconds", "labels", ["annotator_id", "seconds"])
    _backfill(pool)


def _backfill(pool: sa.Table) -> None:
    bind = op.get_bind()
    items = bind.execute(
        sa.text(
            "SELECT id, system_id, context_id FROM responses WHERE rank = 0 "
            "AND id NOT IN (SELECT response_id FROM gold_items) ORDER BY id"
        )
    ).all()
    rows = [
        {
            "response_id": rid,
            "system_id": sid,
            "context_id": cid,
            "open": True,
            "draw_key": draw_key(rid),
        }
        for rid, sid, cid in items
    ]
    for start in range(0, len(rows), CHUNK):
        op.bulk_insert(pool, rows[start : start + CHUNK])


def downgrade() -> None:
    op.drop_index("ix_labels_annotator_seconds", table_name="labels")
    with op.batch_alter_table("assignments") as batch:
        batch.drop_index("ix_assignments_state_expires_at")
        batch.create_index("ix_assignments_expires_at", ["expires_at"])
    op.drop_index(op.f("ix_pool_items_context_id"), table_name="pool_items")
    op.drop_index("ix_pool_items_draw", table_name="pool_items")
    op.drop_table("pool_items")
    op.execute("UPDATE assignments SET state = 'leased' WHERE state = 'lapsed'")
