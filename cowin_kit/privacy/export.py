"""A person's data export: everything the kit holds about the people of one account (the
citizen's own export) or about one person (staff, on the person's request), as one JSON
document; cowin_kit.privacy.export_pdf prints the same document.

What is in it: the account (the mobile in full only in the citizen's own export), each
person (ID numbers masked as everywhere else: an export file leaves the system, and the
person holds the document itself), their appointments, doses, certificates (the list:
each certificate itself is downloaded from the record page), AEFI reports, grievances, and
the audit trail of who read or changed their records (staff by user name). Every export
is itself audited (``privacy.export``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.audit.models import AuditEvent
from cowin_kit.certificates.models import Certificate
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.corrections.models import Grievance
from cowin_kit.geography.models import Facility
from cowin_kit.identity import access
from cowin_kit.identity.models import Gender, IdDocumentType, StaffUser
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import Beneficiary, CitizenAccount, Dose
from cowin_kit.registration.rules import masked_id
from cowin_kit.scheduling.models import Appointment, SessionSlot, VaccinationSession
from cowin_kit.vaccination.models import AefiReport
from cowin_kit.geography.places import person_place

ACTION = "person.export"
FORMAT_VERSION = 1
AUDIT_LIMIT = 5000  # the newest events about the records, should a record have more


def masked_mobile(mobile: str) -> str:
    return "*" * max(len(mobile) - 4, 0) + mobile[-4:]


@dataclass(frozen=True)
class Export:
    """The export (``document``, JSON-ready) and what the PDF needs besides it."""
    document: dict[str, Any]
    locale: str


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return value.isoformat() if hasattr(value, "isoformat") else value


def _names(session: Session, model: Any, ids: Iterable[int | None]) -> dict[int, Any]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(wanted)))}


def _label(labels: dict[str, str] | None, locale: str, fallback: str) -> str:
    labels = labels or {}
    return labels.get(locale) or labels.get("en") or fallback


def _person(session: Session, person: Beneficiary, locale: str) -> dict[str, Any]:
    gender = session.get(Gender, person.gender_id)
    id_type = session.get(IdDocumentType, person.id_type_id) if person.id_type_id else None
    doses = list(session.scalars(select(Dose).where(Dose.beneficiary_id == person.id)
                                 .order_by(Dose.administered_at, Dose.id)))
    products = _names(session, VaccineProduct, (d.product_id for d in doses))
    appointments = list(session.execute(
        select(Appointment, VaccinationSession.session_date, VaccinationSession.facility_id,
               SessionSlot.starts_at, SessionSlot.ends_at)
        .join(VaccinationSession, VaccinationSession.id == Appointment.session_id)
        .join(SessionSlot, SessionSlot.id == Appointment.slot_id)
        .where(Appointment.beneficiary_id == person.id).order_by(Appointment.created_at)))
    facilities = _names(session, Facility, [d.facility_id for d in doses]
                        + [row.facility_id for row in appointments])
    certificates = list(session.scalars(select(Certificate).where(
        Certificate.beneficiary_id == person.id).order_by(Certificate.issued_at)))
    reports = list(session.scalars(select(AefiReport).where(
        AefiReport.dose_id.in_([d.id for d in doses] or [-1])).order_by(AefiReport.id)))

    def facility(fid: int | None) -> str | None:
        row = facilities.get(fid) if fid is not None else None
        return _label(row.names, locale, row.name) if row is not None else None

    return {
        "reference_id": person.reference_id, "name": person.name,
        "birth_year": person.birth_year, "birth_date": _iso(person.birth_date),
        "gender": gender.code if gender else None,
        "id_type": id_type.code if id_type else None,
        "id_number_masked": masked_id(person.id_number_last4) or None,
        "guardian_name": person.guardian_name, "guardian_relation": person.guardian_relation,
        "registered_by": person.registered_by or "self",
        "registered_at": _iso(person.created_at), "updated_at": _iso(person.updated_at),
        "consent_version": person.consent_version,
        "appointments": [{
            "id": a.Appointment.id, "date": _iso(a.session_date),
            "time": f"{a.starts_at:%H:%M}-{a.ends_at:%H:%M}",
            "facility": facility(a.facility_id), "dose": a.Appointment.dose_number,
            "status": a.Appointment.status, "booked_at": _iso(a.Appointment.created_at),
        } for a in appointments],
        "doses": [{
            "id": d.id, "given_at": _iso(d.administered_at),
            "vaccine": _label(products[d.product_id].names, locale, products[d.product_id].code)
            if d.product_id in products else None,
            "series": d.series or None, "dose": d.dose_number, "lot": d.lot,
            "facility": facility(d.facility_id), "vaccinator": d.vaccinator or None,
            "source": d.source,
        } for d in doses],
        "certificates": [{
            "id": c.id, "issued_at": _iso(c.issued_at), "expires_at": _iso(c.expires_at),
            "provisional": c.provisional, "revoked_at": _iso(c.revoked_at),
            "superseded_at": _iso(c.superseded_at),
        } for c in certificates],
        "aefi_reports": [{
            "id": r.id, "dose_id": r.dose_id, "onset_at": _iso(r.onset_at),
            "symptoms": list(r.symptoms or []), "reactions": list(r.reactions or []),
            "seriousness": r.seriousness, "outcome": r.outcome, "status": r.status,
            "reported_at": _iso(r.reported_at), "reporter_type": r.reporter_type,
        } for r in reports],
    }


def _audit(session: Session, account: CitizenAccount | None, people: list[Beneficiary],
           appointment_ids: list[str]) -> list[dict[str, Any]]:
    about = [and_(AuditEvent.object_type == "beneficiary",
                  AuditEvent.object_id.in_([p.reference_id for p in people] or ["-"]))]
    if appointment_ids:
        about.append(and_(AuditEvent.object_type == "appointment",
                          AuditEvent.object_id.in_(appointment_ids)))
    if account is not None:
        about.append(and_(AuditEvent.object_type == "citizen_account",
                          AuditEvent.object_id == str(account.id)))
    events = session.scalars(select(AuditEvent).where(or_(*about))
                             .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
                             .limit(AUDIT_LIMIT))
    return [{"at": _iso(e.occurred_at),
             "who": "you" if e.actor_type == "citizen" and account is not None
             and e.actor_id == str(account.id) else f"{e.actor_type}:{e.actor_id}",
             "action": e.action, "record": f"{e.object_type}:{e.object_id}",
             "channel": (e.details or {}).get("channel")} for e in events]


def _grievances(session: Session, account: CitizenAccount | None,
                people: list[Beneficiary]) -> list[dict[str, Any]]:
    if account is not None:
        where = Grievance.account_id == account.id
    else:
        where = Grievance.beneficiary_id.in_([p.id for p in people] or [-1])
    return [{"id": g.id, "about": next((p.reference_id for p in people
                                        if p.id == g.beneficiary_id), None),
             "category": g.category, "description": g.description, "status": g.status,
             "answer": g.answer or None, "opened_at": _iso(g.created_at),
             "closed_at": _iso(g.closed_at)}
            for g in session.scalars(select(Grievance).where(where).order_by(Grievance.id))]


def _controller(pack: ActivePack, locale: str) -> str:
    """Who holds the data: the pack's name of the programme or country."""
    name = pack.document.get("name")
    if isinstance(name, dict):
        return _label(name, locale, pack.code)
    return str(name or pack.code)


def _document(session: Session, pack: ActivePack, account: CitizenAccount | None,
              people: list[Beneficiary], locale: str, *, full_mobile: bool,
              requested_by: str) -> dict[str, Any]:
    persons = [_person(session, p, locale) for p in people]
    appointment_ids = [a["id"] for p in persons for a in p["appointments"]]
    return {
        "format": "cowin-kit/person-export", "version": FORMAT_VERSION,
        "generated_at": _iso(datetime.now(timezone.utc)),
        "controller": _controller(pack, locale),
        "requested_by": requested_by,
        "account": None if account is None else {
            "mobile": account.mobile if full_mobile else masked_mobile(account.mobile),
            "language": account.locale, "created_at": _iso(account.created_at),
            "reminders": not account.reminders_opt_out,
        },
        "people": persons,
        "grievances": _grievances(session, account, people),
        "audit": _audit(session, account, people, appointment_ids),
    }


def _scope(session: Session, person: Beneficiary) -> access.Scope:
    """Where the person belongs: their registered area, else the place of the facility of
    their latest dose; the whole country (national grants only) when neither is known."""
    location_id = person.location_id or session.scalar(
        select(Facility.location_id).join(Dose, Dose.facility_id == Facility.id)
        .where(Dose.beneficiary_id == person.id).order_by(Dose.administered_at.desc())
        .limit(1))
    if location_id is None:
        return access.COUNTRY
    return access.scope_for_location(session, location_id)


def citizen_export(session: Session, pack: ActivePack, account: CitizenAccount,
                   *, fmt: str = "json") -> Export:
    """The signed-in citizen's export: their account and everyone on it."""
    people = list(session.scalars(select(Beneficiary).where(
        Beneficiary.account_id == account.id, Beneficiary.merged_into_id.is_(None))
        .order_by(Beneficiary.id)))
    locale = account.locale if account.locale in pack.locales else pack.default_locale
    document = _document(session, pack, account, people, locale, full_mobile=True,
                         requested_by="self")
    audit.record(session, "privacy.export", "citizen_account", account.id,
                 place=audit.NATIONAL, format=fmt,
                 people=len(people))
    session.commit()
    return Export(document, locale)


def person_export(session: Session, pack: ActivePack, actor: StaffUser | None,
                  reference_id: str, *, fmt: str = "json", locale: str | None = None
                  ) -> Export:
    """One person's export for staff acting on the person's request (``person.export``
    on the person's area; None is the server's operator, the CLI). The account's mobile
    is masked; other people of the account are not in it."""
    person = session.scalars(select(Beneficiary).where(
        Beneficiary.reference_id == reference_id.strip())).first()
    if person is None:
        raise NotFound(_("No person has this reference ID."), code="beneficiary_not_found")
    if actor is not None:
        access.check_access(actor, ACTION, _scope(session, person))
    account = session.get(CitizenAccount, person.account_id)
    chosen = locale if locale in pack.locales else pack.default_locale
    document = _document(session, pack, account, [person], chosen, full_mobile=False,
                         requested_by="operator" if actor is None else f"staff:{actor.username}")
    audit.record(session, "privacy.export", "beneficiary", person.reference_id,
                 place=person_place(session, person), format=fmt)
    session.commit()
    return Export(document, chosen)
