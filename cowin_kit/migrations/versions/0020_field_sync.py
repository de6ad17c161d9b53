"""field app sync: records processed by client id (exact-once), the review queue

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-14 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

JSONDocument = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'field_record',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('device_id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('staff', sa.String(length=150), nullable=False),
        sa.Column('result', JSONDocument, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_field_record')),
        sa.UniqueConstraint('client_id', name=op.f('uq_field_record_client_id')),
    )
    op.create_index(op.f('ix_field_record_device_id'), 'field_record', ['device_id'])
    op.create_table(
        'field_review',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('device_id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('payload', JSONDocument, nullable=False),
        sa.Column('id_number_encrypted', sa.Text(), nullable=True),
        sa.Column('reason', sa.String(length=64), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('staff', sa.String(length=150), nullable=False),
        sa.Column('facility_id', sa.Integer(), nullable=True),
        sa.Column('location_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('decided_by', sa.String(length=150), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('outcome', JSONDocument, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['facility_id'], ['facility.id'],
                                name=op.f('fk_field_review_facility_id_facility')),
        sa.ForeignKeyConstraint(['location_id'], ['location.id'],
                                name=op.f('fk_field_review_location_id_location')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_field_review')),
        sa.UniqueConstraint('client_id', name=op.f('uq_field_review_client_id')),
    )
    op.create_index(op.f('ix_field_review_device_id'), 'field_review', ['device_id'])
    op.create_index('ix_field_review_status_id', 'field_review', ['status', 'id'])


def downgrade() -> None:
    op.drop_index('ix_field_review_status_id', table_name='field_review')
    op.drop_index(op.f('ix_field_review_device_id'), table_name='field_review')
    op.drop_table('field_review')
    op.drop_index(op.f('ix_field_record_device_id'), table_name='field_record')
    op.drop_table('field_record')
