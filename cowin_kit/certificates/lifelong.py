"""A person's life-long immunization record: every dose they were given, in every series
(the appointment-booked COVID-19 series and the routine schedules), and what is due next.

- :func:`build` reads the person's doses and judges the routine ones with
  :func:`cowin_kit.programme.due.evaluate` (as of a day): each routine dose is labelled with
  the dose it counted as in its schedule ("dose 2", a booster), or as not counted (given
  too early, a duplicate) or as an extra dose beyond the schedule; booked-series doses keep
  their "dose x of y". The pending doses (due, overdue, upcoming) come with their dates.
- :func:`history` turns the record into the credential content
  (:class:`~cowin_kit.certificates.record.ImmunizationHistory`), and :func:`sign_shc` /
  :func:`sign_vc` sign it with this instance's current keys (on demand: the record
  changes with every dose, so it is not stored; each signing is audited).
- :func:`for_citizen` and :func:`for_staff` find the person for whoever asks: the citizen
  only their own household's members; staff (a vaccinator, a health worker who registers
  people, or an administrator who reads reports) only people their grants reach — the person's home area or facility, or a
  facility where the person was vaccinated (a person with neither: national grants only).

People registered without a birth date (adults of the booked flows, birth year only) are
evaluated as born on 1 January of that year.
"""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.certificates.formats import shc, vc
from cowin_kit.certificates.record import (
    CertificateInfo, Identifier, ImmunizationHistory, Vaccination,
)
from cowin_kit.certificates.services import Signers, keystore, split_name
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.db import new_uuid
from cowin_kit.core.errors import NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.geography.models import Facility
from cowin_kit.geography.places import person_place
from cowin_kit.identity import access
from cowin_kit.identity.models import IdDocumentType, StaffUser
from cowin_kit.idnumbers import mask_id_number
from cowin_kit.programme import catalogue, due
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration import reads
from cowin_kit.registration.duefacts import due_facts
from cowin_kit.registration.models import (
    BOOKED_SERIES, Beneficiary, CitizenAccount, Dose,
)
from cowin_kit.vaccination.rules import total_doses

# what a recorded dose is, on the record
COUNTED = "counted"          # counted as a dose of its schedule (or of the booked series)
NOT_COUNTED = due.NOT_COUNTED  # recorded, but did not count (too early, duplicate)
EXTRA = "extra"              # beyond the last dose of its schedule
PENDING = (due.OVERDUE, due.DUE, due.UPCOMING)
STAFF_ACTIONS = ("beneficiary.verify", "people.register", "report.read")


@dataclass(frozen=True)
class RecordDose:
    """One dose given, as the record shows it (names already in the record's language)."""

    dose_id: int
    series: str                 # "" booked series, else the routine schedule's code
    day: date                   # the day given, in the pack's time zone
    product_code: str
    product: str                # the product's name in the locale
    manufacturer: str
    antigens: tuple[str, ...]
    codes: dict[str, str]
    lot: str
    facility: str               # in the locale ("" imported without a facility)
    facility_address: str
    vaccinator: str
    kind: str                   # COUNTED | NOT_COUNTED | EXTRA
    dose: int | None            # the dose it counted as (None unless COUNTED)
    total: int | None           # doses of the series (booked series: the primary series)
    booster: bool
    schedule: str               # the schedule's disease in the locale ("" unknown)
    label: str                  # "Dose 2 of 3", "Booster", "Not counted"...
    target_disease: str = ""


@dataclass(frozen=True)
class NextDose:
    """A dose still to give: the first pending dose of each routine schedule."""

    schedule_code: str
    schedule: str               # the disease in the locale
    dose: int
    status: str                 # due | overdue | upcoming
    earliest: date | None
    due: date | None
    latest: date | None
    booster: bool
    products: tuple[str, ...]   # product codes the dose accepts
    product_names: tuple[str, ...]
    label: str
    target_disease: str = ""


@dataclass(frozen=True)
class LifelongRecord:
    reference_id: str
    name: str
    birth_date: date | None
    birth_year: int
    identifier: Identifier | None   # masked; None: registered without an ID document
    on: date
    locale: str
    doses: tuple[RecordDose, ...]
    next: tuple[NextDose, ...]
    statuses: tuple[due.DoseStatus, ...]  # the full evaluation (routine schedules)


def _localized(names: dict[str, str] | None, locale: str, default: str = "") -> str:
    names = names or {}
    return (names.get(locale) or names.get(locale.split("_")[0]) or default
            or next(iter(names.values()), ""))


@functools.lru_cache(maxsize=16)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def today(pack: ActivePack) -> date:
    return datetime.now(_zone(pack.document["timezone"])).date()


def _identifier(session: Session, person: Beneficiary) -> Identifier | None:
    if person.id_type_id is None or not person.id_number_last4:
        return None
    code = session.scalar(select(IdDocumentType.code)
                          .where(IdDocumentType.id == person.id_type_id))
    return Identifier(code or "", mask_id_number("0" * 8 + person.id_number_last4))


def _labels(locale: str) -> dict[str, Any]:
    with force_locale(locale):
        return {
            "not_counted": _("Not counted"),
            "extra": _("Extra dose"),
            "booster": _("Booster"),
            "dose_of": lambda dose, total: _("Dose %(dose)s of %(total)s", dose=dose,
                                             total=total),
            "dose": lambda dose: _("Dose %(dose)s", dose=dose),
        }


def build(session: Session, pack: ActivePack, person: Beneficiary, *, locale: str,
          on: date | None = None) -> LifelongRecord:
    """The person's record as of ``on`` (default: today in the pack's time zone: doses
    given later are not on it), its texts in ``locale``."""
    on = on or today(pack)
    zone = _zone(pack.document["timezone"])
    products = {p.id: p for p in catalogue.products(session, pack)}
    by_code = {p.code: p for p in products.values()}
    schedules = list(catalogue.schedules(session, pack))
    routine = [s for s in schedules if s.routine]
    by_schedule = {s.code: s for s in schedules}
    rows = list(session.scalars(select(Dose).where(Dose.beneficiary_id == person.id)
                                .order_by(Dose.administered_at, Dose.id)))
    facilities = {f.id: f for f in session.scalars(select(Facility).where(
        Facility.id.in_({d.facility_id for d in rows if d.facility_id is not None})))}
    for row in rows:  # a product installed after the snapshot of the pack
        if row.product_id not in products:
            products[row.product_id] = session.get(VaccineProduct, row.product_id)
    days = {row.id: row.administered_at.replace(tzinfo=row.administered_at.tzinfo
                                                 or timezone.utc).astimezone(zone).date()
            for row in rows}
    rows = [row for row in rows if days[row.id] <= on]  # the record as of ``on``
    history = [due.Given(products[row.product_id].code, days[row.id], ref=row.id)
               for row in rows if row.series != BOOKED_SERIES]
    routine_settings = pack.routine
    statuses = due.evaluate(routine, history=history, on=on,
                            overdue_after=routine_settings.overdue_after,
                            default_grace=routine_settings.grace,
                            **due_facts(session, pack, person).evaluate_kwargs()
                            ) if routine else []
    # how each routine dose was judged: in its own series first, else where it counted
    series_of = {row.id: row.series for row in rows}

    def rank(status: due.DoseStatus) -> tuple[bool, bool]:
        return (status.schedule != series_of.get(status.given.ref),  # type: ignore[union-attr]
                status.status != due.DONE)

    judged: dict[int, due.DoseStatus] = {}
    for status in statuses:
        if status.given is None or status.status not in (due.DONE, due.NOT_COUNTED):
            continue
        known = judged.get(status.given.ref)  # type: ignore[arg-type]
        if known is None or rank(status) < rank(known):
            judged[status.given.ref] = status  # type: ignore[index]
    labels = _labels(locale)
    doses = []
    for row in rows:
        product = products[row.product_id]
        facility = facilities.get(row.facility_id)
        if row.series == BOOKED_SERIES:
            schedule = next((s for s in schedules if product.code in s.products), None)
            total = max(total_doses(schedule) if schedule else row.dose_number,
                        row.dose_number)
            kind, number, booster = COUNTED, row.dose_number, row.dose_number > total
            label = labels["dose_of"](row.dose_number, total)
        else:
            status = judged.get(row.id)
            schedule = by_schedule.get(status.schedule if status else row.series)
            rule_doses = len(schedule.doses) if schedule is not None else None
            total = rule_doses
            if status is None:
                kind, number, booster, label = EXTRA, None, False, labels["extra"]
            elif status.status == due.NOT_COUNTED:
                kind, number, booster, label = (NOT_COUNTED, None, False,
                                                labels["not_counted"])
            else:
                kind, number, booster = COUNTED, status.dose, status.booster
                label = (labels["booster"] if booster else
                         labels["dose_of"](status.dose, total) if total
                         else labels["dose"](status.dose))
        doses.append(RecordDose(
            dose_id=row.id, series=row.series, day=days[row.id], product_code=product.code,
            product=_localized(product.names, locale, product.code),
            manufacturer=product.manufacturer or "",
            antigens=tuple(product.antigens or ()), codes=dict(product.codes or {}),
            lot=row.lot or "",
            facility=_localized(facility.names, locale, facility.name) if facility else "",
            facility_address=(facility.address or "") if facility else "",
            vaccinator=row.vaccinator or "", kind=kind, dose=number, total=total,
            booster=booster,
            schedule=_localized(schedule.disease, locale, schedule.code) if schedule else "",
            target_disease=schedule.target_disease if schedule else "", label=label))
    return LifelongRecord(
        reference_id=person.reference_id, name=person.name, birth_date=person.birth_date,
        birth_year=person.birth_year, identifier=_identifier(session, person), on=on,
        locale=locale, doses=tuple(doses),
        next=tuple(_next_doses(statuses, by_schedule, by_code, locale, labels, on)),
        statuses=tuple(statuses))


def _next_doses(statuses: list[due.DoseStatus], schedules: dict[str, Any],
                products: dict[str, Any], locale: str, labels: dict[str, Any],
                on: date) -> list[NextDose]:
    """The first pending dose of each schedule (instance), the most urgent first."""
    seen: set[tuple[str, Any]] = set()
    out = []
    for status in due.urgent_first(statuses):
        key = (status.schedule, status.pregnancy)
        if status.status not in PENDING or key in seen:
            continue
        if any(s.schedule == status.schedule and s.pregnancy == status.pregnancy
               and s.status in PENDING and s.dose < status.dose for s in statuses):
            continue  # an earlier dose of the schedule is pending: that one is next
        seen.add(key)
        schedule = schedules[status.schedule]
        rule = due.schedule_rule(schedule)
        dose_rule = next((d for d in rule.doses if d.number == status.dose), None)
        accepted = tuple(dose_rule.products if dose_rule and dose_rule.products
                         else rule.products)
        total = len(rule.doses)
        out.append(NextDose(
            schedule_code=status.schedule,
            schedule=_localized(schedule.disease, locale, schedule.code), dose=status.dose,
            status=status.status, earliest=status.earliest, due=status.due,
            latest=status.latest, booster=status.booster, products=accepted,
            product_names=tuple(_localized(products[c].names, locale, c) if c in products
                                else c for c in accepted),
            label=labels["booster"] if status.booster else labels["dose_of"](status.dose,
                                                                               total),
            target_disease=schedule.target_disease))
    return out


# --- who may read it ----------------------------------------------------------------------

def _not_found() -> NotFound:
    return NotFound(_("No such person in this account."), code="beneficiary_not_found")


def for_citizen(session: Session, account: CitizenAccount, reference_id: str) -> Beneficiary:
    """The account's member ``reference_id`` (NotFound for anyone else's)."""
    person = session.scalars(select(Beneficiary).where(
        Beneficiary.reference_id == str(reference_id),
        Beneficiary.account_id == account.id)).first()
    if person is None:
        raise _not_found()
    return person


def for_staff(session: Session, actor: StaffUser, reference_id: str, *,
              reason: str | None = None, view: str = "record") -> Beneficiary:
    """The person ``reference_id`` for staff who read records (vaccinators, and
    administrators who read reports): Forbidden without such a grant anywhere, NotFound
    (``beneficiary_not_found``) when no one has the id. The read is audited
    (registration.reads): outside the actor's area it takes a ``reason`` (else Forbidden
    ``reason_required``)."""
    if not any(access.can(actor, action) for action in STAFF_ACTIONS):
        access.check_access(actor, STAFF_ACTIONS[0],
                            message=_("You may not read immunization records."))
    person = session.scalars(select(Beneficiary).where(
        Beneficiary.reference_id == str(reference_id))).first()
    if person is None:
        raise NotFound(_("No one is registered with this reference ID."),
                       code="beneficiary_not_found")
    reads.record_staff_read(session, actor, person, actions=STAFF_ACTIONS, view=view,
                            reason=reason)
    return person


# --- the record as a signed credential ------------------------------------------------------

def history(record: LifelongRecord, pack: ActivePack, *, hcid: str, issued_at: datetime,
            expires_at: datetime | None) -> ImmunizationHistory:
    """The credential content of ``record``: every dose, the dose number it counted as
    (doses that did not count keep their order in the series), in date order."""
    issuer = pack.document["certificates"]["issuer"]
    vaccinations = []
    for dose in record.doses:
        number = dose.dose if dose.dose is not None else 1
        total = max(dose.total or number, number)
        codes = dose.codes
        vaccinations.append(Vaccination(
            date=dose.day, dose=min(number, 99), total_doses=min(total, 99),
            country=pack.code, product=dose.product,
            product_code=codes.get("eu_product") or dose.product_code,
            manufacturer=dose.manufacturer,
            manufacturer_code=codes.get("eu_mah") or dose.manufacturer,
            lot=dose.lot, centre=dose.facility, centre_address=dose.facility_address,
            practitioner=dose.vaccinator,
            prophylaxis=codes.get("eu_prophylaxis") or (
                "J07BX03" if dose.series == BOOKED_SERIES else ""),
            vaccine_code=codes.get("icd11") or (
                "XM68M6" if dose.series == BOOKED_SERIES else ""),
            cvx=codes.get("cvx"), disease=dose.target_disease or "840539006",
            antigens=dose.antigens))
    return ImmunizationHistory(
        name=split_name(record.name),
        certificate=CertificateInfo(issuer=issuer.get(pack.default_locale)
                                    or next(iter(issuer.values())),
                                    issuer_id=pack.code, hcid=hcid, valid_from=issued_at,
                                    valid_until=expires_at),
        vaccinations=tuple(vaccinations), birth_date=record.birth_date,
        birth_year=None if record.birth_date else record.birth_year,
        identifier=record.identifier)


def _signed(session: Session, pack: ActivePack, record: LifelongRecord, kind: str,
            now: datetime | None) -> tuple[ImmunizationHistory, Signers, datetime, datetime]:
    if not record.doses:
        raise NotFound(_("No dose has been recorded for this person yet."),
                       code="record_empty")
    formats = pack.document["certificates"]["formats"]
    if kind not in formats:
        raise NotFound(_("This country does not issue this kind of certificate."),
                       code="format_not_enabled")
    settings = current_app.config["COWIN_KIT"]
    now = now or datetime.now(timezone.utc)
    expires = now + timedelta(days=settings["CERTIFICATE_VALIDITY_DAYS"])
    signers = Signers.of(keystore().current(), settings["PUBLIC_URL"].rstrip("/"))
    content = history(record, pack, hcid=new_uuid(), issued_at=now, expires_at=expires)
    person = session.scalars(select(Beneficiary).where(
        Beneficiary.reference_id == record.reference_id)).first()
    audit.record(session, "record.credential", "beneficiary", record.reference_id,
                 place=person_place(session, person) if person else audit.NATIONAL,
                 format=kind, doses=len(record.doses), hcid=content.certificate.hcid)
    session.commit()
    return content, signers, now, expires


def sign_shc(session: Session, pack: ActivePack, record: LifelongRecord, *,
             now: datetime | None = None) -> str:
    """The record as a SMART Health Card (a JWS: one Immunization entry per dose)."""
    content, signers, now, expires = _signed(session, pack, record, "shc", now)
    return shc.issue(content, signers.keys.shc_key, issuer=signers.issuer_url,
                     issued_at=now, expires_at=expires, kid=signers.shc_kid)


def sign_vc(session: Session, pack: ActivePack, record: LifelongRecord, *,
            now: datetime | None = None) -> dict:
    """The record as a signed W3C credential (one ``evidence`` item per dose)."""
    content, signers, now, expires = _signed(session, pack, record, "vc", now)
    return vc.issue(content, signers.keys.vc_key, issuer=signers.issuer_url,
                    verification_method=signers.vc_method, issued_at=now,
                    expires_at=expires)


def as_json(record: LifelongRecord) -> dict[str, Any]:
    """The record for the API."""
    def iso(day: date | None) -> str | None:
        return day.isoformat() if day else None
    return {
        "reference_id": record.reference_id, "name": record.name,
        "birth_date": iso(record.birth_date), "birth_year": record.birth_year,
        "on": record.on.isoformat(),
        "doses": [{"series": d.series, "date": d.day.isoformat(), "product": d.product_code,
                   "product_name": d.product, "antigens": list(d.antigens),
                   "codes": d.codes, "lot": d.lot, "facility": d.facility,
                   "status": d.kind, "dose": d.dose, "total_doses": d.total,
                   "booster": d.booster, "schedule": d.schedule, "label": d.label}
                  for d in record.doses],
        "next": [{"schedule": n.schedule_code, "schedule_name": n.schedule, "dose": n.dose,
                  "status": n.status, "earliest": iso(n.earliest), "due": iso(n.due),
                  "latest": iso(n.latest), "booster": n.booster,
                  "products": list(n.products), "label": n.label}
                 for n in record.next],
    }
