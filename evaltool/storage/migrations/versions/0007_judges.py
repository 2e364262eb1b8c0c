"""judges, their labels, and the human share of contexts (judge-assisted SSA)

Revision ID: 0007
Revises: 0006

New tables only; nothing to backfill.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "judges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("revision", sa.String(length=200), nullable=True),
        sa.Column("prompt_version", sa.String(length=50), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.Column("threshold_sensible", sa.Float(), nullable=False),
        sa.Column("threshold_specific", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judges")),
        sa.UniqueConstraint("name", name=op.f("uq_judges_name")),
    )
    op.create_table(
        "human_draws",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("share", sa.Float(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("contexts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_human_draws_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_human_draws")),
        sa.UniqueConstraint("dataset_id", name=op.f("uq_human_draws_dataset_id")),
    )
    op.create_table(
        "human_draw_contexts",
        sa.Column("context_id", sa.Integer(), nullable=False),
        sa.Column("draw_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_human_draw_contexts_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["draw_id"],
            ["human_draws.id"],
            name=op.f("fk_human_draw_contexts_draw_id_human_draws"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("context_id", name=op.f("pk_human_draw_contexts")),
    )
    op.create_table(
        "judge_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("judge_id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("p_sensible", sa.Float(), nullable=False),
        sa.Column("p_specific", sa.Float(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["judge_id"],
            ["judges.id"],
            name=op.f("fk_judge_labels_judge_id_judges"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_judge_labels_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judge_labels")),
        sa.UniqueConstraint(
            "judge_id", "response_id", name=op.f("uq_judge_labels_judge_id_response_id")
        ),
    )
    with op.batch_alter_table("judge_labels", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_judge_labels_response_id"), ["response_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("judge_labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_judge_labels_response_id"))

    op.drop_table("judge_labels")
    op.drop_table("human_draw_contexts")
    op.drop_table("human_draws")
    op.drop_table("judges")
