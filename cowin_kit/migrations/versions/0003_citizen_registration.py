"""citizen registration

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 12:40:28.734341
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('citizen_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mobile', sa.String(length=20), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citizen_account')),
    sa.UniqueConstraint('mobile', name=op.f('uq_citizen_account_mobile'))
    )
    op.create_table('beneficiary',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference_id', sa.String(length=14), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('birth_year', sa.Integer(), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('gender_id', sa.Integer(), nullable=False),
    sa.Column('id_type_id', sa.Integer(), nullable=False),
    sa.Column('id_number_hash', sa.String(length=64), nullable=False),
    sa.Column('id_number_encrypted', sa.Text(), nullable=False),
    sa.Column('id_number_last4', sa.String(length=4), nullable=False),
    sa.Column('comorbidity', sa.Boolean(), nullable=False),
    sa.Column('consent_version', sa.String(length=32), nullable=False),
    sa.Column('secret_code_encrypted', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['citizen_account.id'], name=op.f('fk_beneficiary_account_id_citizen_account')),
    sa.ForeignKeyConstraint(['gender_id'], ['gender.id'], name=op.f('fk_beneficiary_gender_id_gender')),
    sa.ForeignKeyConstraint(['id_type_id'], ['id_document_type.id'], name=op.f('fk_beneficiary_id_type_id_id_document_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_beneficiary')),
    sa.UniqueConstraint('id_type_id', 'id_number_hash', name=op.f('uq_beneficiary_id_type_id_id_number_hash')),
    sa.UniqueConstraint('reference_id', name=op.f('uq_beneficiary_reference_id'))
    )
    with op.batch_alter_table('beneficiary', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_beneficiary_account_id'), ['account_id'], unique=False)

    op.create_table('otp_transaction',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('mobile', sa.String(length=20), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('otp_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['citizen_account.id'], name=op.f('fk_otp_transaction_account_id_citizen_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_otp_transaction'))
    )
    with op.batch_alter_table('otp_transaction', schema=None) as batch_op:
        batch_op.create_index('ix_otp_transaction_mobile_created', ['mobile', 'created_at'], unique=False)

    op.create_table('beneficiary_correction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('old_value', sa.String(length=200), nullable=False),
    sa.Column('new_value', sa.String(length=200), nullable=False),
    sa.Column('corrected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiary.id'], name=op.f('fk_beneficiary_correction_beneficiary_id_beneficiary'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_beneficiary_correction'))
    )
    with op.batch_alter_table('beneficiary_correction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_beneficiary_correction_beneficiary_id'), ['beneficiary_id'], unique=False)

    op.create_table('dose',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('dose_number', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('administered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lot', sa.String(length=64), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('vaccinator', sa.String(length=150), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiary.id'], name=op.f('fk_dose_beneficiary_id_beneficiary')),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_dose_facility_id_facility')),
    sa.ForeignKeyConstraint(['product_id'], ['vaccine_product.id'], name=op.f('fk_dose_product_id_vaccine_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dose')),
    sa.UniqueConstraint('beneficiary_id', 'dose_number', name=op.f('uq_dose_beneficiary_id_dose_number'))
    )
    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dose_beneficiary_id'), ['beneficiary_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('dose', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dose_beneficiary_id'))

    op.drop_table('dose')
    with op.batch_alter_table('beneficiary_correction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_beneficiary_correction_beneficiary_id'))

    op.drop_table('beneficiary_correction')
    with op.batch_alter_table('otp_transaction', schema=None) as batch_op:
        batch_op.drop_index('ix_otp_transaction_mobile_created')

    op.drop_table('otp_transaction')
    with op.batch_alter_table('beneficiary', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_beneficiary_account_id'))

    op.drop_table('beneficiary')
    op.drop_table('citizen_account')
