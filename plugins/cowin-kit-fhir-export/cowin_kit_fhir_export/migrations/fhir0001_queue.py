"""fhir-export: the queue of doses to push

Revision ID: fhir0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "fhir0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fhir_export_queue",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dose_id", sa.Integer, sa.ForeignKey("dose.id", ondelete="CASCADE",
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
