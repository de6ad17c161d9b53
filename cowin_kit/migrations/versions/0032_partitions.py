"""partitions: audit_event, message_outbox and otp_transaction in monthly range partitions
on PostgreSQL; partition_conversion (how far an online conversion got); message_outbox's
retry_of loses its foreign key (a key cannot reference a partitioned table by id alone)

On PostgreSQL an empty table is partitioned here at once (a fresh install); a table with
rows is left as it is and `cowin-kit db partition` converts it online, in batches
(docs/partitioning.md). SQLite has no partitions: there only the table and the foreign key
change.

The partitioning itself is cowin_kit.core.partitioning (plain SQL, no other import of the
kit), shared with the online conversion so that both give the same layout.

Revision ID: 0032
Revises: 0030
Create Date: 2027-01-24 10:00:00.000000
"""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from cowin_kit.core import partitioning

UTC = sa.DateTime(timezone=True)
# this revision's tables (dose and appointment are 0034's)
TABLES = ('audit_event', 'message_outbox', 'otp_transaction')

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'partition_conversion',
        sa.Column('table_name', sa.String(length=64), nullable=False),
        sa.Column('watermark', sa.String(length=64), nullable=True),
        sa.Column('rows_copied', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False),
        sa.Column('started_at', UTC, nullable=False),
        sa.Column('finished_at', UTC, nullable=True),
        sa.PrimaryKeyConstraint('table_name', name=op.f('pk_partition_conversion')),
    )
    with op.batch_alter_table('message_outbox') as batch:
        batch.drop_constraint('fk_message_outbox_retry_of_message_outbox', type_='foreignkey')
    partitioning.partition_if_empty(op.get_bind(), TABLES, datetime.now(timezone.utc))


def downgrade() -> None:
    connection = op.get_bind()
    partitioning.unpartition_all(connection, TABLES)
    if connection.dialect.name == 'postgresql':
        connection.execute(sa.text(
            'UPDATE message_outbox SET retry_of = NULL WHERE retry_of IS NOT NULL AND '
            'retry_of NOT IN (SELECT id FROM message_outbox)'))
    with op.batch_alter_table('message_outbox') as batch:
        batch.create_foreign_key('fk_message_outbox_retry_of_message_outbox',
                                 'message_outbox', ['retry_of'], ['id'])
    op.drop_table('partition_conversion')
