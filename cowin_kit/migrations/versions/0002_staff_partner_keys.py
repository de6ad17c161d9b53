"""staff sign-in and partner API keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('partner_api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('key_prefix', sa.String(length=8), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rate_limit_per_minute', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['staff_user.id'], name=op.f('fk_partner_api_key_created_by_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_api_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_partner_api_key_key_hash'))
    )
    with op.batch_alter_table('partner_api_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_api_key_created_by'), ['created_by'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('partner_api_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_api_key_created_by'))

    op.drop_table('partner_api_key')
