"""staff contact for alerts (staff_user.mobile, .email); set_aside_dose.stock_returned (the
doses a voided or set-aside dose gave back to stock, drawn again when a merge is undone)

Revision ID: 0028
Revises: 0027
Create Date: 2027-01-20 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mobile', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
    with op.batch_alter_table('set_aside_dose', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stock_returned', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('set_aside_dose', schema=None) as batch_op:
        batch_op.drop_column('stock_returned')
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_column('email')
        batch_op.drop_column('mobile')
