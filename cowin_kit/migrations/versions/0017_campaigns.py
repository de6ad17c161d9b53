"""campaigns: campaign, campaign_area and dose.campaign_id

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'campaign',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('names', JSON, nullable=False),
        sa.Column('products', JSON, nullable=False),
        sa.Column('min_age', sa.String(length=8), nullable=False),
        sa.Column('below_age', sa.String(length=8), nullable=False),
        sa.Column('sex', sa.String(length=16), nullable=True),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('doses_per_person', sa.Integer(), server_default='1', nullable=False),
        sa.Column('created_by', sa.String(length=150), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign')),
        sa.UniqueConstraint('code', name=op.f('uq_campaign_code')),
    )
    op.create_table(
        'campaign_area',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('target', sa.BigInteger(), nullable=True),
        sa.Column('target_source', sa.String(length=16), server_default='', nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'],
                                name=op.f('fk_campaign_area_campaign_id_campaign'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['location_id'], ['location.id'],
                                name=op.f('fk_campaign_area_location_id_location')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_area')),
        sa.UniqueConstraint('campaign_id', 'location_id',
                            name=op.f('uq_campaign_area_campaign_id_location_id')),
    )
    op.create_index(op.f('ix_campaign_area_campaign_id'), 'campaign_area', ['campaign_id'],
                    unique=False)
    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.add_column(sa.Column('campaign_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_dose_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_dose_campaign_id_campaign'), 'campaign',
                                    ['campaign_id'], ['id'])


def downgrade() -> None:
    # Campaign doses go with their campaigns (the older schema cannot say what they were).
    for table in ('aefi_report', 'certificate'):
        op.execute(f"DELETE FROM {table} WHERE dose_id IN "
                   "(SELECT id FROM dose WHERE campaign_id IS NOT NULL)")
    op.execute("DELETE FROM dose WHERE campaign_id IS NOT NULL")
    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_dose_campaign_id_campaign'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_dose_campaign_id'))
        batch_op.drop_column('campaign_id')
    op.drop_index(op.f('ix_campaign_area_campaign_id'), table_name='campaign_area')
    op.drop_table('campaign_area')
    op.drop_table('campaign')
