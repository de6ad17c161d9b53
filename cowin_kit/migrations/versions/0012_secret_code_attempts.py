"""secret code attempts: wrong codes at dose recording counted per person and per staff member

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

TABLES = ('beneficiary', 'staff_user')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('secret_code_failures', sa.Integer(),
                                          server_default=sa.text('0'), nullable=False))
            batch_op.add_column(sa.Column('secret_code_paused_until',
                                          sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('secret_code_paused_until')
            batch_op.drop_column('secret_code_failures')
