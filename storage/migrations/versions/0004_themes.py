"""themes: lasting themes of written text, each text's place in them, tool releases

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 04:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('theme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('named_by_owner', sa.Boolean(), nullable=False),
    sa.Column('seed', sa.Boolean(), nullable=False),
    sa.Column('merged_into', sa.Integer(), nullable=True),
    sa.Column('links', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('programme_id', 'slug')
    )
    with op.batch_alter_table('theme', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_theme_programme_id'), ['programme_id'], unique=False)

    op.create_table('themetext',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('cohort_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('theme_id', sa.Integer(), nullable=True),
    sa.Column('encoder', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'source_id')
    )
    with op.batch_alter_table('themetext', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_themetext_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_themetext_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_themetext_theme_id'), ['theme_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_themetext_created_at'), ['created_at'], unique=False)

    op.create_table('release',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('released_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('programme_id', 'version')
    )
    with op.batch_alter_table('release', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_release_programme_id'), ['programme_id'], unique=False)


def downgrade() -> None:
    op.drop_table('release')
    op.drop_table('themetext')
    op.drop_table('theme')
