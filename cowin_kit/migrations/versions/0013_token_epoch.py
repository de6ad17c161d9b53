"""token epoch: staff and citizen tokens carry it; raising it ends every older token

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 14:30:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

TABLES = ('citizen_account', 'staff_user')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('token_epoch', sa.Integer(),
                                          server_default=sa.text('0'), nullable=False))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('token_epoch')
