"""routine schedules: product antigens; schedule routine flag, timing and options

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 09:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('vaccine_product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('antigens', JSON, server_default=sa.text("'[]'"),
                                      nullable=False))
    with op.batch_alter_table('vaccine_schedule', schema=None) as batch_op:
        batch_op.add_column(sa.Column('routine', sa.Boolean(), server_default=sa.text('false'),
                                      nullable=False))
        batch_op.add_column(sa.Column('timed_from', sa.String(length=16),
                                      server_default='birth', nullable=False))
        batch_op.add_column(sa.Column('options', JSON, server_default=sa.text("'{}'"),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('vaccine_schedule', schema=None) as batch_op:
        batch_op.drop_column('options')
        batch_op.drop_column('timed_from')
        batch_op.drop_column('routine')
    with op.batch_alter_table('vaccine_product', schema=None) as batch_op:
        batch_op.drop_column('antigens')
