"""pair items, their leases, answers and judges' verdicts, and a study's task kind (pairwise)

Revision ID: 0008
Revises: 0007

New tables, and a column whose default (ssa) is what every existing study does.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pair_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=True),
        sa.Column("system_a", sa.Integer(), nullable=False),
        sa.Column("system_b", sa.Integer(), nullable=False),
        sa.Column("response_a", sa.Integer(), nullable=True),
        sa.Column("response_b", sa.Integer(), nullable=True),
        sa.Column("chat_a", sa.Integer(), nullable=True),
        sa.Column("chat_b", sa.Integer(), nullable=True),
        sa.Column("a_left", sa.Boolean(), nullable=False),
        sa.Column("design", sa.String(length=20), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("draw_key", sa.Integer(), nullable=False),
        sa.Column("expected", sa.String(length=10), nullable=True),
        sa.Column("training", sa.Boolean(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("system_a < system_b", name=op.f("ck_pair_items_ordered")),
        sa.ForeignKeyConstraint(
            ["chat_a"], ["chats.id"], name=op.f("fk_pair_items_chat_a_chats"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["chat_b"], ["chats.id"], name=op.f("fk_pair_items_chat_b_chats"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_pair_items_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_pair_items_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_a"],
            ["responses.id"],
            name=op.f("fk_pair_items_response_a_responses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_b"],
            ["responses.id"],
            name=op.f("fk_pair_items_response_b_responses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["system_a"],
            ["systems.id"],
            name=op.f("fk_pair_items_system_a_systems"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["system_b"],
            ["systems.id"],
            name=op.f("fk_pair_items_system_b_systems"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pair_items")),
    )
    with op.batch_alter_table("pair_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pair_items_chat_a"), ["chat_a"], unique=False)
        batch_op.create_index(batch_op.f("ix_pair_items_chat_b"), ["chat_b"], unique=False)
        batch_op.create_index(batch_op.f("ix_pair_items_context_id"), ["context_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pair_items_expected"), ["expected"], unique=False)
        batch_op.create_index(
            "ix_pair_items_draw", ["system_a", "system_b", "open", "draw_key"], unique=False
        )

    op.create_table(
        "judge_pair_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("judge_id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=False),
        sa.Column("first", sa.String(length=10), nullable=False),
        sa.Column("second", sa.String(length=10), nullable=False),
        sa.Column("winner", sa.String(length=10), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["judge_id"],
            ["judges.id"],
            name=op.f("fk_judge_pair_labels_judge_id_judges"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["pair_items.id"],
            name=op.f("fk_judge_pair_labels_pair_id_pair_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judge_pair_labels")),
        sa.UniqueConstraint(
            "judge_id", "pair_id", name=op.f("uq_judge_pair_labels_judge_id_pair_id")
        ),
    )
    with op.batch_alter_table("judge_pair_labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_judge_pair_labels_pair_id"), ["pair_id"], unique=False)

    op.create_table(
        "pair_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("leased_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["annotators.id"],
            name=op.f("fk_pair_assignments_annotator_id_annotators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["pair_items.id"],
            name=op.f("fk_pair_assignments_pair_id_pair_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pair_assignments")),
        sa.UniqueConstraint(
            "pair_id", "annotator_id", name=op.f("uq_pair_assignments_pair_id_annotator_id")
        ),
    )
    with op.batch_alter_table("pair_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pair_assignments_annotator_id"), ["annotator_id"], unique=False
        )
        batch_op.create_index(
            "ix_pair_assignments_state_expires_at", ["state", "expires_at"], unique=False
        )

    op.create_table(
        "pair_training_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["annotators.id"],
            name=op.f("fk_pair_training_answers_annotator_id_annotators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["pair_items.id"],
            name=op.f("fk_pair_training_answers_pair_id_pair_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pair_training_answers")),
        sa.UniqueConstraint(
            "annotator_id", "pair_id", name=op.f("uq_pair_training_answers_annotator_id_pair_id")
        ),
    )
    with op.batch_alter_table("pair_training_answers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pair_training_answers_annotator_id"), ["annotator_id"], unique=False
        )

    op.create_table(
        "pair_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("side IN ('left', 'right', 'tie')", name=op.f("ck_pair_labels_side")),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["annotators.id"],
            name=op.f("fk_pair_labels_annotator_id_annotators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["pair_items.id"],
            name=op.f("fk_pair_labels_pair_id_pair_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pair_labels")),
        sa.UniqueConstraint(
            "pair_id", "annotator_id", name=op.f("uq_pair_labels_pair_id_annotator_id")
        ),
    )
    with op.batch_alter_table("pair_labels", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pair_labels_annotator_id"), ["annotator_id"], unique=False
        )

    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("task", sa.String(length=20), server_default="ssa", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.drop_column("task")

    with op.batch_alter_table("pair_labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pair_labels_annotator_id"))

    op.drop_table("pair_labels")
    with op.batch_alter_table("pair_training_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pair_training_answers_annotator_id"))

    op.drop_table("pair_training_answers")
    with op.batch_alter_table("pair_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_pair_assignments_state_expires_at")
        batch_op.drop_index(batch_op.f("ix_pair_assignments_annotator_id"))

    op.drop_table("pair_assignments")
    with op.batch_alter_table("judge_pair_labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_judge_pair_labels_pair_id"))

    op.drop_table("judge_pair_labels")
    with op.batch_alter_table("pair_items", schema=None) as batch_op:
        batch_op.drop_index("ix_pair_items_draw")
        batch_op.drop_index(batch_op.f("ix_pair_items_expected"))
        batch_op.drop_index(batch_op.f("ix_pair_items_context_id"))
        batch_op.drop_index(batch_op.f("ix_pair_items_chat_b"))
        batch_op.drop_index(batch_op.f("ix_pair_items_chat_a"))

    op.drop_table("pair_items")
