"""partitioned doses and appointments: dose by administered_at and appointment by
created_at in monthly range partitions on PostgreSQL, their unique keys held by the claim
tables dose_key and appointment_live (kept by a trigger), the foreign keys to dose.id
referencing dose_key.dose_id

On PostgreSQL an empty table is partitioned here at once (a fresh install); a table with
rows is left plain and `cowin-kit db partition --table dose` (or appointment) converts it
online, in batches (docs/partitioning.md). SQLite has no partitions: nothing changes there.
The downgrade turns them back into plain tables with their unique keys (offline: in one
transaction holding the tables' locks).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 04:30:00.000000
"""
from __future__ import annotations

from datetime import datetime, timezone

from alembic import op

from cowin_kit.core import partitioning

revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None

TABLES = ('dose', 'appointment')


def upgrade() -> None:
    partitioning.partition_if_empty(op.get_bind(), TABLES, datetime.now(timezone.utc))


def downgrade() -> None:
    partitioning.unpartition_all(op.get_bind(), tuple(reversed(TABLES)))
