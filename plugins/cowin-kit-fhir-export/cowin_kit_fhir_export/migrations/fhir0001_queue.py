"""fhir-export: the queue of doses to push

Revision ID: fhir0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from cowin_kit.plugins import dose_reference

revision = "fhir0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # dose_key.dose_id where the kit's doses are partitioned (PostgreSQL), else dose.id
    table, column = dose_reference(op.get_bind())
    op.create_table(
        "fhir_export_queue",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dose_id", sa.Integer, sa.ForeignKey(f"{table}.{column}", ondelete="CASCADE",
                                                       name="fk_fhir_export_queue_dose_id_dose"),
                  nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.UniqueConstraint("dose_id", name="uq_fhir_export_queue_dose_id"),
    )
    op.create_index("ix_fhir_export_queue_pending", "fhir_export_queue", ["pushed_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_fhir_export_queue_pending", table_name="fhir_export_queue")
    op.drop_table("fhir_export_queue")
