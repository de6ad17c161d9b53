"""appointments and slot alerts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 13:02:12.971629
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('slot_alert_subscription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('postal_code', sa.String(length=16), nullable=True),
    sa.Column('product_code', sa.String(length=64), nullable=True),
    sa.Column('dose_number', sa.Integer(), nullable=False),
    sa.Column('age', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['citizen_account.id'], name=op.f('fk_slot_alert_subscription_account_id_citizen_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_slot_alert_subscription_location_id_location')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slot_alert_subscription'))
    )
    with op.batch_alter_table('slot_alert_subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slot_alert_subscription_account_id'), ['account_id'], unique=False)

    op.create_table('appointment',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('booking_id', sa.String(length=36), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('dose_number', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reschedule_count', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['citizen_account.id'], name=op.f('fk_appointment_account_id_citizen_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiary.id'], name=op.f('fk_appointment_beneficiary_id_beneficiary'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['vaccination_session.id'], name=op.f('fk_appointment_session_id_vaccination_session')),
    sa.ForeignKeyConstraint(['slot_id'], ['session_slot.id'], name=op.f('fk_appointment_slot_id_session_slot')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment'))
    )
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_beneficiary_id'), ['beneficiary_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_session_id'), ['session_id'], unique=False)
        batch_op.create_index('uq_appointment_live_dose', ['beneficiary_id', 'dose_number'], unique=True, sqlite_where=sa.text("status = 'booked'"), postgresql_where=sa.text("status = 'booked'"))



def downgrade() -> None:
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_index('uq_appointment_live_dose', sqlite_where=sa.text("status = 'booked'"), postgresql_where=sa.text("status = 'booked'"))
        batch_op.drop_index(batch_op.f('ix_appointment_session_id'))
        batch_op.drop_index(batch_op.f('ix_appointment_booking_id'))
        batch_op.drop_index(batch_op.f('ix_appointment_beneficiary_id'))

    op.drop_table('appointment')
    with op.batch_alter_table('slot_alert_subscription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slot_alert_subscription_account_id'))

    op.drop_table('slot_alert_subscription')
