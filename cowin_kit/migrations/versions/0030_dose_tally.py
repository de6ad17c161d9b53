"""dose_tally and dose_total: counts of doses by (local day,) place, product, series, dose
number, sex and age group, kept as doses are written (cowin_kit.registration.tally);
filled from the doses already recorded

Revision ID: 0030
Revises: 0028
Create Date: 2027-01-20 10:00:00.000000
"""
from __future__ import annotations

import json
import zoneinfo
from collections import Counter
from datetime import date, datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0028'
branch_labels = None
depends_on = None

KEY = ('day', 'location_id', 'product_id', 'series', 'dose_number', 'gender_id', 'age')


def upgrade() -> None:
    op.create_table(
        'dose_tally',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('series', sa.String(length=64), nullable=False),
        sa.Column('dose_number', sa.Integer(), nullable=False),
        sa.Column('gender_id', sa.Integer(), nullable=False),
        sa.Column('age', sa.Integer(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY, name=op.f('pk_dose_tally')),
    )
    op.create_index('ix_dose_tally_location_day', 'dose_tally', ['location_id', 'day'])
    op.create_table(
        'dose_total',
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('series', sa.String(length=64), nullable=False),
        sa.Column('dose_number', sa.Integer(), nullable=False),
        sa.Column('gender_id', sa.Integer(), nullable=False),
        sa.Column('age', sa.Integer(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY[1:], name=op.f('pk_dose_total')),
    )
    _fill()


def _fill() -> None:
    """The doses already recorded, counted as cowin_kit.registration.tally.key_of does
    (written out here so that this migration keeps working as the code moves on)."""
    bind = op.get_bind()
    document = bind.execute(sa.text('SELECT document FROM installed_pack LIMIT 1')).scalar()
    if document is None:
        return
    if isinstance(document, str):
        document = json.loads(document)
    zone = zoneinfo.ZoneInfo(document['timezone'])
    counts: Counter = Counter()
    last = 0
    while True:
        rows = bind.execute(sa.text(
            'SELECT dose.id, dose.administered_at, facility.location_id, dose.product_id, '
            'dose.series, dose.dose_number, beneficiary.gender_id, beneficiary.birth_year, '
            'beneficiary.birth_date FROM dose '
            'JOIN beneficiary ON beneficiary.id = dose.beneficiary_id '
            'LEFT JOIN facility ON facility.id = dose.facility_id '
            'WHERE dose.id > :last ORDER BY dose.id LIMIT 20000'), {'last': last}).all()
        if not rows:
            break
        for (_id, at, location_id, product_id, series, number, gender_id, birth_year,
             birth_date) in rows:
            if isinstance(at, str):  # SQLite hands back text
                at = datetime.fromisoformat(at)
            if isinstance(birth_date, str):
                birth_date = date.fromisoformat(birth_date)
            moment = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
            day = moment.astimezone(zone).date()
            if birth_date is not None:
                age = day.year - birth_date.year - ((day.month, day.day) <
                                                    (birth_date.month, birth_date.day))
            else:
                age = day.year - birth_year
            age = max(0, min(120, age))
            age = age if age < 20 else min(85, age - age % 5)
            counts[(day, location_id or 0, product_id, series or '', number, gender_id,
                    age)] += 1
        last = rows[-1][0]
    table = sa.table('dose_tally', *(sa.column(name) for name in KEY + ('count',)))
    rows = [dict(zip(KEY + ('count',), key + (n,))) for key, n in sorted(counts.items())]
    for start in range(0, len(rows), 5000):
        op.bulk_insert(table, rows[start:start + 5000])
    totals: Counter = Counter()
    for key, n in counts.items():
        totals[key[1:]] += n
    table = sa.table('dose_total', *(sa.column(name) for name in KEY[1:] + ('count',)))
    rows = [dict(zip(KEY[1:] + ('count',), key + (n,))) for key, n in sorted(totals.items())]
    for start in range(0, len(rows), 5000):
        op.bulk_insert(table, rows[start:start + 5000])


def downgrade() -> None:
    op.drop_table('dose_total')
    op.drop_index('ix_dose_tally_location_day', table_name='dose_tally')
    op.drop_table('dose_tally')
