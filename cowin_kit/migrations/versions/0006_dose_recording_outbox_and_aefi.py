"""dose recording outbox and aefi

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 13:59:57.196598
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('aefi_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dose_id', sa.Integer(), nullable=False),
    sa.Column('onset_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('symptoms', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('seriousness', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('reporter', sa.String(length=150), nullable=False),
    sa.Column('notes', sa.String(length=2000), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dose_id'], ['dose.id'], name=op.f('fk_aefi_report_dose_id_dose')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aefi_report'))
    )
    with op.batch_alter_table('aefi_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_aefi_report_dose_id'), ['dose_id'], unique=False)

    op.create_table('certificate_due',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dose_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dose_id'], ['dose.id'], name=op.f('fk_certificate_due_dose_id_dose'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_due'))
    )
    with op.batch_alter_table('certificate_due', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_due_dose_id'), ['dose_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_due_status'), ['status'], unique=False)

    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=False,
                                      server_default='recorded'))
        batch_op.create_unique_constraint(batch_op.f('uq_dose_idempotency_key'), ['idempotency_key'])



def downgrade() -> None:
    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_dose_idempotency_key'), type_='unique')
        batch_op.drop_column('source')
        batch_op.drop_column('idempotency_key')

    with op.batch_alter_table('certificate_due', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_due_status'))
        batch_op.drop_index(batch_op.f('ix_certificate_due_dose_id'))

    op.drop_table('certificate_due')
    with op.batch_alter_table('aefi_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_aefi_report_dose_id'))

    op.drop_table('aefi_report')
