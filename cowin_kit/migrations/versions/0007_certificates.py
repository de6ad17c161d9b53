"""certificates

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 14:22:49.253947
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('certificate',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('dose_id', sa.Integer(), nullable=False),
    sa.Column('provisional', sa.Boolean(), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dcc', sa.Text(), nullable=True),
    sa.Column('shc', sa.Text(), nullable=True),
    sa.Column('vc', sa.Text(), nullable=True),
    sa.Column('uvci', sa.String(length=100), nullable=True),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiary.id'], name=op.f('fk_certificate_beneficiary_id_beneficiary')),
    sa.ForeignKeyConstraint(['dose_id'], ['dose.id'], name=op.f('fk_certificate_dose_id_dose')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate'))
    )
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_beneficiary_id'), ['beneficiary_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_dose_id'), ['dose_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_uvci'), ['uvci'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_uvci'))
        batch_op.drop_index(batch_op.f('ix_certificate_dose_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_beneficiary_id'))

    op.drop_table('certificate')
