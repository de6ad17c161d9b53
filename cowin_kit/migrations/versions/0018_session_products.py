"""session products: a session may offer several products; outreach sessions and their site

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vaccination_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16),
                                      server_default='fixed', nullable=False))
        batch_op.add_column(sa.Column('site', sa.String(length=200),
                                      server_default='', nullable=False))
    op.create_table(
        'session_product',
        sa.Column('session_id', sa.String(length=36), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['vaccination_session.id'],
                                name=op.f('fk_session_product_session_id_vaccination_session'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['product_id'], ['vaccine_product.id'],
                                name=op.f('fk_session_product_product_id_vaccine_product')),
        sa.PrimaryKeyConstraint('session_id', 'product_id', name=op.f('pk_session_product')),
    )


def downgrade() -> None:
    op.drop_table('session_product')
    with op.batch_alter_table('vaccination_session', schema=None) as batch_op:
        batch_op.drop_column('site')
        batch_op.drop_column('kind')
