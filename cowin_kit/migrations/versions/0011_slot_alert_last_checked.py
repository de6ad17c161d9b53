"""slot alerts: when dispatch last looked at a subscription (fair dispatch)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('slot_alert_subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_checked_at', sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('slot_alert_subscription', schema=None) as batch_op:
        batch_op.drop_column('last_checked_at')
