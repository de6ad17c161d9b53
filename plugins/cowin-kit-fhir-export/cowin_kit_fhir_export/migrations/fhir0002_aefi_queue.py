"""fhir-export: the queue of AEFI reports to push as AdverseEvent

Revision ID: fhir0002
Revises: fhir0001
Create Date: 2026-12-20
"""

import sqlalchemy as sa
from alembic import op

revision = "fhir0002"
down_revision = "fhir0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fhir_export_aefi_queue",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("report_id", sa.Integer,
                  sa.ForeignKey("aefi_report.id", ondelete="CASCADE",
                                name="fk_fhir_export_aefi_queue_report_id_aefi_report"),
                  nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.UniqueConstraint("report_id", name="uq_fhir_export_aefi_queue_report_id"),
    )
    op.create_index("ix_fhir_export_aefi_queue_pending", "fhir_export_aefi_queue",
                    ["pushed_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_fhir_export_aefi_queue_pending", table_name="fhir_export_aefi_queue")
    op.drop_table("fhir_export_aefi_queue")
