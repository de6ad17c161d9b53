"""vaccine safety: AEFI reports with WHO's core variables (reactions, seriousness
criteria, date of death, medical history, citizen reporters) and their investigation
(status, stage, causality); the suspected doses, investigation steps and serious-case
alerts

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-20 10:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('aefi_report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reactions', _json(), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('serious_criteria', _json(), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('died_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('medical_history', sa.String(length=2000),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('reporter_type', sa.String(length=16), nullable=False,
                                      server_default='staff'))
        batch_op.add_column(sa.Column('reporter_account_id', sa.Integer(), nullable=True))
        # reports filed before: open, waiting for the first stage of the pack
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False,
                                      server_default='open'))
        batch_op.add_column(sa.Column('stage', sa.String(length=32), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('causality', sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_aefi_report_reporter_account_id_citizen_account'),
            'citizen_account', ['reporter_account_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_aefi_report_reporter_account_id'),
                              ['reporter_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_aefi_report_status'), ['status'], unique=False)

    op.create_table(
        'aefi_report_dose',
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('dose_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['report_id'], ['aefi_report.id'],
                                name=op.f('fk_aefi_report_dose_report_id_aefi_report'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['dose_id'], ['dose.id'],
                                name=op.f('fk_aefi_report_dose_dose_id_dose'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('report_id', 'dose_id', name=op.f('pk_aefi_report_dose')),
    )
    with op.batch_alter_table('aefi_report_dose', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_aefi_report_dose_dose_id'), ['dose_id'],
                              unique=False)
    # every existing report names its own dose
    op.execute("INSERT INTO aefi_report_dose (report_id, dose_id) "
               "SELECT id, dose_id FROM aefi_report")

    op.create_table(
        'aefi_step',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=32), nullable=False),
        sa.Column('actor', sa.String(length=150), nullable=False),
        sa.Column('role', sa.String(length=32), nullable=False),
        sa.Column('findings', sa.String(length=4000), nullable=False),
        sa.Column('causality', sa.String(length=4), nullable=True),
        sa.Column('outcome', sa.String(length=24), nullable=True),
        sa.Column('next_stage', sa.String(length=32), nullable=False),
        sa.Column('status_after', sa.String(length=16), nullable=False),
        sa.Column('acted_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['report_id'], ['aefi_report.id'],
                                name=op.f('fk_aefi_step_report_id_aefi_report'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_aefi_step')),
    )
    with op.batch_alter_table('aefi_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_aefi_step_report_id'), ['report_id'],
                              unique=False)

    op.create_table(
        'aefi_alert',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=True),
        sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('acknowledged_by', sa.String(length=150), nullable=True),
        sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['report_id'], ['aefi_report.id'],
                                name=op.f('fk_aefi_alert_report_id_aefi_report'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['location_id'], ['location.id'],
                                name=op.f('fk_aefi_alert_location_id_location')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_aefi_alert')),
        sa.UniqueConstraint('report_id', name=op.f('uq_aefi_alert_report_id')),
    )
    with op.batch_alter_table('aefi_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_aefi_alert_location_id'), ['location_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('aefi_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_aefi_alert_location_id'))
    op.drop_table('aefi_alert')
    with op.batch_alter_table('aefi_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_aefi_step_report_id'))
    op.drop_table('aefi_step')
    with op.batch_alter_table('aefi_report_dose', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_aefi_report_dose_dose_id'))
    op.drop_table('aefi_report_dose')
    with op.batch_alter_table('aefi_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_aefi_report_status'))
        batch_op.drop_index(batch_op.f('ix_aefi_report_reporter_account_id'))
        batch_op.drop_constraint(
            batch_op.f('fk_aefi_report_reporter_account_id_citizen_account'),
            type_='foreignkey')
        for column in ('closed_at', 'causality', 'stage', 'status', 'reporter_account_id',
                       'reporter_type', 'medical_history', 'died_on', 'serious_criteria',
                       'reactions'):
            batch_op.drop_column(column)
