"""report indexes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 15:15:00.000000
"""
from __future__ import annotations

from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.create_index('ix_dose_administered_at', ['administered_at'], unique=False)
        batch_op.create_index('ix_dose_facility_administered_at',
                              ['facility_id', 'administered_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.drop_index('ix_dose_facility_administered_at')
        batch_op.drop_index('ix_dose_administered_at')
