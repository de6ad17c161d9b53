"""vaccine stock: lot register, stores, ledger, balances, open vials, alerts; the products'
stock facts (doses per vial, open-vial policy)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 16:30:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSONDocument = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
TIMESTAMP = sa.DateTime(timezone=True)

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vaccine_product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stock', JSONDocument, server_default=sa.text("'{}'"),
                                      nullable=False))
    op.create_table(
        'stock_lot',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=64), nullable=False),
        sa.Column('number_key', sa.String(length=64), nullable=False),
        sa.Column('manufacturer', sa.String(length=200), nullable=False),
        sa.Column('expires_on', sa.Date(), nullable=False),
        sa.Column('doses_per_vial', sa.Integer(), nullable=False),
        sa.Column('vvm_stage', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('recalled_at', TIMESTAMP, nullable=True),
        sa.Column('recall_reason', sa.String(length=500), nullable=False),
        sa.Column('created_at', TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(['product_id'], ['vaccine_product.id'],
                                name=op.f('fk_stock_lot_product_id_vaccine_product')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_lot')),
        sa.UniqueConstraint('product_id', 'number_key',
                            name=op.f('uq_stock_lot_product_id_number_key')),
    )
    op.create_index(op.f('ix_stock_lot_product_id'), 'stock_lot', ['product_id'])
    op.create_table(
        'stock_store',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=80), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('level', sa.String(length=32), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=True),
        sa.Column('facility_id', sa.Integer(), nullable=True),
        sa.Column('parent_id', sa.Integer(), nullable=True),
        sa.Column('created_at', TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(['location_id'], ['location.id'],
                                name=op.f('fk_stock_store_location_id_location')),
        sa.ForeignKeyConstraint(['facility_id'], ['facility.id'],
                                name=op.f('fk_stock_store_facility_id_facility')),
        sa.ForeignKeyConstraint(['parent_id'], ['stock_store.id'],
                                name=op.f('fk_stock_store_parent_id_stock_store')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_store')),
        sa.UniqueConstraint('code', name=op.f('uq_stock_store_code')),
        sa.UniqueConstraint('facility_id', name=op.f('uq_stock_store_facility_id')),
    )
    op.create_index(op.f('ix_stock_store_location_id'), 'stock_store', ['location_id'])
    op.create_index(op.f('ix_stock_store_parent_id'), 'stock_store', ['parent_id'])
    op.create_table(
        'stock_balance',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('lot_id', sa.Integer(), nullable=False),
        sa.Column('on_hand', sa.Integer(), nullable=False),
        sa.Column('updated_at', TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stock_store.id'],
                                name=op.f('fk_stock_balance_store_id_stock_store')),
        sa.ForeignKeyConstraint(['lot_id'], ['stock_lot.id'],
                                name=op.f('fk_stock_balance_lot_id_stock_lot')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_balance')),
        sa.UniqueConstraint('store_id', 'lot_id', name=op.f('uq_stock_balance_store_id_lot_id')),
    )
    op.create_index(op.f('ix_stock_balance_lot_id'), 'stock_balance', ['lot_id'])
    op.create_table(
        'stock_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('lot_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('other_store_id', sa.Integer(), nullable=True),
        sa.Column('dose_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('occurred_at', TIMESTAMP, nullable=False),
        sa.Column('actor', sa.String(length=150), nullable=False),
        sa.Column('recorded_at', TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stock_store.id'],
                                name=op.f('fk_stock_entry_store_id_stock_store')),
        sa.ForeignKeyConstraint(['lot_id'], ['stock_lot.id'],
                                name=op.f('fk_stock_entry_lot_id_stock_lot')),
        sa.ForeignKeyConstraint(['other_store_id'], ['stock_store.id'],
                                name=op.f('fk_stock_entry_other_store_id_stock_store')),
        sa.ForeignKeyConstraint(['dose_id'], ['dose.id'], ondelete='SET NULL',
                                name=op.f('fk_stock_entry_dose_id_dose')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_entry')),
    )
    op.create_index(op.f('ix_stock_entry_lot_id'), 'stock_entry', ['lot_id'])
    op.create_index(op.f('ix_stock_entry_dose_id'), 'stock_entry', ['dose_id'])
    op.create_index('ix_stock_entry_store_occurred', 'stock_entry', ['store_id', 'occurred_at'])
    op.create_table(
        'stock_open_vial',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('lot_id', sa.Integer(), nullable=False),
        sa.Column('opened_at', TIMESTAMP, nullable=False),
        sa.Column('opened_on', sa.Date(), nullable=False),
        sa.Column('doses_left', sa.Integer(), nullable=False),
        sa.Column('closed_at', TIMESTAMP, nullable=True),
        sa.Column('close_reason', sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(['store_id'], ['stock_store.id'],
                                name=op.f('fk_stock_open_vial_store_id_stock_store')),
        sa.ForeignKeyConstraint(['lot_id'], ['stock_lot.id'],
                                name=op.f('fk_stock_open_vial_lot_id_stock_lot')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_open_vial')),
    )
    op.create_index('ix_stock_open_vial_store_lot', 'stock_open_vial',
                    ['store_id', 'lot_id', 'closed_at'])
    op.create_table(
        'stock_alert',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('lot_id', sa.Integer(), nullable=True),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('details', JSONDocument, nullable=False),
        sa.Column('created_at', TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stock_store.id'],
                                name=op.f('fk_stock_alert_store_id_stock_store')),
        sa.ForeignKeyConstraint(['lot_id'], ['stock_lot.id'],
                                name=op.f('fk_stock_alert_lot_id_stock_lot')),
        sa.ForeignKeyConstraint(['product_id'], ['vaccine_product.id'],
                                name=op.f('fk_stock_alert_product_id_vaccine_product')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_alert')),
        sa.UniqueConstraint('key', name=op.f('uq_stock_alert_key')),
    )
    op.create_index(op.f('ix_stock_alert_store_id'), 'stock_alert', ['store_id'])
    op.create_index(op.f('ix_stock_alert_day'), 'stock_alert', ['day'])


def downgrade() -> None:
    for table, indexes in (
            ('stock_alert', ['ix_stock_alert_day', 'ix_stock_alert_store_id']),
            ('stock_open_vial', ['ix_stock_open_vial_store_lot']),
            ('stock_entry', ['ix_stock_entry_store_occurred', 'ix_stock_entry_dose_id',
                             'ix_stock_entry_lot_id']),
            ('stock_balance', ['ix_stock_balance_lot_id']),
            ('stock_store', ['ix_stock_store_parent_id', 'ix_stock_store_location_id']),
            ('stock_lot', ['ix_stock_lot_product_id'])):
        for index in indexes:
            op.drop_index(index, table_name=table)
        op.drop_table(table)
    with op.batch_alter_table('vaccine_product', schema=None) as batch_op:
        batch_op.drop_column('stock')
