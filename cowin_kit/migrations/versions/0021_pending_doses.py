"""due state: the pending doses the due lists read (pending_dose) and the full refreshes
that keep them (due_refresh)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-14 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pending_dose',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('beneficiary_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=True),
        sa.Column('facility_id', sa.Integer(), nullable=True),
        sa.Column('schedule', sa.String(length=64), nullable=False),
        sa.Column('dose', sa.Integer(), nullable=False),
        sa.Column('pregnancy_id', sa.Integer(), nullable=True),
        sa.Column('booster', sa.Boolean(), nullable=False),
        sa.Column('earliest', sa.Date(), nullable=False),
        sa.Column('due', sa.Date(), nullable=False),
        sa.Column('latest', sa.Date(), nullable=True),
        sa.Column('overdue_from', sa.Date(), nullable=False),
        sa.Column('active_from', sa.Date(), nullable=True),
        sa.Column('until', sa.Date(), nullable=True),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiary.id'],
                                name=op.f('fk_pending_dose_beneficiary_id_beneficiary'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['location_id'], ['location.id'],
                                name=op.f('fk_pending_dose_location_id_location')),
        sa.ForeignKeyConstraint(['facility_id'], ['facility.id'],
                                name=op.f('fk_pending_dose_facility_id_facility')),
        sa.ForeignKeyConstraint(['pregnancy_id'], ['pregnancy.id'],
                                name=op.f('fk_pending_dose_pregnancy_id_pregnancy'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_dose')),
    )
    with op.batch_alter_table('pending_dose', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_dose_beneficiary_id'), ['beneficiary_id'],
                              unique=False)
        batch_op.create_index('ix_pending_dose_location_id_earliest',
                              ['location_id', 'earliest'], unique=False)
        batch_op.create_index('ix_pending_dose_facility_id_earliest',
                              ['facility_id', 'earliest'], unique=False)
        batch_op.create_index('ix_pending_dose_due', ['due'], unique=False)
    op.create_table(
        'due_refresh',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('location_code', sa.String(length=64), nullable=True),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('people', sa.Integer(), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_due_refresh')),
    )


def downgrade() -> None:
    op.drop_table('due_refresh')
    with op.batch_alter_table('pending_dose', schema=None) as batch_op:
        batch_op.drop_index('ix_pending_dose_due')
        batch_op.drop_index('ix_pending_dose_facility_id_earliest')
        batch_op.drop_index('ix_pending_dose_location_id_earliest')
        batch_op.drop_index(batch_op.f('ix_pending_dose_beneficiary_id'))
    op.drop_table('pending_dose')
