"""corrections: change requests (maker-checker), set-aside doses, matching keys and
duplicate candidates, merges, grievances; beneficiary.merged_into_id; a certificate may
outlive its (voided) dose

Revision ID: 0025
Revises: 0024
Create Date: 2027-01-10 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

JSONDocument = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
UTC = sa.DateTime(timezone=True)

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('beneficiary', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_beneficiary_merged_into_id_beneficiary', 'beneficiary',
                                    ['merged_into_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.alter_column('dose_id', existing_type=sa.Integer(), nullable=True)

    op.create_table(
        'change_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('beneficiary_id', sa.Integer(), nullable=False),
        sa.Column('dose_id', sa.Integer(), nullable=True),
        sa.Column('location_id', sa.Integer(), nullable=True),
        sa.Column('facility_id', sa.Integer(), nullable=True),
        sa.Column('changes', JSONDocument, nullable=False),
        sa.Column('before', JSONDocument, nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('maker', sa.String(length=150), nullable=False),
        sa.Column('checker', sa.String(length=150), nullable=True),
        sa.Column('decision_note', sa.String(length=500), nullable=False),
        sa.Column('created_at', UTC, nullable=False),
        sa.Column('decided_at', UTC, nullable=True),
        sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiary.id'], ondelete='CASCADE',
                                name=op.f('fk_change_request_beneficiary_id_beneficiary')),
        sa.ForeignKeyConstraint(['location_id'], ['location.id'],
                                name=op.f('fk_change_request_location_id_location')),
        sa.ForeignKeyConstraint(['facility_id'], ['facility.id'],
                                name=op.f('fk_change_request_facility_id_facility')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_change_request')),
    )
    op.create_index(op.f('ix_change_request_beneficiary_id'), 'change_request', ['beneficiary_id'])
    op.create_index(op.f('ix_change_request_location_id'), 'change_request', ['location_id'])
    op.create_index(op.f('ix_change_request_status'), 'change_request', ['status'])

    op.create_table(
        'duplicate_candidate',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('low_id', sa.Integer(), nullable=False),
        sa.Column('high_id', sa.Integer(), nullable=False),
        sa.Column('score', sa.Double(), nullable=False),
        sa.Column('reasons', JSONDocument, nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('found_by', sa.String(length=16), nullable=False),
        sa.Column('found_at', UTC, nullable=False),
        sa.Column('decided_by', sa.String(length=150), nullable=True),
        sa.Column('decided_at', UTC, nullable=True),
        sa.ForeignKeyConstraint(['low_id'], ['beneficiary.id'], ondelete='CASCADE',
                                name=op.f('fk_duplicate_candidate_low_id_beneficiary')),
        sa.ForeignKeyConstraint(['high_id'], ['beneficiary.id'], ondelete='CASCADE',
                                name=op.f('fk_duplicate_candidate_high_id_beneficiary')),
        sa.ForeignKeyConstraint(['location_id'], ['location.id'],
                                name=op.f('fk_duplicate_candidate_location_id_location')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicate_candidate')),
        sa.UniqueConstraint('low_id', 'high_id', name=op.f('uq_duplicate_candidate_low_id_high_id')),
    )
    op.create_index(op.f('ix_duplicate_candidate_high_id'), 'duplicate_candidate', ['high_id'])
    op.create_index(op.f('ix_duplicate_candidate_location_id'), 'duplicate_candidate',
                    ['location_id'])
    op.create_index(op.f('ix_duplicate_candidate_status'), 'duplicate_candidate', ['status'])

    op.create_table(
        'person_merge',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kept_id', sa.Integer(), nullable=False),
        sa.Column('merged_id', sa.Integer(), nullable=False),
        sa.Column('candidate_id', sa.Integer(), nullable=True),
        sa.Column('undo', JSONDocument, nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('merged_by', sa.String(length=150), nullable=False),
        sa.Column('merged_at', UTC, nullable=False),
        sa.Column('undone_by', sa.String(length=150), nullable=True),
        sa.Column('undone_at', UTC, nullable=True),
        sa.ForeignKeyConstraint(['kept_id'], ['beneficiary.id'], ondelete='CASCADE',
                                name=op.f('fk_person_merge_kept_id_beneficiary')),
        sa.ForeignKeyConstraint(['merged_id'], ['beneficiary.id'], ondelete='CASCADE',
                                name=op.f('fk_person_merge_merged_id_beneficiary')),
        sa.ForeignKeyConstraint(['candidate_id'], ['duplicate_candidate.id'],
                                name=op.f('fk_person_merge_candidate_id_duplicate_candidate')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_person_merge')),
    )
    op.create_index(op.f('ix_person_merge_kept_id'), 'person_merge', ['kept_id'])
    op.create_index(op.f('ix_person_merge_merged_id'), 'person_merge', ['merged_id'])

    op.create_table(
        'set_aside_dose',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dose_id', sa.Integer(), nullable=False),
        sa.Column('beneficiary_id', sa.Integer(), nullable=False),
        sa.Column('why', sa.String(length=16), nullable=False),
        sa.Column('change_request_id', sa.Integer(), nullable=True),
        sa.Column('merge_id', sa.Integer(), nullable=True),
        sa.Column('row', JSONDocument, nullable=False),
        sa.Column('set_aside_at', UTC, nullable=False),
        sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiary.id'], ondelete='CASCADE',
                                name=op.f('fk_set_aside_dose_beneficiary_id_beneficiary')),
        sa.ForeignKeyConstraint(['change_request_id'], ['change_request.id'],
                                name=op.f('fk_set_aside_dose_change_request_id_change_request')),
        sa.ForeignKeyConstraint(['merge_id'], ['person_merge.id'],
                                name=op.f('fk_set_aside_dose_merge_id_person_merge')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_set_aside_dose')),
    )
    op.create_index(op.f('ix_set_aside_dose_dose_id'), 'set_aside_dose', ['dose_id'])
    op.create_index(op.f('ix_set_aside_dose_beneficiary_id'), 'set_aside_dose',
                    ['beneficiary_id'])

    op.create_table(
        'person_match_key',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('beneficiary_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiary.id'], ondelete='CASCADE',
                                name=op.f('fk_person_match_key_beneficiary_id_beneficiary')),
        sa.PrimaryKeyConstraint('key', 'beneficiary_id', name=op.f('pk_person_match_key')),
    )
    op.create_index(op.f('ix_person_match_key_beneficiary_id'), 'person_match_key',
                    ['beneficiary_id'])

    op.create_table(
        'grievance',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('beneficiary_id', sa.Integer(), nullable=True),
        sa.Column('location_id', sa.Integer(), nullable=True),
        sa.Column('facility_id', sa.Integer(), nullable=True),
        sa.Column('category', sa.String(length=16), nullable=False),
        sa.Column('description', sa.String(length=2000), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('answer', sa.String(length=2000), nullable=False),
        sa.Column('handled_by', sa.String(length=150), nullable=True),
        sa.Column('created_at', UTC, nullable=False),
        sa.Column('updated_at', UTC, nullable=False),
        sa.Column('closed_at', UTC, nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['citizen_account.id'], ondelete='CASCADE',
                                name=op.f('fk_grievance_account_id_citizen_account')),
        sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiary.id'], ondelete='SET NULL',
                                name=op.f('fk_grievance_beneficiary_id_beneficiary')),
        sa.ForeignKeyConstraint(['location_id'], ['location.id'],
                                name=op.f('fk_grievance_location_id_location')),
        sa.ForeignKeyConstraint(['facility_id'], ['facility.id'],
                                name=op.f('fk_grievance_facility_id_facility')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_grievance')),
    )
    op.create_index(op.f('ix_grievance_account_id'), 'grievance', ['account_id'])
    op.create_index('ix_grievance_status_location', 'grievance', ['status', 'location_id'])


def downgrade() -> None:
    op.drop_index('ix_grievance_status_location', table_name='grievance')
    op.drop_index(op.f('ix_grievance_account_id'), table_name='grievance')
    op.drop_table('grievance')
    op.drop_index(op.f('ix_person_match_key_beneficiary_id'), table_name='person_match_key')
    op.drop_table('person_match_key')
    op.drop_index(op.f('ix_set_aside_dose_beneficiary_id'), table_name='set_aside_dose')
    op.drop_index(op.f('ix_set_aside_dose_dose_id'), table_name='set_aside_dose')
    op.drop_table('set_aside_dose')
    op.drop_index(op.f('ix_person_merge_merged_id'), table_name='person_merge')
    op.drop_index(op.f('ix_person_merge_kept_id'), table_name='person_merge')
    op.drop_table('person_merge')
    op.drop_index(op.f('ix_duplicate_candidate_status'), table_name='duplicate_candidate')
    op.drop_index(op.f('ix_duplicate_candidate_location_id'), table_name='duplicate_candidate')
    op.drop_index(op.f('ix_duplicate_candidate_high_id'), table_name='duplicate_candidate')
    op.drop_table('duplicate_candidate')
    op.drop_index(op.f('ix_change_request_status'), table_name='change_request')
    op.drop_index(op.f('ix_change_request_location_id'), table_name='change_request')
    op.drop_index(op.f('ix_change_request_beneficiary_id'), table_name='change_request')
    op.drop_table('change_request')
    # Certificates of voided doses have no dose: they cannot survive the old schema.
    op.execute("DELETE FROM certificate WHERE dose_id IS NULL")
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.alter_column('dose_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('beneficiary', schema=None) as batch_op:
        batch_op.drop_constraint('fk_beneficiary_merged_into_id_beneficiary', type_='foreignkey')
        batch_op.drop_column('merged_into_id')
