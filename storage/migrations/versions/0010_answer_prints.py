"""answer prints: a covering index for fingerprinting a week's answers by check-in id

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 11:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_answer_checkin_print",
        "answer",
        ["checkin_id", "person_id", "outcome"],
        unique=False,
        postgresql_include=["id"],
    )


def downgrade() -> None:
    op.drop_index("ix_answer_checkin_print", table_name="answer")
