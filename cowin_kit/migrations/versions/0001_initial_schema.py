"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 12:33:33.380632
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=64), nullable=False),
    sa.Column('object_id', sa.String(length=100), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('source_ip', sa.String(length=64), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_object', ['object_type', 'object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_occurred_at'), ['occurred_at'], unique=False)

    op.create_table('gender',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('labels', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gender')),
    sa.UniqueConstraint('code', name=op.f('uq_gender_code'))
    )
    op.create_table('id_document_type',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('labels', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('validator', sa.String(length=500), nullable=False),
    sa.Column('min_age', sa.Integer(), nullable=False),
    sa.Column('registration', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_id_document_type')),
    sa.UniqueConstraint('code', name=op.f('uq_id_document_type_code'))
    )
    op.create_table('installed_pack',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=2), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('document', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('installed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_installed_pack')),
    sa.UniqueConstraint('code', name=op.f('uq_installed_pack_code'))
    )
    op.create_table('location',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('names', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('latitude', sa.Double(), nullable=True),
    sa.Column('longitude', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['location.id'], name=op.f('fk_location_parent_id_location')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_location')),
    sa.UniqueConstraint('code', name=op.f('uq_location_code'))
    )
    with op.batch_alter_table('location', schema=None) as batch_op:
        batch_op.create_index('ix_location_level_parent', ['level', 'parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_location_parent_id'), ['parent_id'], unique=False)

    op.create_table('staff_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=150), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_user')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_user_username'))
    )
    op.create_table('vaccine_product',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('names', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('manufacturer', sa.String(length=200), nullable=False),
    sa.Column('codes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vaccine_product')),
    sa.UniqueConstraint('code', name=op.f('uq_vaccine_product_code'))
    )
    op.create_table('vaccine_schedule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('disease', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('target_disease', sa.String(length=32), nullable=False),
    sa.Column('products', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('interchangeable', sa.Boolean(), nullable=False),
    sa.Column('min_age', sa.Integer(), nullable=False),
    sa.Column('max_age', sa.Integer(), nullable=True),
    sa.Column('doses', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vaccine_schedule')),
    sa.UniqueConstraint('code', name=op.f('uq_vaccine_schedule_code'))
    )
    op.create_table('facility',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('names', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.Column('postal_code', sa.String(length=16), nullable=True),
    sa.Column('latitude', sa.Double(), nullable=True),
    sa.Column('longitude', sa.Double(), nullable=True),
    sa.Column('facility_type', sa.String(length=16), nullable=False),
    sa.Column('fee_type', sa.String(length=8), nullable=False),
    sa.Column('opens_at', sa.Time(), nullable=True),
    sa.Column('closes_at', sa.Time(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_facility_location_id_location')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facility')),
    sa.UniqueConstraint('code', name=op.f('uq_facility_code'))
    )
    with op.batch_alter_table('facility', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_facility_location_id'), ['location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_facility_postal_code'), ['postal_code'], unique=False)

    op.create_table('population_figure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('age_band', sa.String(length=16), nullable=False),
    sa.Column('sex', sa.String(length=16), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_population_figure_location_id_location'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_population_figure')),
    sa.UniqueConstraint('location_id', 'year', 'age_band', 'sex', name=op.f('uq_population_figure_location_id_year_age_band_sex'))
    )
    op.create_table('postal_code',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_postal_code_location_id_location'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('code', 'location_id', name=op.f('pk_postal_code'))
    )
    with op.batch_alter_table('postal_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postal_code_location_id'), ['location_id'], unique=False)

    op.create_table('role_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_role_grant_facility_id_facility')),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_role_grant_location_id_location')),
    sa.ForeignKeyConstraint(['user_id'], ['staff_user.id'], name=op.f('fk_role_grant_user_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_grant'))
    )
    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_grant_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_role_grant_location_id'), ['location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_role_grant_user_id'), ['user_id'], unique=False)

    op.create_table('vaccination_session',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('session_date', sa.Date(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('min_age', sa.Integer(), nullable=False),
    sa.Column('max_age', sa.Integer(), nullable=True),
    sa.Column('fee', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_vaccination_session_facility_id_facility')),
    sa.ForeignKeyConstraint(['product_id'], ['vaccine_product.id'], name=op.f('fk_vaccination_session_product_id_vaccine_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vaccination_session'))
    )
    with op.batch_alter_table('vaccination_session', schema=None) as batch_op:
        batch_op.create_index('ix_vaccination_session_facility_date', ['facility_id', 'session_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_vaccination_session_product_id'), ['product_id'], unique=False)

    op.create_table('session_dose_capacity',
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('dose_number', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.CheckConstraint('booked >= 0 AND booked <= capacity', name=op.f('ck_session_dose_capacity_booked_within_capacity')),
    sa.ForeignKeyConstraint(['session_id'], ['vaccination_session.id'], name=op.f('fk_session_dose_capacity_session_id_vaccination_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'dose_number', name=op.f('pk_session_dose_capacity'))
    )
    op.create_table('session_slot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('starts_at', sa.Time(), nullable=False),
    sa.Column('ends_at', sa.Time(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.CheckConstraint('booked >= 0 AND booked <= capacity', name=op.f('ck_session_slot_booked_within_capacity')),
    sa.ForeignKeyConstraint(['session_id'], ['vaccination_session.id'], name=op.f('fk_session_slot_session_id_vaccination_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_slot'))
    )
    with op.batch_alter_table('session_slot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_slot_session_id'), ['session_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('session_slot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_slot_session_id'))

    op.drop_table('session_slot')
    op.drop_table('session_dose_capacity')
    with op.batch_alter_table('vaccination_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vaccination_session_product_id'))
        batch_op.drop_index('ix_vaccination_session_facility_date')

    op.drop_table('vaccination_session')
    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_role_grant_user_id'))
        batch_op.drop_index(batch_op.f('ix_role_grant_location_id'))
        batch_op.drop_index(batch_op.f('ix_role_grant_facility_id'))

    op.drop_table('role_grant')
    with op.batch_alter_table('postal_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postal_code_location_id'))

    op.drop_table('postal_code')
    op.drop_table('population_figure')
    with op.batch_alter_table('facility', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_facility_postal_code'))
        batch_op.drop_index(batch_op.f('ix_facility_location_id'))

    op.drop_table('facility')
    op.drop_table('vaccine_schedule')
    op.drop_table('vaccine_product')
    op.drop_table('staff_user')
    with op.batch_alter_table('location', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_location_parent_id'))
        batch_op.drop_index('ix_location_level_parent')

    op.drop_table('location')
    op.drop_table('installed_pack')
    op.drop_table('id_document_type')
    op.drop_table('gender')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_occurred_at'))
        batch_op.drop_index('ix_audit_event_object')

    op.drop_table('audit_event')
