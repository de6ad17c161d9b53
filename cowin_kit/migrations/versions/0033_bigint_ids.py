"""bigint ids: the ids of the tables that grow with people, doses, appointments, messages
and events, and every column that holds them, from integer (int4, at most 2,147,483,647)
to bigint on PostgreSQL, their id sequences too

CoWIN recorded more than 2.2 billion doses: `dose.id` as an int4 stops recording before a
country of India's size is done, and `pending_dose.id` (every nightly refresh deletes and
inserts the due state again, spending an id per row) long before that. audit_event.id was
bigint from the start.

PostgreSQL: one ALTER TABLE per table (all its columns at once: the table is rewritten
once, its indexes rebuilt, the foreign keys to and from it checked again), under an ACCESS
EXCLUSIVE lock held until the migration commits: minutes per GB of table (docs/capacity.md
says how long, and the online way for a database too large for that). Partitioned tables
(message_outbox, otp_transaction) are altered on the parent, which PostgreSQL applies to
every partition; an unfinished `cowin-kit db partition` copy (`<table>__p`) is altered
with its table. The owned sequences of the id columns become `AS bigint` (their maximum
follows).

SQLite: nothing to do. Its INTEGER is 64 bits wide, and an INTEGER PRIMARY KEY is the
rowid; the models keep INTEGER there (BigInteger().with_variant(Integer(), "sqlite")).

Downgrade (PostgreSQL): back to integer, refused with the columns and sequences named if
any of them holds or has handed out an id above 2,147,483,647 (nothing is changed then).

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 01:10:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None

INT4_MAX = 2_147_483_647

# written out (not read from the models) so that this migration keeps working as the code
# moves on: per table, its id (when it is one of these tables' own) and the columns that
# hold one of these ids (foreign keys, and the few kept without a key)
COLUMNS: dict[str, tuple[str, ...]] = {
    'citizen_account': ('id',),
    'beneficiary': ('id', 'account_id', 'mother_id', 'merged_into_id'),
    'beneficiary_correction': ('id', 'beneficiary_id'),
    'pregnancy': ('id', 'beneficiary_id'),
    'dose': ('id', 'beneficiary_id'),
    'certificate_due': ('id', 'dose_id'),
    'certificate': ('beneficiary_id', 'dose_id'),
    'aefi_report': ('id', 'dose_id', 'reporter_account_id'),
    'aefi_report_dose': ('report_id', 'dose_id'),
    'aefi_step': ('id', 'report_id'),
    'aefi_alert': ('id', 'report_id'),
    'session_slot': ('id',),
    'appointment': ('beneficiary_id', 'slot_id', 'account_id'),
    'slot_alert_subscription': ('id', 'account_id'),
    'otp_transaction': ('account_id',),
    'channel_pin': ('account_id',),
    'inbound_sms': ('id', 'account_id'),
    'ussd_session': ('id',),
    'message_outbox': ('id', 'retry_of'),
    'field_record': ('id',),
    'field_review': ('id',),
    'reminder_sent': ('id', 'beneficiary_id', 'cycle'),   # cycle: a pregnancy's id, or 0
    'pending_dose': ('id', 'beneficiary_id', 'pregnancy_id'),
    'report_person': ('beneficiary_id',),
    'change_request': ('id', 'beneficiary_id', 'dose_id'),
    'set_aside_dose': ('id', 'dose_id', 'beneficiary_id', 'change_request_id', 'merge_id'),
    'duplicate_candidate': ('id', 'low_id', 'high_id'),
    'person_merge': ('id', 'kept_id', 'merged_id', 'candidate_id'),
    'person_match_key': ('beneficiary_id',),
    'grievance': ('id', 'account_id', 'beneficiary_id'),
    'stock_entry': ('id', 'dose_id'),
    'stock_open_vial': ('id',),
    'stock_alert': ('id',),
}

# the shadow of an unfinished online partitioning (cowin_kit.core.partitioning.SHADOW)
SHADOW = '__p'


def _exists(connection, table: str) -> bool:
    return connection.scalar(sa.text(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = :name AND n.nspname = current_schema())"), {'name': table})


def _sequence(connection, table: str, column: str) -> str | None:
    """The sequence owned by the column (serial or identity), if any."""
    return connection.scalar(sa.text('SELECT pg_get_serial_sequence(:table, :column)'),
                             {'table': f'"{table}"', 'column': column})


def _alter(connection, to: str) -> None:
    for table, columns in COLUMNS.items():
        tables = [table] + ([table + SHADOW] if _exists(connection, table + SHADOW) else [])
        for name in tables:
            connection.execute(sa.text(f'ALTER TABLE "{name}" ' + ', '.join(
                f'ALTER COLUMN "{column}" TYPE {to}' for column in columns)))
        for column in columns:
            sequence = _sequence(connection, table, column)
            if sequence:
                connection.execute(sa.text(f'ALTER SEQUENCE {sequence} AS {to}'))


def _too_large(connection) -> list[str]:
    """What an int4 cannot take: columns holding, and sequences that handed out, an id
    above INT4_MAX."""
    found = []
    for table, columns in COLUMNS.items():
        for column in columns:
            largest = connection.scalar(sa.text(f'SELECT max("{column}") FROM "{table}"'))
            if largest is not None and largest > INT4_MAX:
                found.append(f'{table}.{column} holds ids up to {largest:,}')
            sequence = _sequence(connection, table, column)
            if sequence:
                last = connection.scalar(sa.text(f'SELECT last_value FROM {sequence}'))
                if last > INT4_MAX:
                    found.append(f'sequence {sequence} has handed out ids up to {last:,} (once '
                                 f'no row holds one, set it back with setval)')
    return found


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != 'postgresql':
        return  # SQLite's INTEGER is 64-bit already
    _alter(connection, 'bigint')


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != 'postgresql':
        return
    too_large = _too_large(connection)
    if too_large:
        raise RuntimeError(
            'Cannot downgrade revision 0033 (bigint ids) to 0032: a 32-bit integer holds '
            f'ids up to {INT4_MAX:,}, and ' + '; '.join(too_large) + '. Nothing was changed.')
    _alter(connection, 'integer')
