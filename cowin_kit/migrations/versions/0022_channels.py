"""feature-phone channels: USSD session state, booking PINs, inbound SMS, delivery reports
of outbound messages

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-20 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

JSONDocument = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ussd_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('gateway', sa.String(length=32), nullable=False),
        sa.Column('session_key', sa.String(length=100), nullable=False),
        sa.Column('mobile', sa.String(length=20), nullable=False),
        sa.Column('network', sa.String(length=16), nullable=False),
        sa.Column('locale', sa.String(length=16), nullable=False),
        sa.Column('state', sa.String(length=32), nullable=False),
        sa.Column('data', JSONDocument, nullable=False),
        sa.Column('step_key', sa.Text(), nullable=False),
        sa.Column('screen', sa.Text(), nullable=False),
        sa.Column('ended', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('steps', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ussd_session')),
        sa.UniqueConstraint('gateway', 'session_key',
                            name=op.f('uq_ussd_session_gateway_session_key')),
    )
    op.create_index(op.f('ix_ussd_session_expires_at'), 'ussd_session', ['expires_at'])
    op.create_table(
        'channel_pin',
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('pin_hash', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('paused_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['citizen_account.id'], ondelete='CASCADE',
                                name=op.f('fk_channel_pin_account_id_citizen_account')),
        sa.PrimaryKeyConstraint('account_id', name=op.f('pk_channel_pin')),
    )
    op.create_table(
        'inbound_sms',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('gateway', sa.String(length=32), nullable=False),
        sa.Column('message_id', sa.String(length=100), nullable=False),
        sa.Column('keyword', sa.String(length=16), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['citizen_account.id'], ondelete='SET NULL',
                                name=op.f('fk_inbound_sms_account_id_citizen_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_sms')),
        sa.UniqueConstraint('gateway', 'message_id',
                            name=op.f('uq_inbound_sms_gateway_message_id')),
    )
    op.create_index('ix_inbound_sms_received_at', 'inbound_sms', ['received_at'])
    with op.batch_alter_table('message_outbox') as batch:
        batch.add_column(sa.Column('provider_ref', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('delivery_status', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('delivery_reason', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('retry_of', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('handled', sa.String(length=16), nullable=True))
        batch.create_index(batch.f('ix_message_outbox_provider_ref'), ['provider_ref'])
        batch.create_foreign_key(batch.f('fk_message_outbox_retry_of_message_outbox'),
                                 'message_outbox', ['retry_of'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('message_outbox') as batch:
        batch.drop_constraint(batch.f('fk_message_outbox_retry_of_message_outbox'),
                              type_='foreignkey')
        batch.drop_index(batch.f('ix_message_outbox_provider_ref'))
        for column in ('handled', 'retry_of', 'delivered_at', 'delivery_reason',
                       'delivery_status', 'provider_ref'):
            batch.drop_column(column)
    op.drop_index('ix_inbound_sms_received_at', table_name='inbound_sms')
    op.drop_table('inbound_sms')
    op.drop_table('channel_pin')
    op.drop_index(op.f('ix_ussd_session_expires_at'), table_name='ussd_session')
    op.drop_table('ussd_session')
