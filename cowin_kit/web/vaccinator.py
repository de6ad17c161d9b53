"""Vaccinator pages (a tablet at the facility, all day): today's sessions and the queue,
check-in by reference ID, the secret code, recording the dose with a lot picked from what
the facility has used, walk-in registration, AEFI reports and the end-of-session summary.
Every action calls the service the vaccinator API calls (cowin_kit.vaccination.services)."""

from __future__ import annotations

import secrets
import zoneinfo
from datetime import datetime
from typing import Any, Callable, TypeVar

from flask import redirect, request, url_for
from flask_babel import lazy_gettext
from sqlalchemy import select

from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import DomainError, Forbidden, InvalidInput, NotFound
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.identity import access
from cowin_kit.identity.models import Gender, IdDocumentType
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.reporting.services import recent_lots
from cowin_kit.scheduling.models import VaccinationSession
from cowin_kit.geography.models import Facility, Location
from cowin_kit.registration import people
from cowin_kit.vaccination import queue, schemas, services, visits
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.safety import schemas as safety_schemas, services as safety
from cowin_kit.web import core, safety as safety_pages, ui
from cowin_kit.web.auth import current_staff, staff_required

T = TypeVar("T")

bp = ui.make_blueprint("vaccinator", __name__, url_prefix="/vaccinator")
core.register_staff_link("beneficiary.verify", "vaccinator.today",
                         lazy_gettext("Vaccination: today's sessions"))

WALK_IN_CONSENT_VERSION = "walk-in-1"


def _user():
    user = current_staff()
    assert user is not None  # behind staff_required
    return user


def _tz() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(active_pack().document["timezone"])


def _at_facility(call: Callable[[str | None], T]) -> T | None:
    """``call`` with the page's facility code (``facility`` parameter; None: the user's
    only facility); None when the user works at several and has not chosen."""
    try:
        return call((request.values.get("facility") or "").strip() or None)
    except InvalidInput as exc:
        if exc.code == "facility_required":
            return None
        raise


def _facility(action: str = "beneficiary.verify") -> Facility | None:
    """The facility of this page, or None (see _at_facility)."""
    return _at_facility(lambda code: services.staff_facility(get_session(), _user(), code,
                                                             action=action))


def _facility_choices() -> list[Facility]:
    """Facilities the user may pick: those of their facility grants, else (location or
    national grants) the ones with a session today in their area, capped."""
    session = get_session()
    user = _user()
    ids = sorted({g.facility_id for g in user.grants if g.facility_id is not None})
    if ids:
        return list(session.scalars(select(Facility).where(Facility.id.in_(ids))
                                    .order_by(Facility.name)))
    today = datetime.now(_tz()).date()
    rows = session.scalars(select(Facility).join(
        VaccinationSession, VaccinationSession.facility_id == Facility.id)
        .where(VaccinationSession.session_date == today).distinct()
        .order_by(Facility.name).limit(200))
    return [f for f in rows if access.can(user, "beneficiary.verify",
                                          access.scope_for_facility(session, f.id))]


def _choose_facility():
    return ui.render("web/vaccinator/choose_facility.html", facilities=_facility_choices(),
                     target=request.endpoint)


def _product_options(facility: Facility) -> list[tuple[str, str]]:
    """Today's vaccines at the facility first, then the others."""
    session = get_session()
    today_ids = [s.product_id for s in services.todays_sessions(session, active_pack(), facility)]
    products = list(session.scalars(select(VaccineProduct).order_by(VaccineProduct.code)))
    products.sort(key=lambda p: (p.id not in today_ids, p.code))
    return [(p.code, ui.pack_label(p.names, p.code)) for p in products]


@bp.get("")
@staff_required("beneficiary.verify")
def today():
    view = _at_facility(lambda code: queue.todays_queue(get_session(), active_pack(), _user(),
                                                        code))
    if view is None:
        return _choose_facility()
    sessions = [{"id": item.session.id,
                 "vaccine": ui.pack_label(item.product.names, item.product.code),
                 "status": item.session.status, "capacity": sum(item.capacity.values()),
                 "booked": sum(item.booked.values()),
                 "queue": [{"reference_id": entry.reference_id, "name": entry.name,
                            "dose": entry.dose, "slot": entry.slot,
                            "done": entry.status == "completed"} for entry in item.queue]}
                for item in view.sessions]
    return ui.render("web/vaccinator/today.html", facility=view.facility, sessions=sessions,
                     form=ui.FormState({}))


def _person(reference_id: str) -> dict[str, Any]:
    """What the vaccinator sees of a person (never the secret code; the ID masked)."""
    person = queue.check_in(get_session(), _user(), reference_id, reason=_reason())
    beneficiary, booked = person.beneficiary, person.booked
    return {"reference_id": beneficiary.reference_id, "name": beneficiary.name,
            "birth_year": beneficiary.birth_year, "gender": ui.pack_label(person.gender_labels),
            "id_type": ui.pack_label(person.id_type_labels), "id_masked": person.id_number_masked,
            "doses": [{"number": given.dose.dose_number,
                       "vaccine": ui.pack_label(given.product.names),
                       "date": given.dose.administered_at, "lot": given.dose.lot,
                       "id": given.dose.id} for given in person.doses],
            "appointment": None if booked is None else {
                "dose": booked.appointment.dose_number, "date": booked.session.session_date,
                "facility": booked.facility.name},
            "secret_code_required": person.secret_code_required}


def _reason() -> str:
    """Why a person outside the vaccinator's area is looked up (the lookup form's field,
    carried by the later forms of the page)."""
    return request.values.get("reason", "")


def _lookup_failed(form: ui.FormState, exc: DomainError) -> None:
    """A lookup's refusal next to its field: the reference ID's, or for a person outside
    the area (reason_required, invalid_reason) the reason's."""
    field = "reason" if exc.code in ("reason_required", "invalid_reason") else "reference_id"
    form.fail(type(exc)(exc.message, code=exc.code, fields={field: [str(exc.message)]}))


def _check_in_page(facility: Facility, form: ui.FormState, reference_id: str):
    person = None
    if reference_id:
        try:
            person = _person(reference_id)
        except (NotFound, Forbidden, InvalidInput) as exc:
            _lookup_failed(form, exc)
    lots = recent_lots(get_session(), facility.id)
    return ui.render("web/vaccinator/check_in.html", facility=facility, person=person,
                     form=form, products=_product_options(facility), lots=lots,
                     reference_id=reference_id, reason=_reason(),
                     idempotency_key="web-" + secrets.token_urlsafe(16)), form.status


@bp.get("/check-in")
@staff_required("beneficiary.verify")
def check_in():
    facility = _facility()
    if facility is None:
        return _choose_facility()
    reference_id = "".join(request.args.get("reference_id", "").split())
    return _check_in_page(facility, ui.FormState({"reference_id": reference_id,
                                                  "reason": _reason()}), reference_id)


@bp.post("/doses")
@staff_required("dose.record")
def record_dose():
    facility = _facility("dose.record")
    if facility is None:
        return _choose_facility()
    form = ui.FormState()
    reference_id = "".join(request.form.get("reference_id", "").split())
    try:
        data = ui.load_form(schemas.DoseIn(), ["reference_id", "secret_code", "vaccine", "lot"],
                            extra={"reference_id": reference_id})
        # One submission of this form records one dose, even if the button is pressed twice.
        key = request.form.get("idempotency_key", "").strip()[:100] or None
        recorded = services.record_dose(
            get_session(), active_pack(), _user(), facility=facility,
            reference_id=data["reference_id"], product_code=data["vaccine"], lot=data["lot"],
            secret_code=data.get("secret_code"), idempotency_key=key)
    except DomainError as exc:
        form.fail(exc)
        return _check_in_page(facility, form, reference_id)
    ui.done(_("Dose %(n)d recorded for %(reference_id)s.", n=recorded.dose.dose_number,
              reference_id=reference_id))
    return redirect(url_for("vaccinator.dose", dose_id=recorded.dose.id,
                            facility=facility.code), code=303)


def _own_dose(dose_id: int, action: str = "dose.record") -> tuple[Dose, Facility]:
    session = get_session()
    dose = session.get(Dose, dose_id)
    if dose is None or dose.facility_id is None:
        raise NotFound(_("No such dose."), code="dose_not_found")
    access.check_access(_user(), action, access.scope_for_facility(session, dose.facility_id),
                        message=_("You may not report for this dose."))
    return dose, session.get(Facility, dose.facility_id)


@bp.get("/doses/<int:dose_id>")
@staff_required("dose.record")
def dose(dose_id: int):
    recorded, facility = _own_dose(dose_id)
    session = get_session()
    product = session.get(VaccineProduct, recorded.product_id)
    beneficiary = session.get(Beneficiary, recorded.beneficiary_id)
    return ui.render("web/vaccinator/dose.html", dose=recorded, facility=facility,
                     vaccine=ui.pack_label(product.names, product.code), person=beneficiary)


def _gender_options() -> list[tuple[str, str]]:
    rows = get_session().scalars(select(Gender).order_by(Gender.position, Gender.id))
    return [(row.code, ui.pack_label(row.labels, row.code)) for row in rows]


def _id_type_options() -> list[tuple[str, str]]:
    rows = get_session().scalars(select(IdDocumentType).order_by(IdDocumentType.position,
                                                                 IdDocumentType.id))
    return [(row.code, ui.pack_label(row.labels, row.code)) for row in rows]


@bp.route("/walk-in", methods=["GET", "POST"])
@staff_required("beneficiary.verify")
def walk_in():
    facility = _facility()
    if facility is None:
        return _choose_facility()
    pack = active_pack()
    birth_capture = pack.document.get("birth_capture", "year")
    form = ui.FormState()
    if request.method == "POST":
        try:
            if not request.form.get("consent"):
                message = _("Please confirm the person's consent.")
                raise InvalidInput(message, code="consent_required",
                                   fields={"consent": [message]})
            data = ui.load_form(
                schemas.WalkInIn(),
                ["mobile", "name", "birth_date" if birth_capture == "date" else "birth_year",
                 "gender", "id_type", "id_number", "holder_code"],
                extra={"comorbidity": bool(request.form.get("comorbidity")),
                       "consent_version": WALK_IN_CONSENT_VERSION})
            view = services.register_walk_in(get_session(), pack, _user(), facility=facility,
                                             **data)
        except DomainError as exc:
            form.fail(exc)
        else:
            reference_id = view.beneficiary.reference_id
            ui.done(_("%(name)s is registered. Reference ID %(reference_id)s.",
                      name=view.beneficiary.name, reference_id=reference_id))
            return redirect(url_for("vaccinator.check_in", reference_id=reference_id,
                                    facility=facility.code), code=303)
    return ui.render("web/vaccinator/walk_in.html", facility=facility, form=form,
                     birth_capture=birth_capture, genders=_gender_options(),
                     id_types=_id_type_options()), form.status


@bp.route("/doses/<int:dose_id>/aefi", methods=["GET", "POST"])
@staff_required("dose.record")
def aefi(dose_id: int):
    recorded, facility = _own_dose(dose_id)
    form = ui.FormState()
    if request.method == "POST":
        try:
            data = safety_pages.load_report_form(safety_schemas.AefiIn(),
                                                 {"dose_id": recorded.id})
            safety.report_by_staff(get_session(), active_pack(), _user(),
                                   dose_id=recorded.id, **safety_pages.report_args(data))
        except DomainError as exc:
            form.fail(exc)
        else:
            ui.done(_("The adverse event is reported."))
            return redirect(url_for("vaccinator.today", facility=facility.code), code=303)
    return ui.render("web/vaccinator/aefi.html", dose=recorded, facility=facility, form=form,
                     **safety_pages.form_choices()), form.status


@bp.get("/summary")
@staff_required("beneficiary.verify")
def summary():
    """The end-of-day summary: per session seats, people booked, vaccinated and not
    seen; doses recorded today by vaccine and lot."""
    facility = _facility()
    if facility is None:
        return _choose_facility()
    summary = queue.day_summary(get_session(), active_pack(), facility)

    def label(product: VaccineProduct) -> str:
        return ui.pack_label(product.names, product.code)

    sessions = [{"vaccine": label(t.product), "status": t.status, "capacity": t.capacity,
                 "completed": t.completed, "waiting": t.waiting, "cancelled": t.cancelled}
                for t in summary.sessions]
    doses = [{"vaccine": label(t.product), "lot": t.lot, "dose": t.dose, "count": t.count}
             for t in summary.doses]
    return ui.render("web/vaccinator/summary.html", facility=facility, sessions=sessions,
                     doses=doses, total=summary.total, aefi_count=summary.aefi_count,
                     day=summary.day)



# --- routine immunization: visits and newborns (issue 14) ---------------------------------

STATUS_LABELS = {"due": lazy_gettext("Due"), "overdue": lazy_gettext("Overdue")}


def _products_label(codes) -> str:
    session, pack = get_session(), active_pack()
    labels = []
    for code in codes:
        product = services.vaccine_product(session, pack, code=code)
        labels.append(ui.pack_label(product.names, code) if product else code)
    return ", ".join(labels)


def _visit_page(facility: Facility, form: ui.FormState, reference_id: str,
                chosen: list[str] | None = None):
    session, pack = get_session(), active_pack()
    found, rows, given = None, [], []
    if reference_id:
        try:
            found = visits.due_today(session, pack, _user(), reference_id, reason=_reason())
        except (NotFound, Forbidden, InvalidInput) as exc:
            _lookup_failed(form, exc)
    if found is not None:
        for index, item in enumerate(found.due):
            rows.append({
                "index": index, "schedule": item.schedule.code,
                "name": ui.pack_label(item.schedule.disease, item.schedule.code),
                "products": [(code, _products_label([code])) for code in item.products],
                "dose": item.status.dose, "status": STATUS_LABELS[item.status.status],
                "overdue": item.status.status == "overdue", "latest": item.status.latest,
                "due": item.status.due})
        given = [{"name": ui.pack_label(d.schedule.disease, d.schedule.code),
                  "vaccine": ui.pack_label(d.product.names, d.product.code),
                  "dose": d.dose.dose_number, "lot": d.dose.lot,
                  "date": d.dose.administered_at}
                 for d in visits.routine_doses(session, pack, found.person)]
    return ui.render("web/vaccinator/visit.html", facility=facility, form=form,
                     found=found, rows=rows, given=given, reference_id=reference_id,
                     chosen=chosen, reason=_reason(),
                     lots=recent_lots(session, facility.id),
                     idempotency_key="web-" + secrets.token_urlsafe(16)), form.status


@bp.get("/visit")
@staff_required("beneficiary.verify")
def visit():
    """A routine visit: find the person, see what is due today, record it."""
    facility = _facility()
    if facility is None:
        return _choose_facility()
    reference_id = "".join(request.args.get("reference_id", "").split())
    return _visit_page(facility, ui.FormState({"reference_id": reference_id,
                                               "reason": _reason()}), reference_id)


@bp.post("/visit")
@staff_required("dose.record")
def record_visit():
    facility = _facility("dose.record")
    if facility is None:
        return _choose_facility()
    form = ui.FormState()
    reference_id = "".join(request.form.get("reference_id", "").split())
    chosen = request.form.getlist("give")
    doses = [{"product": request.form.get(f"vaccine-{schedule}", "").strip(),
              "lot": request.form.get(f"lot-{schedule}", ""), "schedule": schedule}
             for schedule in chosen]
    try:
        recorded = visits.record_visit(
            get_session(), active_pack(), _user(), reference_id=reference_id, doses=doses,
            facility_code=facility.code,
            idempotency_key=request.form.get("idempotency_key", "").strip()[:90] or None)
    except DomainError as exc:
        # the service names the visit's n-th dose: show it by that dose's lot field
        exc.fields = {(f"lot-{chosen[int(name.split('.')[1])]}"
                       if name.startswith("doses.") and name.split(".")[1].isdigit()
                       and int(name.split(".")[1]) < len(chosen) else name): messages
                      for name, messages in (exc.fields or {}).items()}
        form.fail(exc)
        return _visit_page(facility, form, reference_id, chosen)
    n = len(recorded.doses)
    ui.done(ngettext("%(num)d dose recorded for %(reference_id)s.",
                     "%(num)d doses recorded for %(reference_id)s.", n,
                     reference_id=reference_id))
    return redirect(url_for("vaccinator.visit", reference_id=reference_id,
                            facility=facility.code), code=303)


@bp.route("/newborn", methods=["GET", "POST"])
@staff_required("people.register")
def newborn():
    """A health worker registers a newborn (or a young child) without an ID document,
    linked to a guardian; then the visit page shows the birth doses due."""
    facility = _facility()
    if facility is None:
        return _choose_facility()
    form = ui.FormState()
    if request.method == "POST":
        values = {name: request.form.get(name, "").strip() for name in (
            "name", "birth_date", "gender", "mobile", "guardian_name", "guardian_relation")}
        try:
            born = None
            if values["birth_date"]:
                try:
                    born = datetime.strptime(values["birth_date"], "%Y-%m-%d").date()
                except ValueError:
                    message = _("Give the date of birth.")
                    raise InvalidInput(message, code="invalid_person",
                                       fields={"birth_date": [message]}) from None
            session = get_session()
            location = session.get(Location, facility.location_id)
            view = people.register_person(
                session, active_pack(), _user(), name=values["name"], birth_date=born,
                gender=values["gender"], mobile=values["mobile"], location=location.code,
                facility=facility.code, guardian_name=values["guardian_name"] or None,
                guardian_relation=values["guardian_relation"] or None)
        except DomainError as exc:
            form.fail(exc)
        else:
            reference_id = view.beneficiary.reference_id
            ui.done(_("%(name)s is registered. Reference ID %(reference_id)s.",
                      name=view.beneficiary.name, reference_id=reference_id))
            return redirect(url_for("vaccinator.visit", reference_id=reference_id,
                                    facility=facility.code), code=303)
    return ui.render("web/vaccinator/newborn.html", facility=facility, form=form,
                     genders=_gender_options()), form.status
