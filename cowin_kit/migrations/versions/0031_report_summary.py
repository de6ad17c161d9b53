"""dose_day: the dose tally summed without product, sex and age (filled from dose_tally);
report_person, report_cohort, report_dropout_day, report_dropout_total: what each
person counts for in the administrators' reports and the counts those reports read
(cowin_kit.reporting.summary); report_stale marks a database that already had people as
waiting for `cowin-kit reports aggregates --rebuild` (the reports are computed live until
then)

Revision ID: 0031
Revises: 0030
Create Date: 2027-01-21 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None

# written out (not imported) so that this migration keeps working as the code moves on
MEASURE_COLUMNS = tuple(f'{m}_{age}' for age in ('12m', '24m')
                        for m in ('dtp1', 'dtp3', 'mcv1', 'mcv2', 'zero_dose'))


def upgrade() -> None:
    op.create_table(
        'dose_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('series', sa.String(length=64), nullable=False),
        sa.Column('dose_number', sa.Integer(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'location_id', 'series', 'dose_number',
                                name=op.f('pk_dose_day')),
    )
    op.execute('INSERT INTO dose_day (day, location_id, series, dose_number, count) '
               'SELECT day, location_id, series, dose_number, SUM(count) FROM dose_tally '
               'GROUP BY day, location_id, series, dose_number HAVING SUM(count) <> 0')
    op.create_table(
        'report_person',
        sa.Column('beneficiary_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('birth_date', sa.Date(), nullable=True),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('measures', sa.String(length=400), nullable=False),
        sa.Column('any_dose', sa.Boolean(), nullable=False),
        sa.Column('dose1_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('dose1_location_id', sa.Integer(), nullable=False),
        sa.Column('dose1_product_id', sa.Integer(), nullable=False),
        sa.Column('dose2', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('beneficiary_id', name=op.f('pk_report_person')),
    )
    op.create_index(op.f('ix_report_person_dose1_at'), 'report_person', ['dose1_at'])
    op.create_table(
        'report_cohort',
        sa.Column('birth_date', sa.Date(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('children', sa.Integer(), nullable=False),
        sa.Column('any_dose', sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in MEASURE_COLUMNS),
        sa.PrimaryKeyConstraint('birth_date', 'location_id', name=op.f('pk_report_cohort')),
    )
    op.create_table(
        'report_dropout_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('dose2', sa.Boolean(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'location_id', 'product_id', 'dose2',
                                name=op.f('pk_report_dropout_day')),
    )
    op.create_table(
        'report_dropout_total',
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('dose2', sa.Boolean(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('location_id', 'product_id', 'dose2',
                                name=op.f('pk_report_dropout_total')),
    )
    op.create_table(
        'report_stale',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_report_stale')),
    )
    # People already here: summarized by the rebuild (one command, with progress), not in
    # this migration; until then the reports are computed from the doses.
    if op.get_bind().execute(sa.text('SELECT 1 FROM beneficiary LIMIT 1')).first():
        op.bulk_insert(sa.table('report_stale', sa.column('name')), [{'name': 'report_person'}])


def downgrade() -> None:
    op.drop_table('report_stale')
    op.drop_table('report_dropout_total')
    op.drop_table('report_dropout_day')
    op.drop_table('report_cohort')
    op.drop_index(op.f('ix_report_person_dose1_at'), table_name='report_person')
    op.drop_table('report_person')
    op.drop_table('dose_day')
