"""Use cases of vaccine safety: filing AEFI reports (staff and citizens), serious-case
alerts, the investigation steps, signals by lot and facility, and the CSV export. Each
write checks access through cowin_kit.identity.access, audits with audit.record in its own
transaction and commits; plugins hear of it after the commit.

Serious-case alerts: an alert is a row (``aefi_alert``) for the area at the pack's alert
level, sent as a message (the outbox) to the mobile of the nearest staff who investigate
AEFI there, listed on the safety dashboard and in ``GET /api/v1/admin/aefi/alerts`` to
every staff member who reads AEFI reports there, audited (``aefi.alert``), and announced
to plugins (``aefi_alert_raised``) so a deployment can forward it to its own channel."""

from __future__ import annotations

import csv
import io
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Iterable, Sequence

from sqlalchemy import ColumnElement, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from cowin_kit import notifications, plugins
from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import Forbidden, InvalidInput, NotFound, RuleViolation
from cowin_kit.core.i18n import gettext as _
from cowin_kit.geography.models import Facility, Location
from cowin_kit.geography.places import facility_place
from cowin_kit.identity import access
from cowin_kit.identity import services as identity
from cowin_kit.identity.models import StaffUser
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import Beneficiary, CitizenAccount, Dose
from cowin_kit.safety import rules
from cowin_kit.safety.models import AefiAlert, AefiReportDose, AefiStep
from cowin_kit.vaccination.models import AefiReport

MAX_LISTED = 1000


# --- errors --------------------------------------------------------------------------------

def _messages() -> dict[str, str]:
    return {
        "invalid_seriousness": _("Unknown seriousness."),
        "invalid_outcome": _("Unknown outcome."),
        "invalid_criteria": _("Unknown seriousness criterion."),
        "invalid_reaction": _("Unknown adverse event."),
        "reaction_required": _("Name at least one adverse event or symptom."),
        "criteria_not_serious": _("Seriousness criteria are only for serious events."),
        "fatal_needs_death": _("A death is a serious event: choose the criterion death."),
        "died_on_not_fatal": _("A date of death needs the outcome fatal."),
        "invalid_onset": _("The onset cannot be before the dose."),
        "onset_in_future": _("The onset cannot be in the future."),
        "invalid_died_on": _("The date of death cannot be before the onset."),
        "invalid_causality": _("Unknown causality category."),
        "causality_required": _("Give the WHO causality category to close the "
                                "investigation."),
    }


def _refusal(exc: rules.SafetyRuleError) -> InvalidInput:
    message = _messages().get(exc.code, exc.message)
    return InvalidInput(message, code=exc.code, fields={exc.field: [message]})


# --- filing a report -----------------------------------------------------------------------

def _dose_scope(session: Session, dose: Dose) -> access.Scope:
    if dose.facility_id is None:
        return access.COUNTRY
    return access.scope_for_facility(session, dose.facility_id)


def _same_visit(session: Session, pack: ActivePack, dose: Dose) -> list[Dose]:
    """The person's doses given on the dose's (local) day: the vaccines of one visit."""
    zone = zoneinfo.ZoneInfo(pack.document["timezone"])
    day = dose.administered_at.astimezone(zone).date()
    doses = session.scalars(select(Dose).where(Dose.beneficiary_id == dose.beneficiary_id)
                            .order_by(Dose.id)).all()
    return [d for d in doses if d.administered_at.astimezone(zone).date() == day]


def report_by_staff(session: Session, pack: ActivePack, reporter: StaffUser, *,
                    dose_id: int, onset_at: datetime, symptoms: Sequence[str],
                    seriousness: str, outcome: str, notes: str = "",
                    reactions: Sequence[str] = (), serious_criteria: Sequence[str] = (),
                    died_on: date | None = None, medical_history: str = "") -> AefiReport:
    """A report after dose ``dose_id`` by staff who may record doses at the dose's
    facility, or who read AEFI reports where it was given."""
    dose = session.get(Dose, dose_id)
    if dose is None:
        raise NotFound(_("No such dose."), code="dose_not_found")
    scope = _dose_scope(session, dose)
    if not (dose.facility_id is not None and access.can(reporter, "dose.record", scope)
            or access.can(reporter, "aefi.read", scope)):
        raise Forbidden(_("You may not report for this dose."), code="forbidden")
    return _file(session, pack, dose, reporter=reporter.username, reporter_type="staff",
                 account_id=None, onset_at=onset_at, symptoms=symptoms,
                 seriousness=seriousness, outcome=outcome, notes=notes, reactions=reactions,
                 serious_criteria=serious_criteria, died_on=died_on,
                 medical_history=medical_history)


def report_by_citizen(session: Session, pack: ActivePack, account: CitizenAccount,
                      reference_id: str, *, dose_id: int | None = None,
                      onset_at: datetime, symptoms: Sequence[str], seriousness: str,
                      outcome: str, notes: str = "", reactions: Sequence[str] = (),
                      serious_criteria: Sequence[str] = (), died_on: date | None = None,
                      medical_history: str = "") -> AefiReport:
    """A citizen's report for a member of their own account, after one of that member's
    doses (default: the latest)."""
    person = _own_member(session, account, reference_id)
    query = select(Dose).where(Dose.beneficiary_id == person.id)
    if dose_id is not None:
        query = query.where(Dose.id == dose_id)
    dose = session.scalars(query.order_by(Dose.administered_at.desc(), Dose.id.desc())).first()
    if dose is None:
        raise NotFound(_("No such dose."), code="dose_not_found")
    return _file(session, pack, dose, reporter="citizen", reporter_type="citizen",
                 account_id=account.id, onset_at=onset_at, symptoms=symptoms,
                 seriousness=seriousness, outcome=outcome, notes=notes, reactions=reactions,
                 serious_criteria=serious_criteria, died_on=died_on,
                 medical_history=medical_history)


def _own_member(session: Session, account: CitizenAccount, reference_id: str) -> Beneficiary:
    person = session.scalars(select(Beneficiary).where(
        Beneficiary.reference_id == str(reference_id),
        Beneficiary.account_id == account.id)).first()
    if person is None:
        raise NotFound(_("No one with this reference ID is registered with your account."),
                       code="beneficiary_not_found")
    return person


def _file(session: Session, pack: ActivePack, dose: Dose, *, reporter: str,
          reporter_type: str, account_id: int | None, onset_at: datetime,
          symptoms: Sequence[str], seriousness: str, outcome: str, notes: str,
          reactions: Sequence[str], serious_criteria: Sequence[str], died_on: date | None,
          medical_history: str) -> AefiReport:
    now = datetime.now(timezone.utc)
    symptoms = [" ".join(str(s).split()) for s in symptoms if str(s).strip()]
    try:
        criteria = rules.check_report(
            seriousness=seriousness, criteria=serious_criteria, outcome=outcome,
            reactions=reactions, symptoms=symptoms, onset_at=onset_at,
            vaccinated_at=dose.administered_at, now=now, died_on=died_on)
    except rules.SafetyRuleError as exc:
        raise _refusal(exc) from None
    stages = rules.stages_of(pack.safety.stages)
    report = AefiReport(
        dose_id=dose.id, onset_at=onset_at, symptoms=symptoms,
        reactions=list(dict.fromkeys(reactions)), seriousness=seriousness,
        serious_criteria=criteria, outcome=outcome, died_on=died_on,
        medical_history=medical_history, reporter=reporter, reporter_type=reporter_type,
        reporter_account_id=account_id, notes=notes, reported_at=now, status="open",
        stage=stages[0].code)
    session.add(report)
    session.flush()
    for suspect in _same_visit(session, pack, dose):
        session.add(AefiReportDose(report_id=report.id, dose_id=suspect.id))
    serious = rules.is_serious(seriousness, criteria)
    audit.record(session, "aefi.report", "aefi_report", report.id,
                 place=facility_place(session, dose.facility_id), dose=dose.id,
                 seriousness=seriousness, criteria=criteria, reporter_type=reporter_type,
                 stage=report.stage)
    alert = _raise_alert(session, pack, report, dose) if serious else None
    plugins.queue_hook(session, "aefi_reported", report_id=report.id, dose_id=dose.id,
                       seriousness=seriousness, outcome=outcome, onset_at=onset_at)
    if alert is not None:
        plugins.queue_hook(session, "aefi_alert_raised", alert_id=alert.id,
                           report_id=report.id, location_code=location_code(
                               session, alert.location_id), criteria=list(criteria))
    session.commit()
    return report


def _alert_location(session: Session, pack: ActivePack, dose: Dose) -> int | None:
    """The location at the pack's alert level above (or at) the dose's facility; None
    for a dose without a facility (the alert is then national)."""
    if dose.facility_id is None:
        return None
    location_id = session.scalar(select(Facility.location_id)
                                 .where(Facility.id == dose.facility_id))
    level_key = pack.safety.alert_level
    if level_key is None:
        return location_id
    keys = [level["key"] for level in pack.document["hierarchy"]]
    wanted = keys.index(level_key) + 1 if level_key in keys else None
    current = session.get(Location, location_id)
    while current is not None and wanted is not None and current.level > wanted:
        current = session.get(Location, current.parent_id) if current.parent_id else None
    return current.id if current is not None else location_id


def _raise_alert(session: Session, pack: ActivePack, report: AefiReport,
                 dose: Dose) -> AefiAlert:
    alert = AefiAlert(report_id=report.id, location_id=_alert_location(session, pack, dose),
                      raised_at=report.reported_at)
    session.add(alert)
    session.flush()
    messages = _message_alert(session, pack, alert, dose)
    audit.record(session, "aefi.alert", "aefi_report", report.id,
                 place=audit.at(alert.location_id), alert=alert.id,
                 location=location_code(session, alert.location_id), messages=messages)
    return alert


def _message_alert(session: Session, pack: ActivePack, alert: AefiAlert, dose: Dose) -> int:
    """The serious case's message to the nearest staff who investigate AEFI where the
    alert is raised (identity.services.alert_recipients), queued in the transaction of
    the alert row (one alert per report, so one message each); how many. No name or ID
    number of the person goes into it."""
    locale = pack.default_locale
    if alert.location_id is None:
        scope, place = access.COUNTRY, str(_("whole country"))
    else:
        location = session.get(Location, alert.location_id)
        scope = access.scope_for_location(session, alert.location_id)
        place = location.names.get(locale) or location.name
    product = session.get(VaccineProduct, dose.product_id)
    recipients = identity.alert_recipients(session, "aefi.investigate", scope)
    for user in recipients:
        notifications.queue(session, user.mobile, "aefi_serious", locale,
                            report=alert.report_id, vaccine=product.code if product else "",
                            lot=dose.lot or "-", place=place)
    return len(recipients)


def location_code(session: Session, location_id: int | None) -> str | None:
    if location_id is None:
        return None
    return session.scalar(select(Location.code).where(Location.id == location_id))


# --- who sees what -------------------------------------------------------------------------

def _subtree(location_ids: Iterable[int], name: str):
    anchor = select(Location.id).where(Location.id.in_(sorted(location_ids))).cte(
        name, recursive=True)
    child = aliased(Location)
    return anchor.union_all(select(child.id).join(anchor, child.parent_id == anchor.c.id))


def _visible(staff: StaffUser, action: str = "aefi.read") -> ColumnElement[bool]:
    """SQL condition on Dose: the dose was given where ``staff`` may ``action`` (doses
    without a facility: national grants only)."""
    grants = access.grants_carrying(staff, action)
    if any(g.location_id is None and g.facility_id is None for g in grants):
        return true()
    parts: list[ColumnElement[bool]] = []
    locations = {g.location_id for g in grants if g.location_id is not None}
    facilities = {g.facility_id for g in grants if g.facility_id is not None}
    if locations:
        tree = _subtree(locations, "aefi_visible_location")
        parts.append(Dose.facility_id.in_(
            select(Facility.id).where(Facility.location_id.in_(select(tree.c.id)))))
    if facilities:
        parts.append(Dose.facility_id.in_(sorted(facilities)))
    return or_(*parts) if parts else false()


def _require_reader(staff: StaffUser) -> None:
    if not access.can(staff, "aefi.read"):
        raise Forbidden(_("You may not read AEFI reports."), code="forbidden")


@dataclass
class SuspectDose:
    dose_id: int
    vaccine: str
    dose_number: int
    lot: str
    administered_at: datetime
    facility: str | None


@dataclass
class ReportView:
    """A report with what the pages and the API show of it."""

    report: AefiReport
    reference_id: str
    person_name: str
    birth_year: int
    facility: str | None
    lot: str
    vaccine: str
    doses: list[SuspectDose] = field(default_factory=list)
    steps: list[AefiStep] = field(default_factory=list)
    alert: AefiAlert | None = None

    @property
    def serious(self) -> bool:
        return rules.is_serious(self.report.seriousness, self.report.serious_criteria)


def _views(session: Session, reports: Sequence[AefiReport], *, details: bool) -> list[ReportView]:
    if not reports:
        return []
    ids = [r.id for r in reports]
    rows = session.execute(
        select(AefiReport.id, Beneficiary.reference_id, Beneficiary.name,
               Beneficiary.birth_year, Facility.code, Dose.lot, VaccineProduct.code)
        .join(Dose, Dose.id == AefiReport.dose_id)
        .join(Beneficiary, Beneficiary.id == Dose.beneficiary_id)
        .join(VaccineProduct, VaccineProduct.id == Dose.product_id)
        .outerjoin(Facility, Facility.id == Dose.facility_id)
        .where(AefiReport.id.in_(ids))).all()
    facts = {row[0]: row[1:] for row in rows}
    alerts = {a.report_id: a for a in session.scalars(
        select(AefiAlert).where(AefiAlert.report_id.in_(ids)))}
    views = []
    for report in reports:
        ref, name, birth_year, facility, lot, vaccine = facts[report.id]
        view = ReportView(report, ref, name, birth_year, facility, lot, vaccine,
                          alert=alerts.get(report.id))
        if details:
            view.doses = _suspects(session, report.id)
            view.steps = list(session.scalars(select(AefiStep).where(
                AefiStep.report_id == report.id).order_by(AefiStep.id)))
        views.append(view)
    return views


def _suspects(session: Session, report_id: int) -> list[SuspectDose]:
    rows = session.execute(
        select(Dose, VaccineProduct.code, Facility.code)
        .join(AefiReportDose, AefiReportDose.dose_id == Dose.id)
        .join(VaccineProduct, VaccineProduct.id == Dose.product_id)
        .outerjoin(Facility, Facility.id == Dose.facility_id)
        .where(AefiReportDose.report_id == report_id).order_by(Dose.id)).all()
    return [SuspectDose(dose.id, code, dose.dose_number, dose.lot, dose.administered_at,
                        facility) for dose, code, facility in rows]


def visible_reports(session: Session, staff: StaffUser, *, status: str | None = None,
                    stage: str | None = None, serious: bool | None = None,
                    limit: int = MAX_LISTED) -> list[ReportView]:
    """Reports on doses given within the staff member's aefi.read area, newest first."""
    query = (select(AefiReport).join(Dose, Dose.id == AefiReport.dose_id)
             .where(_visible(staff)))
    if status is not None:
        query = query.where(AefiReport.status == status)
    if stage is not None:
        query = query.where(AefiReport.stage == stage)
    if serious is not None:
        condition = AefiReport.seriousness != "non_serious"
        query = query.where(condition if serious else ~condition)
    reports = session.scalars(query.order_by(AefiReport.id.desc()).limit(limit)).all()
    return _views(session, reports, details=False)


def report_detail(session: Session, staff: StaffUser, report_id: int) -> ReportView:
    report = session.get(AefiReport, report_id)
    dose = session.get(Dose, report.dose_id) if report is not None else None
    if dose is None or not access.can(staff, "aefi.read", _dose_scope(session, dose)):
        raise NotFound(_("No such AEFI report."), code="aefi_not_found")
    return _views(session, [report], details=True)[0]


def filed_view(session: Session, report: AefiReport) -> ReportView:
    """The report just filed, as its reporter sees it (no access check: the caller is the
    reporter of this request)."""
    return _views(session, [report], details=True)[0]


def citizen_reports(session: Session, account: CitizenAccount,
                    reference_id: str) -> list[ReportView]:
    """The reports filed for a member of the account (by anyone), newest first."""
    person = _own_member(session, account, reference_id)
    reports = session.scalars(
        select(AefiReport).join(Dose, Dose.id == AefiReport.dose_id)
        .where(Dose.beneficiary_id == person.id).order_by(AefiReport.id.desc())).all()
    return _views(session, reports, details=True)


# --- the investigation ---------------------------------------------------------------------

def stages(pack: ActivePack) -> tuple[rules.Stage, ...]:
    return rules.stages_of(pack.safety.stages)


def stage_of(pack: ActivePack, code: str) -> rules.Stage | None:
    return next((s for s in stages(pack) if s.code == code), None)


def may_act(session: Session, pack: ActivePack, staff: StaffUser, view: ReportView) -> bool:
    """Whether the staff member may take the next step of the report (for pages)."""
    if view.report.status != "open":
        return False
    stage = stage_of(pack, view.report.stage) or stages(pack)[0]
    dose = session.get(Dose, view.report.dose_id)
    return access.can_as(staff, stage.role, "aefi.investigate", _dose_scope(session, dose))


def take_step(session: Session, pack: ActivePack, staff: StaffUser, report_id: int, *,
              findings: str, causality: str | None = None, outcome: str | None = None,
              close: bool = False) -> AefiReport:
    """The current stage's step: its findings, optionally the patient's outcome as now
    known and a WHO causality category; the report then moves to the next stage, or is
    closed (at the last stage, or earlier with ``close``: both need a causality
    category). Only holders of the stage's role whose grant reaches the dose's facility
    may take it. Concurrent steps on one report: the row is locked (PostgreSQL), and the
    stage is checked again under the lock."""
    report = session.scalars(select(AefiReport).where(AefiReport.id == report_id)
                             .with_for_update()).first()
    dose = session.get(Dose, report.dose_id) if report is not None else None
    if dose is None or not access.can(staff, "aefi.read", _dose_scope(session, dose)):
        raise NotFound(_("No such AEFI report."), code="aefi_not_found")
    if report.status != "open":
        raise RuleViolation(_("This investigation is closed."), code="aefi_closed")
    stage = stage_of(pack, report.stage) or stages(pack)[0]
    if not access.can_as(staff, stage.role, "aefi.investigate", _dose_scope(session, dose)):
        raise Forbidden(_("This stage of the investigation is for another role."),
                        code="forbidden")
    if outcome is not None and outcome not in rules.OUTCOMES:
        raise _refusal(rules.SafetyRuleError("invalid_outcome", "outcome", ""))
    if outcome == "fatal" and "death" not in report.serious_criteria:
        raise _refusal(rules.SafetyRuleError("fatal_needs_death", "outcome", ""))
    try:
        following, status = rules.check_step(stages(pack), stage.code,
                                             causality=causality, close=close)
    except rules.SafetyRuleError as exc:
        raise _refusal(exc) from None
    now = datetime.now(timezone.utc)
    role = next(g.role for g in staff.grants if g.role == stage.role)
    step = AefiStep(report_id=report.id, stage=stage.code, actor=staff.username, role=role,
                    findings=findings, causality=causality, outcome=outcome,
                    next_stage=following if status == "open" else "", status_after=status,
                    acted_at=now)
    session.add(step)
    if outcome is not None:
        report.outcome = outcome
    if causality is not None:
        report.causality = causality
    report.stage, report.status = following, status
    if status == "closed":
        report.closed_at = now
    session.flush()
    audit.record(session, "aefi.step", "aefi_report", report.id,
                 place=facility_place(session, session.scalar(
                     select(Dose.facility_id).where(Dose.id == report.dose_id))),
                 step=step.id,
                 stage=stage.code, next_stage=step.next_stage, status=status,
                 causality=causality, outcome=outcome)
    plugins.queue_hook(session, "aefi_updated", report_id=report.id, status=status,
                       stage=report.stage, causality=report.causality)
    session.commit()
    return report


# --- alerts --------------------------------------------------------------------------------

def open_alerts(session: Session, staff: StaffUser, *, include_acknowledged: bool = False,
                limit: int = 200) -> list[tuple[AefiAlert, ReportView]]:
    """Alerts of serious cases in the staff member's aefi.read area, newest first."""
    _require_reader(staff)
    query = (select(AefiAlert, AefiReport).join(AefiReport, AefiReport.id == AefiAlert.report_id)
             .join(Dose, Dose.id == AefiReport.dose_id).where(_visible(staff)))
    if not include_acknowledged:
        query = query.where(AefiAlert.acknowledged_at.is_(None))
    rows = session.execute(query.order_by(AefiAlert.id.desc()).limit(limit)).all()
    views = {v.report.id: v for v in _views(session, [r for _a, r in rows], details=False)}
    return [(alert, views[report.id]) for alert, report in rows]


def acknowledge_alert(session: Session, staff: StaffUser, alert_id: int) -> AefiAlert:
    alert = session.get(AefiAlert, alert_id)
    report = session.get(AefiReport, alert.report_id) if alert is not None else None
    dose = session.get(Dose, report.dose_id) if report is not None else None
    if dose is None or not access.can(staff, "aefi.read", _dose_scope(session, dose)):
        raise NotFound(_("No such alert."), code="alert_not_found")
    if alert.acknowledged_at is None:
        alert.acknowledged_at = datetime.now(timezone.utc)
        alert.acknowledged_by = staff.username
        audit.record(session, "aefi.alert_acknowledge", "aefi_report", report.id,
                     place=facility_place(session, dose.facility_id), alert=alert.id)
        session.commit()
    return alert


# --- signals -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Signal:
    kind: str           # lot | facility
    key: str            # the lot number, or the facility code
    label: str          # the vaccine (lots) or the facility's name
    reports: int
    serious: int
    doses: int
    rate: float | None  # reports per 10,000 doses
    flagged: bool


def signals(session: Session, pack: ActivePack, staff: StaffUser, *,
            since: datetime | None = None) -> list[Signal]:
    """AEFI reports per 10,000 doses by lot and by facility, in the staff member's area
    (a report counts for every lot of its suspected doses, once per lot), flagged above
    the pack's threshold; the flagged first, then by rate."""
    _require_reader(staff)
    settings = pack.safety
    visible = _visible(staff)
    report_filter = [visible] + ([AefiReport.reported_at >= since] if since else [])
    dose_filter = [visible] + ([Dose.administered_at >= since] if since else [])
    by_lot = session.execute(
        select(Dose.lot, VaccineProduct.code, func.count(func.distinct(AefiReport.id)),
               func.count(func.distinct(AefiReport.id)).filter(
                   AefiReport.seriousness != "non_serious"))
        .select_from(AefiReportDose)
        .join(AefiReport, AefiReport.id == AefiReportDose.report_id)
        .join(Dose, Dose.id == AefiReportDose.dose_id)
        .join(VaccineProduct, VaccineProduct.id == Dose.product_id)
        .where(*report_filter).group_by(Dose.lot, VaccineProduct.code)).all()
    lot_doses = dict(((lot, code), n) for lot, code, n in session.execute(
        select(Dose.lot, VaccineProduct.code, func.count())
        .join(VaccineProduct, VaccineProduct.id == Dose.product_id)
        .where(*dose_filter, Dose.lot.in_(sorted({row[0] for row in by_lot})))
        .group_by(Dose.lot, VaccineProduct.code)))
    by_facility = session.execute(
        select(Facility.code, Facility.name, func.count(AefiReport.id),
               func.count(AefiReport.id).filter(AefiReport.seriousness != "non_serious"))
        .select_from(AefiReport).join(Dose, Dose.id == AefiReport.dose_id)
        .join(Facility, Facility.id == Dose.facility_id)
        .where(*report_filter).group_by(Facility.code, Facility.name)).all()
    facility_doses = dict(session.execute(
        select(Facility.code, func.count(Dose.id)).join(Dose, Dose.facility_id == Facility.id)
        .where(*dose_filter, Facility.code.in_(sorted({row[0] for row in by_facility})))
        .group_by(Facility.code)).all())
    found = []
    for lot, code, reports, serious_count in by_lot:
        doses = lot_doses.get((lot, code), 0)
        found.append(_signal("lot", lot, code, reports, serious_count, doses, settings))
    for code, name, reports, serious_count in by_facility:
        doses = facility_doses.get(code, 0)
        found.append(_signal("facility", code, name, reports, serious_count, doses, settings))
    return sorted(found, key=lambda s: (not s.flagged, -(s.rate or float("inf")), s.kind,
                                        s.key))


def _signal(kind: str, key: str, label: str, reports: int, serious: int, doses: int,
            settings: Any) -> Signal:
    return Signal(kind, key, label, reports, serious, doses,
                  rules.rate_per_10000(reports, doses),
                  rules.is_signal(reports, doses, threshold=settings.signal_per_10000_doses,
                                  min_reports=settings.signal_min_reports))


# --- export --------------------------------------------------------------------------------

CSV_COLUMNS = ("report_id", "reported_at", "reporter_type", "reference_id", "birth_year",
               "facility", "vaccines", "lots", "onset_at", "reactions", "symptoms",
               "seriousness", "serious_criteria", "outcome", "died_on", "status", "stage",
               "causality")


def export_csv(session: Session, staff: StaffUser) -> str:
    """Every visible report, one row each with WHO's core variables (the person by
    reference ID and birth year only: no name, no ID number)."""
    _require_reader(staff)
    views = visible_reports(session, staff, limit=10 ** 6)
    suspects: dict[int, list[SuspectDose]] = {}
    if views:
        rows = session.execute(
            select(AefiReportDose.report_id, Dose, VaccineProduct.code)
            .join(Dose, Dose.id == AefiReportDose.dose_id)
            .join(VaccineProduct, VaccineProduct.id == Dose.product_id)
            .where(AefiReportDose.report_id.in_([v.report.id for v in views]))
            .order_by(Dose.id)).all()
        for report_id, dose, code in rows:
            suspects.setdefault(report_id, []).append(
                SuspectDose(dose.id, code, dose.dose_number, dose.lot, dose.administered_at,
                            None))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for view in sorted(views, key=lambda v: v.report.id):
        r = view.report
        doses = suspects.get(r.id, [])
        writer.writerow([
            r.id, _iso(r.reported_at), r.reporter_type, view.reference_id, view.birth_year,
            view.facility or "", ";".join(f"{d.vaccine} {d.dose_number}" for d in doses),
            ";".join(dict.fromkeys(d.lot for d in doses)), _iso(r.onset_at),
            ";".join(r.reactions or []), ";".join(r.symptoms or []), r.seriousness,
            ";".join(r.serious_criteria or []), r.outcome,
            r.died_on.isoformat() if r.died_on else "", r.status, r.stage, r.causality or ""])
    return out.getvalue()


def _iso(moment: datetime) -> str:
    utc = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return utc.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def report_by_id(session: Session, report_id: int) -> AefiReport | None:
    """The report (for exporters without a staff member: plugins, the CLI)."""
    return session.get(AefiReport, report_id)


def suspect_doses(session: Session, report_id: int) -> list[SuspectDose]:
    """The doses a report names (for exporters)."""
    return _suspects(session, report_id)


__all__ = [
    "CSV_COLUMNS", "ReportView", "Signal", "SuspectDose", "acknowledge_alert",
    "citizen_reports", "export_csv", "filed_view", "location_code", "may_act", "open_alerts", "report_by_citizen",
    "report_by_id", "report_by_staff", "report_detail", "signals", "stage_of", "stages",
    "suspect_doses", "take_step", "visible_reports",
]
