"""an active human share: each context's chance, the judge, floor and pilot of a draw

Revision ID: 0009
Revises: 0008

A new table and columns; every existing draw is uniform, which the column's default says.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("human_draws", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("design", sa.String(length=20), server_default="uniform", nullable=False)
        )
        batch_op.add_column(sa.Column("judge_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("floor", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("pilot", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_human_draws_judge_id_judges"),
            "judges",
            ["judge_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "human_draw_chances",
        sa.Column("draw_id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=False),
        sa.Column("chance", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_human_draw_chances_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["draw_id"],
            ["human_draws.id"],
            name=op.f("fk_human_draw_chances_draw_id_human_draws"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("draw_id", "context_id", name=op.f("pk_human_draw_chances")),
    )


def downgrade() -> None:
    op.drop_table("human_draw_chances")
    with op.batch_alter_table("human_draws", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_human_draws_judge_id_judges"), type_="foreignkey")
        batch_op.drop_column("pilot")
        batch_op.drop_column("floor")
        batch_op.drop_column("judge_id")
        batch_op.drop_column("design")
