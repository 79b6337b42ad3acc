"""fixes and fix events (issue 12)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 06:30:00

A fix turns one plan step into data built from the project's cases, a recipe job, the champion's
and the candidate's eval runs on held-out cases, a gate and an outcome (fixed / still failing /
broken). `fix_events` are its ordered progress events (SSE).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fixes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("rung", sa.String(length=20), nullable=False),
        sa.Column("recipe", sa.String(length=60), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("subcategories", sa.JSON(), nullable=False),
        sa.Column("triage_version", sa.String(length=100), nullable=True),
        sa.Column("cases", sa.JSON(), nullable=False),
        sa.Column("datasets", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=True),
        sa.Column("eval_runs", sa.JSON(), nullable=False),
        sa.Column("gate_id", sa.String(length=40), nullable=True),
        sa.Column("gate_status", sa.String(length=10), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("promote_model", sa.String(length=200), nullable=True),
        sa.Column("promoted_version", sa.Integer(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_fixes_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fixes")),
    )
    with op.batch_alter_table("fixes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fixes_project_created", ["project_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_fixes_state", ["state"], unique=False)

    op.create_table(
        "fix_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("fix_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fix_id"], ["fixes.id"], name=op.f("fk_fix_events_fix_id_fixes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fix_events")),
    )
    with op.batch_alter_table("fix_events", schema=None) as batch_op:
        batch_op.create_index("ix_fix_events_fix_id_id", ["fix_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fix_events", schema=None) as batch_op:
        batch_op.drop_index("ix_fix_events_fix_id_id")
    op.drop_table("fix_events")
    with op.batch_alter_table("fixes", schema=None) as batch_op:
        batch_op.drop_index("ix_fixes_state")
        batch_op.drop_index("ix_fixes_project_created")
    op.drop_table("fixes")
