"""dose series: routine doses carry their schedule's code; "" is the booked series

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 15:30:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.add_column(sa.Column('series', sa.String(length=64),
                                      server_default=sa.text("''"), nullable=False))
        batch_op.drop_constraint('uq_dose_beneficiary_id_dose_number', type_='unique')
        batch_op.create_unique_constraint('uq_dose_beneficiary_id_series_dose_number',
                                          ['beneficiary_id', 'series', 'dose_number'])


def downgrade() -> None:
    # Routine doses cannot live in the one-series table of 0013: they go with the column.
    for table in ('aefi_report', 'certificate'):
        op.execute(f"DELETE FROM {table} WHERE dose_id IN (SELECT id FROM dose WHERE series <> '')")
    op.execute("DELETE FROM dose WHERE series <> ''")
    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.drop_constraint('uq_dose_beneficiary_id_series_dose_number', type_='unique')
        batch_op.create_unique_constraint('uq_dose_beneficiary_id_dose_number',
                                          ['beneficiary_id', 'dose_number'])
        batch_op.drop_column('series')
