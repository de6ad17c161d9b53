"""Applying one field record through the normal services (registration, vaccination), in
the caller's session; used by the sync (the device's staff member as actor) and by an
accepting review decision (the same, ``reviewed``: the field's own duplicate checks are
then skipped, the services' rules still hold)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta
from typing import Any, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import Conflict, InvalidInput, RuleViolation
from cowin_kit.core.i18n import gettext as _
from cowin_kit.core.validation import load
from cowin_kit.fieldsync import rules, schemas
from cowin_kit.fieldsync.models import FieldRecord, FieldReview
from cowin_kit.identity.models import StaffUser
from cowin_kit.registration import people
from cowin_kit.registration import schemas as registration_schemas
from cowin_kit.registration.models import Beneficiary, CitizenAccount, Dose
from cowin_kit.registration.services import parse_mobile
from cowin_kit.vaccination import queue, services as vaccination, visits

IDEMPOTENCY_PREFIX = "field:"


def _payload(schema: Any, payload: Mapping[str, Any]) -> dict[str, Any]:
    return load(schema, dict(payload))


def resolve_person(session: Session, value: str) -> str:
    """The reference ID a record's ``person`` names: itself, or that of the person a
    ``client:<id>`` register_person record registered (once accepted)."""
    client_id = rules.client_reference(value)
    if client_id is None:
        return str(value)
    row = session.scalars(select(FieldRecord).where(FieldRecord.client_id == client_id)).first()
    if row is None:
        raise RuleViolation(_("The person this record is about has not reached the server "
                              "yet: send their registration first."), code="person_unknown")
    if row.status == "accepted" and row.result.get("reference_id"):
        return str(row.result["reference_id"])
    if row.status == "conflict":
        review = session.scalars(select(FieldReview)
                                 .where(FieldReview.client_id == client_id)).first()
        if review is not None and review.outcome.get("reference_id"):
            return str(review.outcome["reference_id"])
        if review is not None and review.status == "open":
            raise Conflict(_("This person's registration waits for a supervisor's review."),
                           code="person_in_review")
    raise RuleViolation(_("The registration of this person was refused."),
                        code="person_refused")


def _day_bounds(pack: ActivePack, moment: datetime) -> tuple[datetime, datetime]:
    zone = zoneinfo.ZoneInfo(pack.document["timezone"])
    day = moment.astimezone(zone).date()
    start = datetime.combine(day, time(0), zone)
    return start, start + timedelta(days=1)


def _check_not_given_that_day(session: Session, pack: ActivePack, reference_id: str,
                              products: list[str], moment: datetime) -> None:
    """Conflict ``same_dose_other_device`` when the person already has a dose of one of
    ``products`` recorded on the same (local) day: two devices recorded the same dose."""
    start, end = _day_bounds(pack, moment)
    product_ids = [p.id for code in products
                   if (p := vaccination.vaccine_product(session, pack, code=code))]
    if not product_ids:
        return
    found = session.scalar(
        select(func.count()).select_from(Dose).join(Beneficiary,
                                                    Beneficiary.id == Dose.beneficiary_id)
        .where(Beneficiary.reference_id == reference_id, Dose.product_id.in_(product_ids),
               Dose.administered_at >= start, Dose.administered_at < end))
    if found:
        raise Conflict(_("This dose is already recorded for this person on that day, by "
                         "another device or at the facility."), code="same_dose_other_device")


def _check_not_registered(session: Session, pack: ActivePack, data: Mapping[str, Any]) -> None:
    """Conflict ``person_registered_twice`` when someone with the same name, date of birth
    and mobile number is registered already (two devices registered one person)."""
    try:
        mobile = parse_mobile(data["mobile"], pack)
    except (InvalidInput, RuleViolation):
        return  # the registration itself names the bad number
    name = " ".join(str(data["name"]).split())
    found = session.scalar(
        select(Beneficiary.reference_id).join(CitizenAccount,
                                              CitizenAccount.id == Beneficiary.account_id)
        .where(CitizenAccount.mobile == mobile, Beneficiary.birth_date == data["birth_date"],
               func.lower(Beneficiary.name) == name.lower()).limit(1))
    if found:
        raise Conflict(_("A person with this name, date of birth and mobile number is "
                         "already registered (%(reference_id)s).", reference_id=found),
                       code="person_registered_twice", reference_id=found)


def apply_record(session: Session, pack: ActivePack, actor: StaffUser, *, kind: str,
                 payload: Mapping[str, Any], client_id: str,
                 reviewed: bool = False) -> dict[str, Any]:
    """Apply one record; what to tell the device (``reference_id``, ``dose_ids``). The
    services commit (in the caller's transaction unit) or raise their DomainError."""
    if kind == "register_person":
        data = _payload(registration_schemas.PersonIn(), payload)
        if not reviewed:
            _check_not_registered(session, pack, data)
        pregnancy = data.pop("pregnancy")
        view = people.register_person(
            session, pack, actor,
            pregnancy=people.PregnancyFacts(**pregnancy) if pregnancy else None, **data)
        return {"reference_id": view.beneficiary.reference_id}
    if kind == "record_dose":
        data = _payload(schemas.DosePayload(), payload)
        reference_id = resolve_person(session, data["person"])
        facility = vaccination.staff_facility(session, actor, data["facility"])
        if not reviewed:
            _check_not_given_that_day(session, pack, reference_id, [data["product"]],
                                      data["administered_at"])
        recorded = vaccination.record_dose(
            session, pack, actor, facility=facility, reference_id=reference_id,
            product_code=data["product"], lot=data["lot"], secret_code=data["secret_code"],
            administered_at=data["administered_at"], dose_number=data["dose"],
            idempotency_key=IDEMPOTENCY_PREFIX + client_id)
        return {"reference_id": reference_id, "dose_ids": [recorded.dose.id]}
    if kind == "check_in":
        data = _payload(schemas.CheckInPayload(), payload)
        reference_id = resolve_person(session, data["person"])
        queue.check_in(session, actor, reference_id)
        return {"reference_id": reference_id}
    if kind == "report_aefi":
        data = _payload(schemas.AefiPayload(), payload)
        dose_id = data["dose_id"] or _dose_of_record(session, data["dose"])
        report = vaccination.report_aefi(
            session, actor, dose_id=dose_id, onset_at=data["onset_at"],
            symptoms=data["symptoms"], seriousness=data["seriousness"],
            outcome=data["outcome"], notes=data["notes"])
        return {"aefi_id": report.id}
    if kind == "record_visit":
        return _record_visit(session, pack, actor, payload, client_id, reviewed)
    raise InvalidInput(_("Unknown kind of record."), code="invalid_kind")


def _record_visit(session: Session, pack: ActivePack, actor: StaffUser,
                  payload: Mapping[str, Any], client_id: str,
                  reviewed: bool) -> dict[str, Any]:
    data = _payload(schemas.VisitPayload(), payload)
    reference_id = resolve_person(session, data["person"])
    if not reviewed:
        _check_not_given_that_day(session, pack, reference_id,
                                  [d["product"] for d in data["doses"]],
                                  data["administered_at"])
    visit = visits.record_visit(
        session, pack, actor, reference_id=reference_id,
        doses=[{k: v for k, v in d.items() if v is not None} for d in data["doses"]],
        administered_at=data["administered_at"], facility_code=data["facility"],
        idempotency_key=IDEMPOTENCY_PREFIX + client_id)
    return {"reference_id": reference_id, "dose_ids": [d.dose.id for d in visit.doses]}


def _dose_of_record(session: Session, value: str | None) -> int:
    """The dose a ``client:<id>`` record_dose (or record_visit: its first dose) recorded."""
    client_id = rules.client_reference(value)
    row = (session.scalars(select(FieldRecord).where(FieldRecord.client_id == client_id))
           .first() if client_id else None)
    if row is None:
        raise RuleViolation(_("The dose this report is about has not reached the server "
                              "yet: send it first."), code="person_unknown")
    ids = row.result.get("dose_ids") or []
    if not ids:
        review = session.scalars(select(FieldReview)
                                 .where(FieldReview.client_id == client_id)).first()
        ids = (review.outcome.get("dose_ids") or []) if review is not None else []
    if not ids:
        raise RuleViolation(_("The dose this report is about was not recorded."),
                            code="dose_not_recorded")
    return int(ids[0])
