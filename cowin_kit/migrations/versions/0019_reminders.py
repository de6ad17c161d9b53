"""routine reminders: the reminders sent (one per person, schedule, dose, reason and
pregnancy) and the citizen's opt-out

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-12 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reminder_sent',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('beneficiary_id', sa.Integer(), nullable=False),
        sa.Column('schedule', sa.String(length=64), nullable=False),
        sa.Column('dose', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('cycle', sa.Integer(), server_default='0', nullable=False),
        sa.Column('due_date', sa.Date(), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiary.id'],
                                name=op.f('fk_reminder_sent_beneficiary_id_beneficiary'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_sent')),
        sa.UniqueConstraint('beneficiary_id', 'schedule', 'dose', 'reason', 'cycle',
                            name=op.f('uq_reminder_sent_beneficiary_id_schedule_dose_reason_cycle')),
    )
    with op.batch_alter_table('reminder_sent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_sent_beneficiary_id'), ['beneficiary_id'],
                              unique=False)
    with op.batch_alter_table('citizen_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminders_opt_out', sa.Boolean(),
                                      server_default=sa.text('false'), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('citizen_account', schema=None) as batch_op:
        batch_op.drop_column('reminders_opt_out')
    with op.batch_alter_table('reminder_sent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_sent_beneficiary_id'))
    op.drop_table('reminder_sent')
