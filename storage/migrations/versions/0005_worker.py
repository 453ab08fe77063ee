"""worker: when a person was first welcomed; a person's locale is empty until known

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('welcomed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    # Nothing ever wrote a person's locale before: "en" was only the default, so it says
    # nothing about them. Empty means "not known": their cohort's or the settings' applies.
    op.execute("UPDATE person SET locale = '' WHERE locale = 'en'")
    # People lastmile has already reached or heard from were welcomed in their time.
    op.execute(
        "UPDATE person SET welcomed_at = created_at WHERE "
        "id IN (SELECT person_id FROM conversationaddress) OR "
        "id IN (SELECT person_id FROM checkin WHERE sent_at IS NOT NULL)"
    )


def downgrade() -> None:
    op.execute("UPDATE person SET locale = 'en' WHERE locale = ''")
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('welcomed_at')
