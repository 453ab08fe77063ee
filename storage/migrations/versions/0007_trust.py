"""trust: the usage API's idempotency keys and the report each stood for

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('usagekey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('programme_id', 'key')
    )
    with op.batch_alter_table('usagekey', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usagekey_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('usagekey', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usagekey_created_at'))

    op.drop_table('usagekey')
