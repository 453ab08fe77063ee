"""posted messages: which platform message shows which question token

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('postedmessage',
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('token', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('ref', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('platform', 'token')
    )
    with op.batch_alter_table('postedmessage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postedmessage_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_postedmessage_person_id'), ['person_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('postedmessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postedmessage_person_id'))
        batch_op.drop_index(batch_op.f('ix_postedmessage_created_at'))

    op.drop_table('postedmessage')
