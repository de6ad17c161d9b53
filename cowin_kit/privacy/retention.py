"""Retention: what the kit no longer needs is deleted by the worker (each hour, with the
reminders), on the periods of the RETENTION_* settings (docs/privacy.md):

- OTP transactions older than RETENTION_OTP_DAYS;
- outbox messages sent, failed or handled and older than RETENTION_MESSAGE_DAYS;
- the details of audit events older than RETENTION_AUDIT_DETAIL_DAYS (who did what to
  which record, when and through which channel stay);
- citizen accounts with nobody registered on them, created and last active more than
  RETENTION_ABANDONED_ACCOUNT_DAYS ago (with their OTPs, PIN, alerts and sessions).

On PostgreSQL, where the OTP and outbox tables are partitioned by month
(cowin_kit.core.partitioning, docs/partitioning.md), a month wholly past its period is
dropped as a partition (for the outbox: when none of its messages still waits to be sent);
the rows of the months that are not are deleted one by one as on SQLite. The audit trail
is partitioned too, but never dropped: audit events are records kept for ever.

Each run is one audit event (``privacy.purge``) with the counts, never identities."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from sqlalchemy import String, bindparam, cast, delete, exists, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.audit.models import AuditEvent
from cowin_kit.core import partitioning
from cowin_kit.channels.models import ChannelPin, InboundSms, UssdSession
from cowin_kit.corrections.models import Grievance
from cowin_kit.notifications.models import OutboxMessage
from cowin_kit.privacy.models import RetentionMark
from cowin_kit.registration.models import Beneficiary, CitizenAccount, OtpTransaction
from cowin_kit.scheduling.models import Appointment, SlotAlertSubscription
from cowin_kit.vaccination.models import AefiReport

log = logging.getLogger(__name__)

BATCH = 2000
FINISHED = ("sent", "failed")
AUDIT_JOB = "audit_details"


@dataclass(frozen=True)
class Periods:
    """Days each kind of row is kept (0: for ever, where allowed)."""
    otp_days: int = 30
    message_days: int = 90
    audit_detail_days: int = 730
    abandoned_account_days: int = 365

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "Periods":
        return cls(settings["RETENTION_OTP_DAYS"], settings["RETENTION_MESSAGE_DAYS"],
                   settings["RETENTION_AUDIT_DETAIL_DAYS"],
                   settings["RETENTION_ABANDONED_ACCOUNT_DAYS"])


@dataclass
class Purged:
    otps: int = 0
    messages: int = 0
    audit_details: int = 0
    accounts: int = 0

    def total(self) -> int:
        return self.otps + self.messages + self.audit_details + self.accounts


def purge(session: Session, periods: Periods, *, now: datetime | None = None) -> Purged:
    """Run every retention job once (the worker, and `cowin-kit privacy purge`)."""
    now = now or datetime.now(timezone.utc)
    done = Purged()
    if periods.otp_days > 0:
        cutoff = now - timedelta(days=periods.otp_days)
        done.otps = _drop_partitions(session, partitioning.BY_TABLE["otp_transaction"], cutoff)
        done.otps += session.execute(delete(OtpTransaction).where(
            OtpTransaction.created_at < cutoff)
            .execution_options(synchronize_session=False)).rowcount or 0
    if periods.message_days > 0:
        cutoff = now - timedelta(days=periods.message_days)
        done.messages = _drop_partitions(session, partitioning.BY_TABLE["message_outbox"],
                                         cutoff, _messages_all_finished)
        done.messages += _purge_messages(session, cutoff)
    session.commit()
    if periods.audit_detail_days > 0:
        done.audit_details = _purge_audit_details(
            session, now - timedelta(days=periods.audit_detail_days))
    if periods.abandoned_account_days > 0:
        done.accounts = _purge_abandoned(
            session, now - timedelta(days=periods.abandoned_account_days))
    if done.total():
        audit.record(session, "privacy.purge", "retention", "all", place=audit.NATIONAL,
                     **asdict(done))
        session.commit()
    return done


def _messages_all_finished(session: Session, partition: str) -> bool:
    """Whether a month's messages may go: none waits to be sent; the messages that name one
    of them as the one they repeat no longer do (as when rows are deleted)."""
    waiting = session.scalar(text(
        f'SELECT EXISTS (SELECT 1 FROM "{partition}" WHERE status NOT IN :finished)')
        .bindparams(bindparam("finished", value=list(FINISHED), expanding=True)))
    if waiting:
        return False
    session.execute(text(f'UPDATE message_outbox SET retry_of = NULL WHERE retry_of IN '
                         f'(SELECT id FROM "{partition}")'))
    return True


def _drop_partitions(session: Session, spec: partitioning.Spec, cutoff: datetime,
                     may_drop=None) -> int:
    """Drop the table's monthly partitions wholly older than ``cutoff`` (PostgreSQL, a
    partitioned table; else nothing). Each in its own short transaction: a partition the
    lock cannot be had for within seconds waits for the next run. Returns the rows gone."""
    session.commit()
    if not partitioning.is_partitioned(session.connection(), spec.table):
        return 0
    gone = 0
    for name in partitioning.droppable(session.connection(), spec, cutoff):
        try:
            session.execute(text("SET LOCAL lock_timeout = '5s'"))
            if may_drop is not None and not may_drop(session, name):
                session.rollback()
                continue
            gone += partitioning.drop_partition(session.connection(), spec, name)
            session.commit()
        except OperationalError:
            session.rollback()
            log.warning("retention: partition %s busy; dropped next time", name)
    return gone


def _purge_messages(session: Session, cutoff: datetime) -> int:
    old = select(OutboxMessage.id).where(OutboxMessage.created_at < cutoff,
                                         OutboxMessage.status.in_(FINISHED))
    session.execute(update(OutboxMessage).where(OutboxMessage.retry_of.in_(old))
                    .values(retry_of=None).execution_options(synchronize_session=False))
    return session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(old))
                           .execution_options(synchronize_session=False)).rowcount or 0


def kept_detail(details: dict[str, Any] | None) -> dict[str, Any]:
    """What stays of an audit event's details once their time is up: the channel."""
    details = details or {}
    return {"channel": details["channel"]} if "channel" in details else {}


def _purge_audit_details(session: Session, cutoff: datetime) -> int:
    """Details of the events from the last run's cutoff up to this one's, in batches."""
    mark = session.get(RetentionMark, AUDIT_JOB)
    since = mark.done_until if mark is not None else None
    changed, last_id = 0, 0
    while True:
        query = select(AuditEvent.id, AuditEvent.details).where(
            AuditEvent.occurred_at < cutoff, AuditEvent.id > last_id)
        if since is not None:
            query = query.where(AuditEvent.occurred_at >= since)
        rows = session.execute(query.order_by(AuditEvent.id).limit(BATCH)).all()
        if not rows:
            break
        for row in rows:
            kept = kept_detail(row.details)
            if kept != (row.details or {}):
                session.execute(update(AuditEvent).where(AuditEvent.id == row.id)
                                .values(details=kept)
                                .execution_options(synchronize_session=False))
                changed += 1
        last_id = rows[-1].id
        session.commit()
    if mark is None:
        session.add(RetentionMark(job=AUDIT_JOB, done_until=cutoff))
    elif cutoff > mark.done_until:
        mark.done_until = cutoff
    session.commit()
    return changed


def delete_account(session: Session, account: CitizenAccount) -> None:
    """Delete an account that has nobody on it, with what hangs on it (no commit)."""
    mobile = account.mobile
    for model, column in ((OtpTransaction, OtpTransaction.account_id),
                          (ChannelPin, ChannelPin.account_id),
                          (SlotAlertSubscription, SlotAlertSubscription.account_id),
                          (Grievance, Grievance.account_id),
                          (Appointment, Appointment.account_id)):
        session.execute(delete(model).where(column == account.id)
                        .execution_options(synchronize_session=False))
    session.execute(delete(OtpTransaction).where(OtpTransaction.mobile == mobile)
                    .execution_options(synchronize_session=False))
    session.execute(delete(UssdSession).where(UssdSession.mobile == mobile)
                    .execution_options(synchronize_session=False))
    session.execute(update(InboundSms).where(InboundSms.account_id == account.id)
                    .values(account_id=None).execution_options(synchronize_session=False))
    session.execute(update(AefiReport).where(AefiReport.reporter_account_id == account.id)
                    .values(reporter_account_id=None)
                    .execution_options(synchronize_session=False))
    session.execute(delete(CitizenAccount).where(CitizenAccount.id == account.id)
                    .execution_options(synchronize_session=False))


def _purge_abandoned(session: Session, cutoff: datetime) -> int:
    active = exists().where(AuditEvent.object_type == "citizen_account",
                            AuditEvent.object_id == cast(CitizenAccount.id, String),
                            AuditEvent.occurred_at >= cutoff)
    recent_otp = exists().where(OtpTransaction.mobile == CitizenAccount.mobile,
                                OtpTransaction.created_at >= cutoff)
    people = exists().where(Beneficiary.account_id == CitizenAccount.id)
    removed = 0
    while True:
        accounts = list(session.scalars(select(CitizenAccount).where(
            CitizenAccount.created_at < cutoff, ~people, ~active, ~recent_otp)
            .order_by(CitizenAccount.id).limit(BATCH)))
        if not accounts:
            return removed
        for account in accounts:
            delete_account(session, account)
        session.commit()
        session.expunge_all()
        removed += len(accounts)
