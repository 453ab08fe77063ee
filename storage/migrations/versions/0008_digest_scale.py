"""digestscale: the week-count cache, indexes for time ranges and for texts with words

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# (table, index, time column, words column): only rows with words are indexed.
WORDS = (
    ('answer', 'ix_answer_words', 'answered_at', 'not_used_text'),
    ('workaround', 'ix_workaround_words', 'created_at', 'text'),
    ('override', 'ix_override_words', 'created_at', 'text'),
    ('day30response', 'ix_day30response_words', 'created_at', 'change_first'),
)


def upgrade() -> None:
    op.create_table(
        'weekcount',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('programme_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('week_start', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('week_end', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('teams', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('programme_id', 'week_start', 'week_end', 'teams'),
    )
    op.create_index(
        'ix_checkin_programme_sent',
        'checkin',
        ['programme_id', 'sent_at', 'answered_at', 'kind', 'cohort_id', 'person_id'],
        unique=False,
    )
    op.create_index(
        'ix_themetext_programme_created',
        'themetext',
        ['programme_id', 'created_at', 'theme_id', 'person_id'],
        unique=False,
    )
    for table, name, moment, words in WORDS:
        where = sa.text(f"{words} != ''")
        op.create_index(
            name, table, [moment], unique=False, sqlite_where=where, postgresql_where=where
        )


def downgrade() -> None:
    for table, name, _moment, _words in WORDS:
        op.drop_index(name, table_name=table)
    op.drop_index('ix_themetext_programme_created', table_name='themetext')
    op.drop_index('ix_checkin_programme_sent', table_name='checkin')
    op.drop_table('weekcount')

