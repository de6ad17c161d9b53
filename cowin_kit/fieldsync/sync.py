"""The upload of a device's offline records: each in its own unit of work, in the order
sent, exactly once per client id.

A record is first claimed by inserting its ``field_record`` row (client id unique); the
service then runs in the same transaction (its commit is a savepoint), and the row gets
the result; one commit makes the record's changes and its row durable together. A record
sent again finds the row and is answered "duplicate" with what the first processing
answered. Two uploads of the same record at once: the second's insert waits on the
first's uncommitted row (PostgreSQL) and then fails, so it answers "duplicate" too; a
batch cut in the middle and sent again replays its first part as duplicates.

Refusals that a supervisor must judge (``rules.CONFLICT_CODES``) become a review
(``field_review``) in the same unit; other refusals go back to the device with the
service's stable code and message (in the request's language)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import DomainError
from cowin_kit.core.security import keyring
from cowin_kit.fieldsync import rules
from cowin_kit.fieldsync.apply import apply_record
from cowin_kit.fieldsync.models import FieldRecord, FieldReview
from cowin_kit.fieldsync.unit import Unit, unit_of_work
from cowin_kit.geography.models import Facility, Location
from cowin_kit.identity.models import StaffUser


@dataclass(frozen=True)
class Incoming:
    client_id: str
    kind: str
    recorded_at: datetime
    payload: Mapping[str, Any]


def sync(session: Session, pack: ActivePack, actor: StaffUser, *, device_id: str,
         records: Sequence[Incoming]) -> list[dict[str, Any]]:
    """Process ``records`` of ``device_id`` uploaded by ``actor``: a result per record,
    in order (``client_id``, ``status``, ``code``, ``message``, and ``reference_id``,
    ``dose_ids``, ``review_id`` where they apply)."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    session.commit()  # the request's own reads end here; each record has its own unit
    return [_one(engine, pack, actor.id, device_id, record) for record in records]


def _stored(engine: Engine, client_id: str) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(select(FieldRecord.status, FieldRecord.result)
                                 .where(FieldRecord.client_id == client_id)).one()
    result = dict(row.result)
    result.update(client_id=client_id, status="duplicate", first_status=row.status)
    result.setdefault("code", None)
    result.setdefault("message", None)
    return result


def _one(engine: Engine, pack: ActivePack, actor_id: int, device_id: str,
         record: Incoming) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    with unit_of_work(engine) as unit:
        try:
            unit.connection.execute(insert(FieldRecord.__table__).values(
                client_id=record.client_id, device_id=device_id, kind=record.kind,
                status="accepted", staff="", result={}, created_at=now))
        except IntegrityError:
            unit.rollback()
            return _stored(engine, record.client_id)
        session = unit.session
        actor = session.get(StaffUser, actor_id)
        assert actor is not None
        try:
            extra = apply_record(session, pack, actor, kind=record.kind,
                                 payload=record.payload, client_id=record.client_id)
            status, code, message, fields = "accepted", None, None, None
        except DomainError as exc:
            session.rollback()
            code, message, fields = exc.code, str(exc.message), exc.fields or None
            if rules.is_retryable(code):
                unit.rollback()  # not remembered: the device may send it again
                return {"client_id": record.client_id, "status": "refused", "code": code,
                        "message": message}
            if rules.is_conflict(code):
                review = _open_review(session, device_id, actor, record, code, message, exc)
                status, extra = "conflict", {"review_id": review.id}
            else:
                status, extra = "refused", {}
        result: dict[str, Any] = {"code": code, "message": message, **extra}
        if fields:
            result["fields"] = {name: [str(m) for m in messages]
                                for name, messages in fields.items()}
        session.execute(update(FieldRecord).where(FieldRecord.client_id == record.client_id)
                        .values(status=status, staff=actor.username, result=result))
        unit.commit()
    return {"client_id": record.client_id, "status": status, **result}


def _codes(session: Session, payload: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """The facility and area a record concerns (for the supervisors who see it)."""
    facility_id = location_id = None
    if payload.get("facility"):
        facility = session.scalars(select(Facility)
                                   .where(Facility.code == str(payload["facility"]))).first()
        if facility is not None:
            facility_id, location_id = facility.id, facility.location_id
    if payload.get("location"):
        location = session.scalars(select(Location)
                                   .where(Location.code == str(payload["location"]))).first()
        if location is not None:
            location_id = location.id
    return facility_id, location_id


def _open_review(session: Session, device_id: str, actor: StaffUser, record: Incoming,
                 code: str, message: str, exc: DomainError) -> FieldReview:
    payload, id_number = rules.masked_payload(record.kind, _plain(record.payload))
    facility_id, location_id = _codes(session, payload)
    if facility_id is None:  # the worker's own facility, as the services default to it
        facility_ids = {g.facility_id for g in actor.grants if g.facility_id is not None}
        if len(facility_ids) == 1:
            facility_id = facility_ids.pop()
    review = FieldReview(
        client_id=record.client_id, device_id=device_id, kind=record.kind, payload=payload,
        id_number_encrypted=keyring().encrypt(id_number) if id_number else None,
        reason=code, message=message, staff=actor.username, facility_id=facility_id,
        location_id=location_id, status="open",
        outcome={"existing_reference_id": exc.params["reference_id"]}
        if exc.params.get("reference_id") else {})
    session.add(review)
    session.flush()
    audit.record(session, "field.conflict", "field_review", review.id,
                 place=audit.at(review.location_id, review.facility_id), kind=record.kind,
                 reason=code, device=device_id, by=actor.username)
    session.commit()
    return review


def _plain(value: Any) -> Any:
    """The payload as JSON can hold it (dates and times as ISO text)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
