"""session version: what bookings check their rules against

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 22:45:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vaccination_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default=sa.text('1'),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('vaccination_session', schema=None) as batch_op:
        batch_op.drop_column('version')
