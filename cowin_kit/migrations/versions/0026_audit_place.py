"""audit events carry their place: the area (location id) and facility they happened at

Revision ID: 0026
Revises: 0025
Create Date: 2027-01-20 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('location_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('facility_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_event_location_id'), ['location_id'])


def downgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_location_id'))
        batch_op.drop_column('facility_id')
        batch_op.drop_column('location_id')
