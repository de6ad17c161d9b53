"""Corrections as pages: the staff's queue of change requests (maker-checker: list, one
request with what changes, approve or reject with a reason), the grievance queue of their
areas with service-level ages and the answer form, and the citizen's grievances (file one
about a member of their account, follow its status and read the answer). They call
cowin_kit.corrections.services, as the API does (docs/corrections.md)."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask_babel import lazy_gettext
from sqlalchemy import select

from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import DomainError, InvalidInput
from cowin_kit.core.i18n import gettext as _
from cowin_kit.core.validation import load
from cowin_kit.corrections import rules, schemas, services
from cowin_kit.corrections.models import GRIEVANCE_CATEGORIES, ChangeRequest
from cowin_kit.geography.models import Facility
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration import services as registration
from cowin_kit.registration.models import Beneficiary
from cowin_kit.web import core, ui
from cowin_kit.web.auth import citizen_required, current_citizen, current_staff, staff_required

bp = ui.make_blueprint("corrections", __name__)
core.register_staff_link(("correction.propose", "correction.approve"), "corrections.queue",
                         lazy_gettext("Corrections to approve"))
core.register_staff_link("grievance.handle", "corrections.grievances",
                         lazy_gettext("Citizens' grievances"))

ANSWER_STATUSES = ("in_progress", "resolved", "rejected")


def _staff():
    user = current_staff()
    assert user is not None  # behind staff_required
    return user


def labels() -> dict[str, Any]:
    """Words for the codes, for the templates."""
    return {"kind_label": lambda code: rules.REQUEST_KIND_LABELS.get(code, code),
            "request_status_label": lambda code: rules.REQUEST_STATUS_LABELS.get(code, code),
            "field_label": lambda code: rules.FIELD_LABELS.get(code, code),
            "category_label": lambda code: rules.GRIEVANCE_CATEGORY_LABELS.get(code, code),
            "grievance_status_label":
                lambda code: rules.GRIEVANCE_STATUS_LABELS.get(code, code)}


def _value(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    return str(value)


def _request_view(request_row: ChangeRequest) -> dict[str, Any]:
    """A change request as the pages show it: the person's reference ID and each field's
    current and proposed value (the move's transaction id left out)."""
    session = get_session()
    changes = {k: v for k, v in request_row.changes.items() if k != "transaction"}
    return {"row": request_row,
            "reference_id": session.scalar(select(Beneficiary.reference_id).where(
                Beneficiary.id == request_row.beneficiary_id)),
            "fields": [(name, _value(request_row.before.get(name)), _value(value))
                       for name, value in changes.items()]}


# --- change requests (staff) ---------------------------------------------------------------

@bp.get("/admin/corrections")
@staff_required("correction.propose")
def queue():
    """Pending change requests of the actor's areas, oldest first."""
    user = _staff()
    rows = services.list_requests(get_session(), user, status="pending")
    return ui.render("web/corrections/queue.html",
                     requests=[_request_view(row) for row in rows], me=user.username,
                     **labels())


@bp.route("/admin/corrections/<int:request_id>", methods=["GET", "POST"])
@staff_required("correction.propose")
def change_request(request_id: int):
    """One change request; its checker approves it (with an optional note) or rejects it
    (with the reason)."""
    session, user = get_session(), _staff()
    form = ui.FormState()
    row = services.request_for(session, user, request_id)
    if request.method == "POST":
        decision = request.form.get("decision")
        try:
            data = ui.load_form(schemas.DecisionIn(), ["note"])
            if decision == "approve":
                services.approve(session, active_pack(), user, request_id, data["note"])
            else:
                services.reject(session, user, request_id, data["note"])
        except DomainError as exc:
            session.rollback()
            form.fail(exc, field="note")
            row = services.request_for(session, user, request_id)
        else:
            ui.done(_("The correction is approved and applied.") if decision == "approve"
                    else _("The correction is rejected."))
            return redirect(url_for("corrections.queue"), code=303)
    return ui.render("web/corrections/request.html", view=_request_view(row), form=form,
                     me=user.username, **labels()), form.status


PERSON_FORM = ("name", "birth_date", "birth_year", "guardian_name")
DOSE_FORM = ("dose_number", "lot", "administered_on", "facility")


@bp.get("/admin/corrections/people")
@staff_required("correction.propose")
def find_person():
    """The look-up form's answer: the person's correction page."""
    reference_id = "".join(request.args.get("reference_id", "").split())
    return redirect(url_for("corrections.person", reference_id=reference_id), code=303)


@bp.route("/admin/corrections/people/<reference_id>", methods=["GET", "POST"])
@staff_required("correction.propose")
def person(reference_id: str):
    """A person's details and doses with the proposal forms (details, one dose's facts, a
    dose voided); each proposal waits for another staff member's approval."""
    session, user, pack = get_session(), _staff(), active_pack()
    form = ui.FormState()
    if request.method == "POST":
        kind = request.form.get("kind", "")
        fields = PERSON_FORM if kind == "person" else DOSE_FORM if kind == "dose" else ()
        changes = {name: request.form.get(name, "").strip() for name in fields
                   if request.form.get(name, "").strip()}
        try:
            data = load(schemas.ChangeRequestIn(), {
                "kind": kind, "changes": changes, "reason": request.form.get("reason", ""),
                "dose_id": request.form.get("dose_id") or None,
                "reference_id": reference_id})
            if kind == "person":
                row = services.propose_person_change(session, pack, user, reference_id,
                                                     data["changes"], data["reason"])
            elif kind == "dose" and data["dose_id"]:
                row = services.propose_dose_change(session, pack, user, data["dose_id"],
                                                   data["changes"], data["reason"])
            elif kind == "void_dose" and data["dose_id"]:
                row = services.propose_void(session, pack, user, data["dose_id"],
                                            data["reason"])
            else:
                raise InvalidInput(_("Say what should change."), code="nothing_to_change")
        except DomainError as exc:
            session.rollback()
            form.fail(exc)
        else:
            ui.done(_("Correction %(id)s is proposed; another staff member must approve "
                      "it.", id=row.id))
            return redirect(url_for("corrections.change_request", request_id=row.id),
                            code=303)
    record = services.person_record(session, user, reference_id)
    products = {p.id: p.code for p in session.scalars(select(VaccineProduct))}
    facilities = {f.id: f.code for f in session.scalars(select(Facility).where(
        Facility.id.in_({d.facility_id for d in record.doses if d.facility_id} or {-1})))}
    return ui.render("web/corrections/person.html", record=record, form=form,
                     products=products, facilities=facilities, **labels()), form.status


# --- grievances (staff) --------------------------------------------------------------------

@bp.get("/admin/grievances")
@staff_required("grievance.handle")
def grievances():
    """Open grievances of the actor's areas, oldest first, with their age."""
    pack = active_pack()
    items = services.grievance_queue(get_session(), pack, _staff())
    return ui.render("web/corrections/grievances.html", items=items,
                     within_days=pack.corrections.grievance_resolve_days, **labels())


@bp.route("/admin/grievances/<int:grievance_id>", methods=["GET", "POST"])
@staff_required("grievance.handle")
def grievance(grievance_id: int):
    """One grievance and the answer form (in progress, resolved, closed without change)."""
    session, user, pack = get_session(), _staff(), active_pack()
    item = services.grievance_for_staff(session, pack, user, grievance_id)
    form = ui.FormState()
    if request.method == "POST":
        try:
            data = ui.load_form(schemas.GrievanceAnswerIn(), ["status", "answer"])
            services.answer_grievance(session, user, grievance_id, **data)
        except DomainError as exc:
            session.rollback()
            form.fail(exc)
            item = services.grievance_for_staff(session, pack, user, grievance_id)
        else:
            ui.done(_("The grievance is updated."))
            return redirect(url_for("corrections.grievance", grievance_id=grievance_id),
                            code=303)
    return ui.render("web/corrections/grievance.html", item=item, form=form,
                     within_days=pack.corrections.grievance_resolve_days,
                     status_choices=[(s, rules.GRIEVANCE_STATUS_LABELS[s])
                                     for s in ANSWER_STATUSES], **labels()), form.status


# --- grievances (citizens) -----------------------------------------------------------------

def _account():
    account = current_citizen()
    assert account is not None  # behind citizen_required
    return account


@bp.get("/grievances")
@citizen_required
def my_grievances():
    """The account's grievances, newest first, with their status and answers."""
    session, account = get_session(), _account()
    rows = services.my_grievances(session, account)
    people = {m.beneficiary.id: m.beneficiary.name
              for m in registration.list_beneficiaries(session, account)}
    return ui.render("web/corrections/my_grievances.html", grievances=rows, people=people,
                     within_days=active_pack().corrections.grievance_resolve_days,
                     **labels())


@bp.route("/grievances/new", methods=["GET", "POST"])
@citizen_required
def file_grievance():
    """File a grievance about a member of the account (or the account itself)."""
    session, account = get_session(), _account()
    members = registration.list_beneficiaries(session, account)
    form = ui.FormState()
    if request.method == "POST":
        try:
            data = ui.load_form(schemas.GrievanceIn(),
                                ["category", "description", "reference_id"])
            services.file_grievance(session, account, category=data["category"],
                                    description=data["description"],
                                    reference_id=data.get("reference_id"))
        except DomainError as exc:
            form.fail(exc)
        else:
            ui.done(_("Your grievance is received. You can follow it here."))
            return redirect(url_for("corrections.my_grievances"), code=303)
    return ui.render("web/corrections/file_grievance.html", form=form,
                     categories=[(c, rules.GRIEVANCE_CATEGORY_LABELS[c])
                                 for c in GRIEVANCE_CATEGORIES],
                     people=[(m.beneficiary.reference_id, m.beneficiary.name)
                             for m in members],
                     within_days=active_pack().corrections.grievance_resolve_days,
                     **labels()), form.status
