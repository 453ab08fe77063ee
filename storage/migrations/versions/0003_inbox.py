"""inbox: every inbound payload stored before it is acknowledged; one record of sent copies

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 09:00:00.000000

- `inboxevent` replaces `processedevent`: the unique (platform, event_id) that made a
  redelivery harmless is now the inbox row itself.
- `sentmessage` replaces `postedmessage`: one row per copy of a question on any
  platform (the Teams record kept up to four activity ids in one row).
- `outboxmessage` gains `claimed_by` (whose lease it is) and `inbox_id` (the inbound
  event a reply answers).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inboxevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('person_key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('handled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'event_id')
    )
    with op.batch_alter_table('inboxevent', schema=None) as batch_op:
        batch_op.create_index('ix_inboxevent_person_pending', ['person_key', 'status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inboxevent_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_inboxevent_handled_at'), ['handled_at'], unique=False)

    op.create_table('sentmessage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('ref', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sentmessage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sentmessage_token'), ['token'], unique=False)
        batch_op.create_index(batch_op.f('ix_sentmessage_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sentmessage_created_at'), ['created_at'], unique=False)

    _copy_posted_messages()

    with op.batch_alter_table('postedmessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postedmessage_person_id'))
        batch_op.drop_index(batch_op.f('ix_postedmessage_created_at'))
    op.drop_table('postedmessage')

    with op.batch_alter_table('processedevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processedevent_processed_at'))
    op.drop_table('processedevent')

    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('inbox_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outboxmessage_inbox_id'), ['inbox_id'], unique=False)


def _copy_posted_messages() -> None:
    """One sentmessage row per message the old record knew (Teams kept several per token)."""
    connection = op.get_bind()
    posted = sa.table(
        'postedmessage',
        sa.column('platform', sa.String),
        sa.column('token', sa.String),
        sa.column('person_id', sa.Integer),
        sa.column('ref', sa.JSON),
        sa.column('created_at', sqlmodel.sql.sqltypes.UTCDateTime),
    )
    sent = sa.table(
        'sentmessage',
        sa.column('token', sa.String),
        sa.column('platform', sa.String),
        sa.column('person_id', sa.Integer),
        sa.column('ref', sa.JSON),
        sa.column('created_at', sqlmodel.sql.sqltypes.UTCDateTime),
    )
    copies = []
    for row in connection.execute(sa.select(posted)).mappings():
        ref = dict(row['ref'] or {})
        refs = [ref]
        if row['platform'] == 'teams':
            refs = [
                {'conversation_id': ref.get('conversation_id', ''), 'activity_id': activity_id}
                for activity_id in ref.get('activity_ids', [])
            ]
        for one in refs:
            copies.append(
                {
                    'token': row['token'],
                    'platform': row['platform'],
                    'person_id': row['person_id'],
                    'ref': one,
                    'created_at': row['created_at'],
                }
            )
    if copies:
        connection.execute(sa.insert(sent), copies)


def downgrade() -> None:
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outboxmessage_inbox_id'))
        batch_op.drop_column('inbox_id')
        batch_op.drop_column('claimed_by')

    op.create_table('processedevent',
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('processed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('platform', 'event_id')
    )
    with op.batch_alter_table('processedevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processedevent_processed_at'), ['processed_at'], unique=False)

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

    with op.batch_alter_table('sentmessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sentmessage_created_at'))
        batch_op.drop_index(batch_op.f('ix_sentmessage_person_id'))
        batch_op.drop_index(batch_op.f('ix_sentmessage_token'))
    op.drop_table('sentmessage')

    with op.batch_alter_table('inboxevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inboxevent_handled_at'))
        batch_op.drop_index(batch_op.f('ix_inboxevent_status'))
        batch_op.drop_index('ix_inboxevent_person_pending')
    op.drop_table('inboxevent')
