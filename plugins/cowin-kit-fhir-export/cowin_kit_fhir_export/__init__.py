"""cowin-kit plugin ``fhir-export``: recorded doses as FHIR R4 Patient and Immunization
resources, pushed to a FHIR server in transaction Bundles.

* ``dose_recorded`` queues the dose (table ``fhir_export_queue``, created by this plugin's
  own migration: run ``cowin-kit db upgrade``) — the citizen's request never waits on the
  FHIR server;
* ``cowin-kit fhir push`` sends what is queued (run it from cron or a loop next to the
  worker); failures stay queued with their error and are sent again next time;
* ``cowin-kit export fhir --from DAY --to DAY`` sends every dose given on those days
  (backfill; resources are PUT by id, so sending twice does no harm);
* ``aefi_reported`` and ``aefi_updated`` queue the AEFI report (table
  ``fhir_export_aefi_queue``): ``cowin-kit fhir push`` sends it as an ``AdverseEvent``
  with its suspected doses' ``Immunization`` resources (and their causality once the
  investigation gives one), again after each investigation step.

Only the beneficiary reference ID identifies the person; the photo-ID number is never sent.
"""

from __future__ import annotations

import json
import logging
import zoneinfo
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

import click
from sqlalchemy import (BigInteger, Column, DateTime, ForeignKey, Integer, MetaData, String,
                        Table, insert, select, update)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cowin_kit.plugins import HttpError, Plugin, PluginContext, Setting, http_request

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
CVX = "http://hl7.org/fhir/sid/cvx"
ICD11 = "http://id.who.int/icd/release/11/mms"
SNOMED = "http://snomed.info/sct"
BATCH = 50

metadata = MetaData()
# 64-bit ids, as the kit's doses and AEFI reports have (bigint on PostgreSQL; SQLite's
# INTEGER is 64-bit already): migrations/fhir0003_bigint_ids.py
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")
queue = Table(  # created by migrations/fhir0001_queue.py
    "fhir_export_queue", metadata,
    Column("id", BIG_ID, primary_key=True),
    Column("dose_id", BIG_ID, ForeignKey("dose.id"), nullable=False, unique=True),
    Column("queued_at", DateTime(timezone=True), nullable=False),
    Column("pushed_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", String(500)),
)


aefi_queue = Table(  # created by migrations/fhir0002_aefi_queue.py
    "fhir_export_aefi_queue", metadata,
    Column("id", BIG_ID, primary_key=True),
    Column("report_id", BIG_ID, nullable=False, unique=True),
    Column("queued_at", DateTime(timezone=True), nullable=False),
    Column("pushed_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", String(500)),
)


class FhirError(Exception):
    """The FHIR server could not be reached or refused the bundle."""


# --- resources ----------------------------------------------------------------------------

def _gender_map(pairs: Iterable[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        code, _, fhir = pair.partition("=")
        if fhir not in ("male", "female", "other", "unknown"):
            raise ValueError(f"FHIR_EXPORT_GENDERS: {pair!r} must map to male, female, other "
                             f"or unknown")
        mapping[code.strip()] = fhir
    return mapping


def patient_resource(person: Any, gender_code: str, genders: Mapping[str, str],
                     id_system: str) -> dict[str, Any]:
    birth = person.birth_date.isoformat() if person.birth_date else str(person.birth_year)
    return {
        "resourceType": "Patient",
        "id": person.reference_id,
        "identifier": [{"system": id_system, "value": person.reference_id}],
        "name": [{"text": person.name}],
        "gender": genders.get(gender_code, "unknown"),
        "birthDate": birth,
    }


def immunization_resource(dose: Any, person: Any, product: Any, facility: Any | None,
                          locale: str) -> dict[str, Any]:
    codes = product.codes or {}
    coding = [{"system": system, "code": codes[key]}
              for key, system in (("cvx", CVX), ("icd11", ICD11), ("snomed", SNOMED))
              if codes.get(key)]
    if not coding:
        coding = [{"system": "urn:cowin-kit:vaccine", "code": product.code}]
    names = product.names or {}
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        # the booked series keeps its ids; a routine dose's id names its series
        "id": _immunization_id(dose, person),
        "status": "completed",
        "vaccineCode": {"coding": coding,
                        "text": names.get(locale) or next(iter(names.values()), product.code)},
        "patient": {"reference": f"Patient/{person.reference_id}"},
        "occurrenceDateTime": dose.administered_at.astimezone(timezone.utc)
                                                  .isoformat().replace("+00:00", "Z"),
        "primarySource": True,
        "lotNumber": dose.lot,
        "manufacturer": {"display": product.manufacturer},
        "protocolApplied": [{"doseNumberPositiveInt": dose.dose_number}],
    }
    if facility is not None:
        resource["location"] = {"display": facility.name,
                                "identifier": {"system": "urn:cowin-kit:facility",
                                               "value": facility.code}}
    return resource


LOINC = "http://loinc.org"
RECOMMENDATION_STATUS = "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status"
# dateCriterion codes (LOINC): earliest date to give, date due, latest date to give
DATE_CRITERIA = (("earliest", "30981-5", "Earliest date to give"),
                 ("due", "30980-7", "Date vaccine due"),
                 ("latest", "59777-3", "Latest date to give immunization"))
# programme.due statuses -> immunization-recommendation-status: a dose not yet due is
# "due" with its (future) earliest date; a schedule with every dose done is "complete"
FORECAST = {"due": "due", "overdue": "overdue", "upcoming": "due"}


def recommendation_resource(person: Any, record: Any) -> dict[str, Any] | None:
    """The person's ImmunizationRecommendation from their life-long record
    (:func:`cowin_kit.certificates.lifelong.build`): one recommendation per pending dose
    (due, overdue, upcoming), and one "complete" per routine schedule fully given; None
    when the person has no routine schedule."""
    from cowin_kit.programme import due

    recommendations = []
    by_schedule: dict[str, list] = {}
    for status in record.statuses:
        by_schedule.setdefault(status.schedule, []).append(status)
    codes = {n.schedule_code: n for n in record.next}
    for schedule, statuses in by_schedule.items():
        diseases = {d.target_disease for d in record.doses if d.series == schedule}
        target = next(iter(diseases), "") or (codes[schedule].target_disease
                                             if schedule in codes else "")
        disease = ({"targetDisease": {"coding": [{"system": SNOMED, "code": target}]}}
                   if target else {})
        pending = [s for s in statuses if s.status in FORECAST]
        if not pending and all(s.status in (due.DONE, due.NOT_NEEDED, due.NOT_COUNTED)
                               for s in statuses):
            recommendations.append({"vaccineCode": [{"text": schedule}], **disease,
                                    "forecastStatus": _forecast("complete"),
                                    "series": schedule})
            continue
        for status in pending:
            criteria = [{"code": {"coding": [{"system": LOINC, "code": code,
                                              "display": display}]},
                         "value": datetime.combine(getattr(status, name), time())
                         .replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")}
                        for name, code, display in DATE_CRITERIA
                        if getattr(status, name) is not None]
            accepted = codes[schedule].products if schedule in codes else ()
            recommendations.append({
                "vaccineCode": [{"coding": [{"system": "urn:cowin-kit:vaccine", "code": c}]}
                                for c in accepted] or [{"text": schedule}],
                **disease, "forecastStatus": _forecast(FORECAST[status.status]),
                "dateCriterion": criteria, "doseNumberPositiveInt": status.dose,
                "series": schedule})
    if not recommendations:
        return None
    return {"resourceType": "ImmunizationRecommendation",
            "id": f"{person.reference_id}-forecast",
            "patient": {"reference": f"Patient/{person.reference_id}"},
            "date": datetime.combine(record.on, time()).replace(tzinfo=timezone.utc)
            .isoformat().replace("+00:00", "Z"),
            "recommendation": recommendations}


def _forecast(code: str) -> dict[str, Any]:
    return {"coding": [{"system": RECOMMENDATION_STATUS, "code": code}]}


def bundle_for(session: Session, dose_ids: list[int], config: Mapping[str, Any]) -> dict:
    """A transaction Bundle that PUTs each dose's Patient (once) and Immunization."""
    from cowin_kit.identity.models import Gender
    from cowin_kit.registration.models import Beneficiary
    from cowin_kit.geography.models import Facility
    from cowin_kit.registration.models import Dose
    from cowin_kit.programme.models import VaccineProduct

    entries: list[dict] = []
    patients: set[str] = set()
    rows = session.execute(
        select(Dose, Beneficiary, VaccineProduct, Gender.code)
        .join(Beneficiary, Beneficiary.id == Dose.beneficiary_id)
        .join(VaccineProduct, VaccineProduct.id == Dose.product_id)
        .join(Gender, Gender.id == Beneficiary.gender_id)
        .where(Dose.id.in_(dose_ids)).order_by(Dose.id)).all()
    for dose, person, product, gender_code in rows:
        facility = session.get(Facility, dose.facility_id) if dose.facility_id else None
        resources = []
        if person.reference_id not in patients:
            patients.add(person.reference_id)
            resources.append(patient_resource(person, gender_code, config["genders"],
                                              config["id_system"]))
            forecast = _recommendation(session, person, config)
            if forecast is not None:
                resources.append(forecast)
        resources.append(immunization_resource(dose, person, product, facility,
                                               config["locale"]))
        for resource in resources:
            url = f"{resource['resourceType']}/{resource['id']}"
            entries.append({"fullUrl": f"{config['url'].rstrip('/')}/{url}",
                            "resource": resource, "request": {"method": "PUT", "url": url}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


SERIOUSNESS_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
OUTCOME_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
# the kit's outcome codes (WHO's AEFI form) -> FHIR R4 adverse-event-outcome
OUTCOMES = {"recovered": "resolved", "recovering": "recovering", "not_recovered": "ongoing",
            "recovered_with_sequelae": "resolvedWithSequelae", "fatal": "fatal",
            "unknown": "unknown"}
CAUSALITY_SYSTEM = "urn:cowin-kit:who-aefi-causality"
CAUSALITY_METHOD = ("WHO causality assessment of an adverse event following immunization, "
                    "2nd edition (2019)")
REACTION_SYSTEM = "urn:cowin-kit:who-aefi-reaction"


def _instant(moment: datetime) -> str:
    utc = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return utc.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def adverse_event_resource(report: Any, person: Any, immunization_ids: list[str],
                           facility: Any | None) -> dict[str, Any]:
    """A FHIR R4 AdverseEvent of an AEFI report: the events (WHO's listed reactions as
    codes, the symptoms as text), seriousness, outcome, and each suspected dose's
    Immunization with the WHO causality category once one is given."""
    serious = report.seriousness != "non_serious" or bool(report.serious_criteria)
    coding = [{"system": REACTION_SYSTEM, "code": code} for code in report.reactions or []]
    text = ", ".join(list(report.reactions or []) + list(report.symptoms or []))
    causality = ([{"assessment": {"coding": [{"system": CAUSALITY_SYSTEM,
                                              "code": report.causality}]},
                   "method": {"text": CAUSALITY_METHOD}}] if report.causality else [])
    resource: dict[str, Any] = {
        "resourceType": "AdverseEvent",
        "id": f"aefi-{report.id}",
        "identifier": {"system": "urn:cowin-kit:aefi-report", "value": str(report.id)},
        "actuality": "actual",
        "event": {**({"coding": coding} if coding else {}), "text": text},
        "subject": {"reference": f"Patient/{person.reference_id}"},
        "date": _instant(report.onset_at),
        "detected": _instant(report.onset_at),
        "recordedDate": _instant(report.reported_at),
        "seriousness": {"coding": [{"system": SERIOUSNESS_SYSTEM,
                                    "code": "serious" if serious else "non-serious"}]},
        "outcome": {"coding": [{"system": OUTCOME_SYSTEM,
                                "code": OUTCOMES.get(report.outcome, "unknown")}]},
        "suspectEntity": [{"instance": {"reference": f"Immunization/{rid}"},
                           **({"causality": causality} if causality else {})}
                          for rid in immunization_ids],
    }
    if report.serious_criteria:
        resource["extension"] = [{"url": "urn:cowin-kit:who-aefi-serious-criterion",
                                  "valueCode": code} for code in report.serious_criteria]
    if facility is not None:
        resource["location"] = {"display": facility.name,
                                "identifier": {"system": "urn:cowin-kit:facility",
                                               "value": facility.code}}
    return resource


def aefi_bundle(session: Session, report_ids: list[int], config: Mapping[str, Any]) -> dict:
    """A transaction Bundle that PUTs each report's AdverseEvent with the Patient and the
    Immunization resources it references."""
    from cowin_kit.geography.models import Facility
    from cowin_kit.registration.models import Beneficiary, Dose
    from cowin_kit.safety import services as safety

    entries: list[dict] = []
    seen: set[str] = set()
    for report_id in sorted(report_ids):
        report = safety.report_by_id(session, report_id)
        if report is None:
            continue
        suspects = safety.suspect_doses(session, report_id) or []
        dose_ids = [d.dose_id for d in suspects] or [report.dose_id]
        for entry in bundle_for(session, dose_ids, config)["entry"]:
            if entry["request"]["url"] not in seen:
                seen.add(entry["request"]["url"])
                entries.append(entry)
        dose = session.get(Dose, report.dose_id)
        person = session.get(Beneficiary, dose.beneficiary_id)
        immunizations = [_immunization_id(session.get(Dose, i), person) for i in dose_ids]
        facility = session.get(Facility, dose.facility_id) if dose.facility_id else None
        resource = adverse_event_resource(report, person, immunizations, facility)
        url = f"AdverseEvent/{resource['id']}"
        entries.append({"fullUrl": f"{config['url'].rstrip('/')}/{url}", "resource": resource,
                        "request": {"method": "PUT", "url": url}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _immunization_id(dose: Any, person: Any) -> str:
    return (f"{person.reference_id}-{dose.dose_number}" if not dose.series
            else f"{person.reference_id}-{dose.series}-{dose.dose_number}")[:64]


def _recommendation(session: Session, person: Any, config: Mapping[str, Any]) -> dict | None:
    """The person's ImmunizationRecommendation as of today (routine schedules of the
    active pack)."""
    from cowin_kit.certificates import lifelong
    from cowin_kit.config.runtime import active_pack

    pack = active_pack()
    if not any(s.routine for s in _schedules(session, pack)):
        return None
    record = lifelong.build(session, pack, person, locale=config["locale"])
    return recommendation_resource(person, record)


def _schedules(session: Session, pack: Any) -> list:
    from cowin_kit.programme import catalogue

    return list(catalogue.schedules(session, pack))


# --- the server ---------------------------------------------------------------------------

def post_bundle(bundle: dict, config: Mapping[str, Any]) -> dict:
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if config["auth_header"]:
        name, _, value = config["auth_header"].partition(":")
        headers[name.strip()] = value.strip()
    try:
        answer = http_request("POST", config["url"].rstrip("/") + "/", headers=headers,
                              body=json.dumps(bundle).encode(), timeout=config["timeout"])
    except HttpError as exc:
        if exc.status is None:
            raise FhirError(f"FHIR server unreachable: {exc.reason}") from None
        raise FhirError(f"FHIR server answered {exc.reason}{_outcome_text(exc.body)}") from None
    return json.loads(answer.body or b"{}")


def _outcome_text(body: bytes) -> str:
    try:
        issues = json.loads(body).get("issue", [])
    except (ValueError, AttributeError):
        return ""
    texts = [i.get("diagnostics") or i.get("details", {}).get("text", "") for i in issues]
    return ": " + "; ".join(t for t in texts if t) if any(texts) else ""


def push(session: Session, dose_ids: list[int], config: Mapping[str, Any]) -> int:
    """Send the doses in bundles of BATCH; returns how many resources were sent."""
    sent = 0
    for start in range(0, len(dose_ids), BATCH):
        bundle = bundle_for(session, dose_ids[start:start + BATCH], config)
        if bundle["entry"]:
            post_bundle(bundle, config)
            sent += len(bundle["entry"])
    return sent


# --- wiring into cowin-kit ----------------------------------------------------------------

def _config(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {"url": settings["URL"], "auth_header": settings["AUTH_HEADER"],
            "timeout": settings["TIMEOUT_SECONDS"], "id_system": settings["ID_SYSTEM"],
            "genders": _gender_map(settings["GENDERS"]), "locale": "en"}


def register(context: PluginContext) -> None:
    config = _config(context.settings)
    if context.settings["URL"] and not context.settings["URL"].startswith(("http://", "https://")):
        raise ValueError("FHIR_EXPORT_URL must be an http(s) URL")

    def ready() -> dict[str, Any]:
        if not config["url"]:
            raise click.ClickException("set FHIR_EXPORT_URL (the FHIR server's base URL)")
        return config

    def on_dose_recorded(*, dose_id: int, **_: Any) -> None:
        from cowin_kit.core.db import get_database

        with get_database().session() as session:
            try:
                session.execute(insert(queue).values(dose_id=dose_id, attempts=0,
                                                     queued_at=datetime.now(timezone.utc)))
                session.commit()
            except IntegrityError:  # queued already
                session.rollback()

    if context.settings["QUEUE_DOSES"]:
        context.connect("dose_recorded", on_dose_recorded)

    def on_aefi(*, report_id: int, **_: Any) -> None:
        """Queue the report (again, after an investigation step: pushed_at cleared)."""
        from cowin_kit.core.db import get_database

        with get_database().session() as session:
            done = session.execute(update(aefi_queue).where(aefi_queue.c.report_id == report_id)
                                   .values(pushed_at=None, queued_at=datetime.now(timezone.utc)))
            if not done.rowcount:
                try:
                    session.execute(insert(aefi_queue).values(
                        report_id=report_id, attempts=0, queued_at=datetime.now(timezone.utc)))
                except IntegrityError:  # queued at the same moment by another process
                    session.rollback()
                    return
            session.commit()

    if context.settings["QUEUE_AEFI"]:
        context.connect("aefi_reported", on_aefi)
        context.connect("aefi_updated", on_aefi)

    def export_days(session: Session, *, start: date, end: date) -> str:
        from cowin_kit.config.runtime import active_pack
        from cowin_kit.registration.models import Dose

        zone = zoneinfo.ZoneInfo(active_pack().document["timezone"])
        since = datetime.combine(start, time(), zone)
        until = datetime.combine(end + timedelta(days=1), time(), zone)
        ids = list(session.scalars(select(Dose.id).where(
            Dose.administered_at >= since, Dose.administered_at < until).order_by(Dose.id)))
        try:
            sent = push(session, ids, ready())
        except FhirError as exc:
            raise RuntimeError(str(exc)) from None
        return f"fhir: {len(ids)} dose(s) from {start} to {end}, {sent} resource(s) sent"

    context.register_exporter("fhir", export_days)

    @click.group("fhir")
    def fhir() -> None:
        """FHIR R4 export (plugin fhir-export)."""

    @fhir.command("push")
    @click.option("--limit", default=1000, show_default=True, help="At most this many doses.")
    def push_command(limit: int) -> None:
        """Send the queued doses to FHIR_EXPORT_URL; failures stay queued."""
        from cowin_kit.cli import app_context
        from cowin_kit.core.db import get_database

        with app_context():
            settings = ready()
            with get_database().session() as session:
                rows = session.execute(select(queue.c.id, queue.c.dose_id).where(
                    queue.c.pushed_at.is_(None)).order_by(queue.c.id).limit(limit)).all()
                ids = [row.dose_id for row in rows]
                now = datetime.now(timezone.utc)
                try:
                    sent = push(session, ids, settings)
                except FhirError as exc:
                    session.execute(update(queue).where(queue.c.id.in_([r.id for r in rows]))
                                    .values(attempts=queue.c.attempts + 1,
                                            last_error=str(exc)[:500]))
                    session.commit()
                    raise click.ClickException(f"{exc} ({len(ids)} dose(s) stay queued)")
                session.execute(update(queue).where(queue.c.id.in_([r.id for r in rows]))
                                .values(pushed_at=now, last_error=None))
                session.commit()
        click.echo(f"fhir: {len(ids)} queued dose(s) sent ({sent} resources)")
        with app_context():
            with get_database().session() as session:
                rows = session.execute(select(aefi_queue.c.id, aefi_queue.c.report_id).where(
                    aefi_queue.c.pushed_at.is_(None)).order_by(aefi_queue.c.id)
                    .limit(limit)).all()
                if not rows:
                    return
                ids = [row.report_id for row in rows]
                queued_ids = [r.id for r in rows]
                try:
                    bundle = aefi_bundle(session, ids, settings)
                    post_bundle(bundle, settings)
                except FhirError as exc:
                    session.execute(update(aefi_queue).where(aefi_queue.c.id.in_(queued_ids))
                                    .values(attempts=aefi_queue.c.attempts + 1,
                                            last_error=str(exc)[:500]))
                    session.commit()
                    raise click.ClickException(f"{exc} ({len(ids)} AEFI report(s) stay "
                                               "queued)")
                session.execute(update(aefi_queue).where(aefi_queue.c.id.in_(queued_ids))
                                .values(pushed_at=datetime.now(timezone.utc), last_error=None))
                session.commit()
        click.echo(f"fhir: {len(ids)} queued AEFI report(s) sent "
                   f"({len(bundle['entry'])} resources)")

    context.register_command(fhir)


plugin = Plugin(
    register=register,
    migrations=HERE / "migrations",
    settings=[
        Setting("FHIR_EXPORT_URL", "str", "",
                "Base URL of the FHIR R4 server (transaction Bundles are POSTed to it)."),
        Setting("FHIR_EXPORT_AUTH_HEADER", "str", "",
                "One header `Name: value` sent with every request.", secret=True),
        Setting("FHIR_EXPORT_TIMEOUT_SECONDS", "float", 30.0, "Timeout of each request."),
        Setting("FHIR_EXPORT_ID_SYSTEM", "str", "urn:cowin-kit:beneficiary-reference-id",
                "Identifier system of the Patient's beneficiary reference ID."),
        Setting("FHIR_EXPORT_GENDERS", "list", ["M=male", "F=female", "T=other", "O=other"],
                "Pack gender code = FHIR administrative gender; others are `unknown`."),
        Setting("FHIR_EXPORT_QUEUE_DOSES", "bool", True,
                "Queue every recorded dose for `cowin-kit fhir push`."),
        Setting("FHIR_EXPORT_QUEUE_AEFI", "bool", True,
                "Queue every AEFI report (and its investigation's steps) for "
                "`cowin-kit fhir push`, sent as AdverseEvent."),
    ],
)
