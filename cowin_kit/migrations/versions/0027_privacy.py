"""privacy: retention_mark (how far each retention job got)

Revision ID: 0027
Revises: 0026
Create Date: 2027-01-12 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

UTC = sa.DateTime(timezone=True)

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'retention_mark',
        sa.Column('job', sa.String(length=32), nullable=False),
        sa.Column('done_until', UTC, nullable=False),
        sa.PrimaryKeyConstraint('job', name=op.f('pk_retention_mark')),
    )


def downgrade() -> None:
    op.drop_table('retention_mark')
