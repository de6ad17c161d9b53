"""pack translations

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 13:47:39.341405
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('installed_pack', schema=None) as batch_op:
        batch_op.add_column(sa.Column('translations', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False,
                                      server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table('installed_pack', schema=None) as batch_op:
        batch_op.drop_column('translations')

