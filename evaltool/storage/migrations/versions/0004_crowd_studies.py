"""crowd studies, qualification, skips

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("items_per_worker", sa.Integer(), nullable=False),
        sa.Column("gold_per_worker", sa.Integer(), nullable=False),
        sa.Column("qualification", sa.Integer(), nullable=False),
        sa.Column("pass_mark", sa.Float(), nullable=False),
        sa.Column("max_workers", sa.Integer(), nullable=True),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "platform IN ('toloka', 'prolific', 'mturk', 'generic')",
            name=op.f("ck_studies_platform"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies")),
        sa.UniqueConstraint("name", name=op.f("uq_studies_name")),
    )
    op.create_table(
        "training_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("sensible", sa.Boolean(), nullable=False),
        sa.Column("specific", sa.Boolean(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotator_id"],
            ["annotators.id"],
            name=op.f("fk_training_answers_annotator_id_annotators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_training_answers_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_answers")),
        sa.UniqueConstraint(
            "annotator_id", "response_id", name=op.f("uq_training_answers_annotator_id_response_id")
        ),
    )
    with op.batch_alter_table("training_answers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_training_answers_annotator_id"), ["annotator_id"], unique=False
        )

    with op.batch_alter_table("annotators", schema=None) as batch_op:
        batch_op.add_column(sa.Column("study_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("platform_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("platform_worker", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("platform_params", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(
            sa.Column("qualification", sa.String(length=20), nullable=False, server_default="none")
        )
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("completion_code", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_annotators_study_id"), ["study_id"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_annotators_platform_key"), ["platform_key"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_annotators_study_id_studies"),
            "studies",
            ["study_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=200), nullable=True))

    with op.batch_alter_table("gold_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("training", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("explanation", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gold_items", schema=None) as batch_op:
        batch_op.drop_column("explanation")
        batch_op.drop_column("training")

    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("reason")

    with op.batch_alter_table("annotators", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_annotators_study_id_studies"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_annotators_platform_key"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_annotators_study_id"))
        batch_op.drop_column("completion_code")
        batch_op.drop_column("finished_at")
        batch_op.drop_column("qualification")
        batch_op.drop_column("platform_params")
        batch_op.drop_column("platform_worker")
        batch_op.drop_column("platform_key")
        batch_op.drop_column("study_id")

    with op.batch_alter_table("training_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_answers_annotator_id"))

    op.drop_table("training_answers")
    op.drop_table("studies")
