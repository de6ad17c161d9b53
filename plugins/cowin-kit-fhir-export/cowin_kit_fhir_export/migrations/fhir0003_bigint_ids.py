"""fhir-export: 64-bit ids in the queues, as the kit's doses and AEFI reports have since the
kit's migration 0033 (bigint on PostgreSQL; SQLite's INTEGER is 64-bit already: nothing
to do there)

A plugin's migrations run after the kit's (cowin_kit.core.migrate.upgrade_plugins), so the
kit's dose.id and aefi_report.id are bigint by then. Downgrade: back to integer, refused
while a queue holds an id above 2,147,483,647.

Revision ID: fhir0003
Revises: fhir0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "fhir0003"
down_revision = "fhir0002"
branch_labels = None
depends_on = None

INT4_MAX = 2_147_483_647
COLUMNS = {"fhir_export_queue": ("id", "dose_id"),
           "fhir_export_aefi_queue": ("id", "report_id")}


def _alter(connection, to: str) -> None:
    for table, columns in COLUMNS.items():
        connection.execute(sa.text(f'ALTER TABLE "{table}" ' + ", ".join(
            f'ALTER COLUMN "{column}" TYPE {to}' for column in columns)))
        sequence = connection.scalar(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"),
                                     {"t": table})
        if sequence:
            connection.execute(sa.text(f"ALTER SEQUENCE {sequence} AS {to}"))


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        _alter(connection, "bigint")


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            largest = connection.scalar(sa.text(f'SELECT max("{column}") FROM "{table}"'))
            if largest is not None and largest > INT4_MAX:
                raise RuntimeError(f"Cannot downgrade fhir0003: {table}.{column} holds ids up "
                                   f"to {largest:,}, more than a 32-bit integer holds")
    _alter(connection, "integer")
