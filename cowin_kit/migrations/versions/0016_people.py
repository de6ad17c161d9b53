"""people from birth: children without an ID document, guardians, register numbers,
mothers, the person's area and home facility, who registered them; pregnancies

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-10 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

ID_COLUMNS = (('id_type_id', sa.Integer()), ('id_number_hash', sa.String(length=64)),
              ('id_number_encrypted', sa.Text()), ('id_number_last4', sa.String(length=4)))


def upgrade() -> None:
    with op.batch_alter_table('beneficiary', schema=None) as batch_op:
        for name, kind in ID_COLUMNS:
            batch_op.alter_column(name, existing_type=kind, nullable=True)
        batch_op.add_column(sa.Column('guardian_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('guardian_relation', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('external_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('mother_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('location_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('facility_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('registered_by', sa.String(length=150),
                                      server_default='', nullable=False))
        batch_op.create_unique_constraint('uq_beneficiary_external_id', ['external_id'])
        batch_op.create_foreign_key('fk_beneficiary_mother_id_beneficiary', 'beneficiary',
                                    ['mother_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key('fk_beneficiary_location_id_location', 'location',
                                    ['location_id'], ['id'])
        batch_op.create_foreign_key('fk_beneficiary_facility_id_facility', 'facility',
                                    ['facility_id'], ['id'])
        batch_op.create_index('ix_beneficiary_mother_id', ['mother_id'], unique=False)
        batch_op.create_index('ix_beneficiary_location_id', ['location_id'], unique=False)
        batch_op.create_index('ix_beneficiary_facility_id', ['facility_id'], unique=False)

    op.create_table(
        'pregnancy',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('beneficiary_id', sa.Integer(), nullable=False),
        sa.Column('registered_on', sa.Date(), nullable=False),
        sa.Column('lmp', sa.Date(), nullable=True),
        sa.Column('edd', sa.Date(), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=True),
        sa.Column('outcome_date', sa.Date(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('registered_by', sa.String(length=150), server_default='', nullable=False),
        sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiary.id'],
                                name=op.f('fk_pregnancy_beneficiary_id_beneficiary'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pregnancy')),
    )
    with op.batch_alter_table('pregnancy', schema=None) as batch_op:
        batch_op.create_index('ix_pregnancy_beneficiary_id', ['beneficiary_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pregnancy', schema=None) as batch_op:
        batch_op.drop_index('ix_pregnancy_beneficiary_id')
    op.drop_table('pregnancy')
    # The older schema cannot hold people registered without an ID document: refuse
    # rather than delete them (and their doses) silently.
    without_id = op.get_bind().execute(sa.text(
        "SELECT COUNT(*) FROM beneficiary WHERE id_type_id IS NULL")).scalar()
    if without_id:
        raise RuntimeError(f"{without_id} people are registered without an ID document; "
                           "the schema before 0016 cannot hold them (nothing was changed)")
    with op.batch_alter_table('beneficiary', schema=None) as batch_op:
        batch_op.drop_index('ix_beneficiary_facility_id')
        batch_op.drop_index('ix_beneficiary_location_id')
        batch_op.drop_index('ix_beneficiary_mother_id')
        batch_op.drop_constraint('fk_beneficiary_facility_id_facility', type_='foreignkey')
        batch_op.drop_constraint('fk_beneficiary_location_id_location', type_='foreignkey')
        batch_op.drop_constraint('fk_beneficiary_mother_id_beneficiary', type_='foreignkey')
        batch_op.drop_constraint('uq_beneficiary_external_id', type_='unique')
        batch_op.drop_column('registered_by')
        batch_op.drop_column('facility_id')
        batch_op.drop_column('location_id')
        batch_op.drop_column('mother_id')
        batch_op.drop_column('external_id')
        batch_op.drop_column('guardian_relation')
        batch_op.drop_column('guardian_name')
        for name, kind in ID_COLUMNS:
            batch_op.alter_column(name, existing_type=kind, nullable=False)
