"""Vaccine safety pages: the staff's safety dashboard (serious-case alerts, signals by lot
and facility as a plot and a table, the reports of their area, CSV), one report with its
investigation and the current stage's form, and the citizen's side-effect report for a
member of their account. They call cowin_kit.safety.services, as the API does."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from flask import Response, redirect, request, url_for
from flask_babel import get_locale, lazy_gettext

from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import DomainError, InvalidInput
from cowin_kit.core.i18n import gettext as _
from cowin_kit.core.validation import load
from cowin_kit.safety import rules, schemas, services
from cowin_kit.web import charts, core, ui
from cowin_kit.web.auth import citizen_required, current_citizen, current_staff, staff_required

bp = ui.make_blueprint("safety", __name__)
core.register_staff_link("aefi.read", "safety.dashboard",
                         lazy_gettext("Vaccine safety (AEFI)"))

REPORT_FIELDS = ["seriousness", "outcome", "died_on", "medical_history", "notes"]
REPORT_LISTS = ["reactions", "serious_criteria"]
SIGNALS_PLOTTED = 12


def _locale() -> str:
    return str(get_locale())


def _staff():
    user = current_staff()
    assert user is not None  # behind staff_required
    return user


# --- the report form (shared with the vaccinator's page) -----------------------------------

def local_moment(text: str) -> str:
    """A ``datetime-local`` field (the pack's local time) as an ISO time with offset."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        message = _("Give the date and time the symptoms began.")
        raise InvalidInput(message, fields={"onset_at": [message]}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(active_pack().document["timezone"]))
    return moment.isoformat()


def load_report_form(schema, extra: dict[str, Any]) -> dict[str, Any]:
    """The report form's fields, loaded with the API's schema."""
    symptoms = [s.strip() for s in request.form.get("symptoms", "").replace(
        ";", "\n").splitlines() if s.strip()]
    return ui.load_form(schema, REPORT_FIELDS, lists=REPORT_LISTS, extra={
        "onset_at": local_moment(request.form.get("onset_at", "")), "symptoms": symptoms,
        **extra})


def report_args(data: dict[str, Any]) -> dict[str, Any]:
    return {name: data[name] for name in (
        "onset_at", "symptoms", "seriousness", "outcome", "notes", "reactions",
        "serious_criteria", "died_on", "medical_history")}


def form_choices() -> dict[str, Any]:
    """The options of the report form's lists (for web/safety/_report_fields.html)."""
    return {"reaction_choices": [(k, rules.REACTION_LABELS[k]) for k in rules.REACTIONS],
            "criteria_choices": [(k, rules.CRITERIA_LABELS[k])
                                 for k in rules.SERIOUS_CRITERIA],
            "seriousness_choices": [(k, rules.SERIOUSNESS_LABELS[k])
                                    for k in rules.SERIOUSNESS],
            "outcome_choices": [(k, rules.OUTCOME_LABELS[k]) for k in rules.OUTCOMES]}


def labels() -> dict[str, Any]:
    """Words for the codes, for the templates."""
    return {"reaction_label": lambda code: rules.REACTION_LABELS.get(code, code),
            "criterion_label": lambda code: rules.CRITERIA_LABELS.get(code, code),
            "seriousness_label": lambda code: rules.SERIOUSNESS_LABELS.get(code, code),
            "outcome_label": lambda code: rules.OUTCOME_LABELS.get(code, code),
            "causality_label": lambda code: rules.CAUSALITY_LABELS.get(code, code or ""),
            "stage_label": _stage_label,
            "events_text": lambda report: ", ".join(
                [str(rules.REACTION_LABELS.get(c, c)) for c in report.reactions or []]
                + list(report.symptoms or [])),
            "criteria_text": lambda codes: ", ".join(
                str(rules.CRITERIA_LABELS.get(c, c)) for c in codes or [])}


def _stage_label(code: str) -> str:
    stage = services.stage_of(active_pack(), code)
    return stage.name(_locale()) if stage is not None else code


# --- staff ---------------------------------------------------------------------------------

def _signal_chart(found: list[services.Signal]) -> Any:
    locale = _locale()
    shown = [s for s in found if s.rate is not None][:SIGNALS_PLOTTED]
    threshold = active_pack().safety.signal_per_10000_doses
    return charts.horizontal_bars(
        title=_("AEFI reports per 10,000 doses"),
        desc=_("Reports per 10,000 doses given, by lot and by facility, highest first; "
               "flagged above %(threshold)s.", threshold=charts.number(threshold, locale)),
        labels=[(_("Lot %(lot)s", lot=s.key) if s.kind == "lot" else s.label)
                + (" ⚠" if s.flagged else "") for s in shown],
        values=[s.rate or 0.0 for s in shown],
        value_texts=[charts.number(round(s.rate or 0.0, 1), locale) for s in shown],
        locale=locale, width=360, label_width=130,
        empty_note=_("No AEFI reports in your area."))


@bp.get("/admin/safety")
@staff_required("aefi.read")
def dashboard():
    session, user = get_session(), _staff()
    query = {k: v for k, v in request.args.items() if k in ("status", "serious") and v}
    filters = load(schemas.AefiListQuery(), query)
    found = services.signals(session, active_pack(), user)
    return ui.render("web/safety/dashboard.html",
                     alerts=services.open_alerts(session, user),
                     signals=found, signal_chart=_signal_chart(found),
                     settings=active_pack().safety,
                     reports=services.visible_reports(session, user, limit=200, **filters),
                     filters=filters, **labels())


@bp.get("/admin/safety/aefi.csv")
@staff_required("aefi.read")
def export():
    return Response(services.export_csv(get_session(), _staff()), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="aefi.csv"'})


@bp.post("/admin/safety/alerts/<int:alert_id>/acknowledge")
@staff_required("aefi.read")
def acknowledge(alert_id: int):
    services.acknowledge_alert(get_session(), _staff(), alert_id)
    ui.done(_("The alert is acknowledged."))
    return redirect(url_for("safety.dashboard"), code=303)


@bp.route("/admin/safety/reports/<int:report_id>", methods=["GET", "POST"])
@staff_required("aefi.read")
def report(report_id: int):
    session, user, pack = get_session(), _staff(), active_pack()
    form = ui.FormState()
    if request.method == "POST":
        try:
            data = ui.load_form(schemas.AefiStepIn(), ["findings", "causality", "outcome"],
                                extra={"close": bool(request.form.get("close"))})
            services.take_step(session, pack, user, report_id, **data)
        except DomainError as exc:
            form.fail(exc)
        else:
            ui.done(_("The step is recorded."))
            return redirect(url_for("safety.report", report_id=report_id), code=303)
    view = services.report_detail(session, user, report_id)
    stage = services.stage_of(pack, view.report.stage) or services.stages(pack)[0]
    following = rules.next_stage(services.stages(pack), stage.code)
    return ui.render("web/safety/report.html", view=view, form=form,
                     may_act=services.may_act(session, pack, user, view),
                     stage=stage, following=following,
                     causality_choices=[(k, rules.CAUSALITY_LABELS[k])
                                        for k in rules.CAUSALITY],
                     outcome_choices=form_choices()["outcome_choices"],
                     **labels()), form.status


# --- citizens ------------------------------------------------------------------------------

@bp.route("/members/<reference_id>/side-effects", methods=["GET", "POST"])
@citizen_required
def citizen_report(reference_id: str):
    session, pack = get_session(), active_pack()
    account = current_citizen()
    assert account is not None  # behind citizen_required
    reports = services.citizen_reports(session, account, reference_id)  # 404 if not theirs
    form = ui.FormState()
    if request.method == "POST":
        try:
            data = load_report_form(schemas.CitizenAefiIn(), {})
            services.report_by_citizen(session, pack, account, reference_id,
                                       **report_args(data))
        except DomainError as exc:
            form.fail(exc)
        else:
            ui.done(_("Thank you. Your report is sent to the health authorities."))
            return redirect(url_for("safety.citizen_report", reference_id=reference_id),
                            code=303)
    return ui.render("web/safety/citizen_report.html", reference_id=reference_id,
                     reports=reports, form=form, **form_choices(), **labels()), form.status
