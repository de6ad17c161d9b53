"""Citizen pages: sign-in with mobile + OTP, family members, finding sessions, booking,
rescheduling and cancelling, the appointment slip, certificates, seat alerts and the
change of mobile number. Every action calls the service the API calls."""

from __future__ import annotations

import json
import zoneinfo
from datetime import date, datetime
from typing import Any

from flask import Response, current_app, redirect, request, session, url_for
from flask_babel import get_locale
from sqlalchemy import select

from cowin_kit.config.runtime import ActivePack, active_pack
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import DomainError, InvalidInput, NotFound
from cowin_kit.geography.models import Facility, Location
from cowin_kit.core.i18n import gettext as _
from cowin_kit.identity.models import Gender, IdDocumentType
from cowin_kit.core import ratelimit
from cowin_kit.core.ratelimit import limited
from cowin_kit.registration import schemas as reg_schemas, services as registration
from cowin_kit.registration.models import CitizenAccount
from cowin_kit.scheduling import (
    alerts as slot_alerts, availability, booking as bookings, schemas as sched_schemas,
    slip as slips,
)
from cowin_kit.scheduling.models import (
    Appointment, SessionSlot, SlotAlertSubscription, VaccinationSession,
)
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.web import auth, ui
from cowin_kit.web.auth import citizen_required, current_citizen
from cowin_kit.certificates import services as certificates
from cowin_kit.certificates.formats import qr, shc
from cowin_kit.certificates.pdf import render_certificate_pdf
from cowin_kit.core.validation import load
from cowin_kit.privacy import export as privacy_export
from cowin_kit.privacy.export_pdf import export_pdf

bp = ui.make_blueprint("citizen", __name__)

# The consent text shown on the add-member page; its version is stored with the member.
CONSENT_VERSION = "web-1"
MAX_CENTRES_SHOWN = 12  # 7 days each: keeps the page well under 100 KB
SEARCH_DAYS = 7


def _pack() -> ActivePack:
    return active_pack()


def _locale() -> str:
    return str(get_locale())


def _account() -> CitizenAccount:
    account = current_citizen()
    assert account is not None  # behind citizen_required
    return account


# The per-number and per-IP limits on sending OTPs, counted with the API's, on the forms' posts.
otp_limited = ratelimit.otp_limited(methods=("POST",))


def _masked_mobile(mobile: str) -> str:
    return "•" * max(0, len(mobile) - 4) + mobile[-4:]


# --- start page and sign-in -----------------------------------------------------------------

@bp.get("/")
def home():
    account = current_citizen()
    if account is None:
        return ui.render("web/citizen/landing.html",
                         limit=_pack().document.get("max_beneficiaries_per_account", 4))
    db = get_session()
    members = registration.list_beneficiaries(db, account)
    appointments = bookings.live_appointments(db, [m.beneficiary.id for m in members])
    limit = _pack().document.get("max_beneficiaries_per_account", 4)
    return ui.render("web/citizen/home.html", members=members,
                     bookings=_bookings(appointments, members), limit=limit,
                     mobile=_masked_mobile(account.mobile))


def _bookings(appointments: list[Appointment], members: list) -> list[dict[str, Any]]:
    """Live appointments grouped by booking, with what the page shows of each."""
    db = get_session()
    names = {m.beneficiary.id: m.beneficiary.name for m in members}
    maximum = current_app.config["COWIN_KIT"]["MAX_RESCHEDULES"]
    grouped: dict[str, dict[str, Any]] = {}
    for appointment in appointments:
        booking = grouped.get(appointment.booking_id)
        if booking is None:
            vaccination_session = db.get(VaccinationSession, appointment.session_id)
            facility = db.get(Facility, vaccination_session.facility_id)
            product = db.get(VaccineProduct, vaccination_session.product_id)
            booking = grouped[appointment.booking_id] = {
                "id": appointment.booking_id, "date": vaccination_session.session_date,
                "slot": db.get(SessionSlot, appointment.slot_id).label,
                "centre": ui.pack_label(facility.names, facility.name),
                "address": facility.address, "vaccine": ui.pack_label(product.names, product.code),
                "members": [], "reschedules_left": maximum,
            }
        booking["members"].append((names.get(appointment.beneficiary_id, ""),
                                   appointment.dose_number))
        booking["reschedules_left"] = min(booking["reschedules_left"],
                                          max(0, maximum - appointment.reschedule_count))
    return sorted(grouped.values(), key=lambda b: (b["date"], b["slot"]))


@bp.route("/sign-in", methods=["GET", "POST"])
@otp_limited
def sign_in():
    if current_citizen() is not None and request.method == "GET":
        return redirect(url_for("citizen.home"))
    form = ui.FormState()
    if request.method == "POST":
        try:
            data = ui.load_form(reg_schemas.OtpRequestIn(), ["mobile"])
            transaction = registration.request_otp(get_session(), _pack(), data["mobile"],
                                                   locale=_locale())
        except DomainError as exc:
            form.fail(exc)
        else:
            session["otp_txn"] = transaction.id
            session["otp_mobile"] = transaction.mobile
            ui.done(_("We sent a one-time password by SMS to %(mobile)s.",
                      mobile=_masked_mobile(transaction.mobile)))
            return redirect(url_for("citizen.confirm_otp",
                                    next=ui.safe_next(request.args.get("next"), "") or None),
                            code=303)
    return ui.render("web/citizen/sign_in.html", form=form), form.status


def _keep_visitors_language(account: CitizenAccount) -> None:
    """A language the visitor chose before signing in (the switcher: session or cookie)
    wins over the account's stored one, and is saved to the account."""
    chosen = session.get("locale") or request.cookies.get(ui.LOCALE_COOKIE)
    if chosen and chosen != account.locale and chosen in ui.offered_locales()[0]:
        registration.set_account_locale(get_session(), account, chosen, _pack())


@bp.route("/sign-in/otp", methods=["GET", "POST"])
def confirm_otp():
    transaction_id = session.get("otp_txn")
    if not transaction_id:
        return redirect(url_for("citizen.sign_in"))
    form = ui.FormState()
    if request.method == "POST":
        try:
            data = ui.load_form(reg_schemas.OtpConfirmIn(), ["otp"],
                                extra={"txn_id": transaction_id})
            signed = registration.confirm_otp(get_session(), str(data["txn_id"]), data["otp"],
                                              locale=_locale())
        except DomainError as exc:
            form.fail(exc, field="otp")
            if "txn_id" in form.errors:
                form.errors["otp"] = form.errors.pop("txn_id")
        else:
            session.pop("otp_txn", None)
            session.pop("otp_mobile", None)
            _keep_visitors_language(signed.account)
            auth.sign_in_citizen(signed.account, signed.token)
            ui.done(_("You are signed in."))
            return redirect(ui.safe_next(request.args.get("next"), url_for("citizen.home")),
                            code=303)
    mobile = session.get("otp_mobile", "")
    return ui.render("web/citizen/otp.html", form=form, mobile=_masked_mobile(mobile),
                     raw_mobile=mobile), form.status


@bp.post("/sign-out")
def sign_out():
    auth.sign_out()
    ui.done(_("You are signed out."))
    return redirect(url_for("citizen.home"), code=303)


# --- family members ---------------------------------------------------------------------------

def _id_type_options() -> list[tuple[str, str]]:
    rows = get_session().scalars(select(IdDocumentType).where(IdDocumentType.registration)
                                 .order_by(IdDocumentType.position, IdDocumentType.id))
    return [(row.code, ui.pack_label(row.labels, row.code)) for row in rows]


def _gender_options() -> list[tuple[str, str]]:
    rows = get_session().scalars(select(Gender).order_by(Gender.position, Gender.id))
    return [(row.code, ui.pack_label(row.labels, row.code)) for row in rows]


@bp.route("/members/new", methods=["GET", "POST"])
@citizen_required
def add_member():
    pack = _pack()
    birth_capture = pack.document.get("birth_capture", "year")
    form = ui.FormState()
    if request.method == "POST":
        try:
            if not request.form.get("consent"):
                message = _("Please confirm the consent to register this person.")
                raise InvalidInput(message, code="consent_required",
                                   fields={"consent": [message]})
            data = ui.load_form(
                reg_schemas.BeneficiaryIn(),
                ["name", "birth_date" if birth_capture == "date" else "birth_year", "gender",
                 "id_type", "id_number"],
                extra={"comorbidity": bool(request.form.get("comorbidity")),
                       "consent_version": CONSENT_VERSION})
            view = registration.add_beneficiary(get_session(), pack, _account(), **data)
        except DomainError as exc:
            form.fail(exc)
        else:
            ui.done(_("%(name)s is registered. Reference ID %(reference_id)s.",
                      name=view.beneficiary.name, reference_id=view.beneficiary.reference_id))
            return redirect(url_for("citizen.home"), code=303)
    return ui.render("web/citizen/member_form.html", form=form, birth_capture=birth_capture,
                     id_types=_id_type_options(), genders=_gender_options()), form.status


@bp.post("/members/<reference_id>/delete")
@citizen_required
def delete_member(reference_id: str):
    registration.delete_beneficiary(get_session(), _account(), reference_id)
    ui.done(_("The person was removed from your account."))
    return redirect(url_for("citizen.home"), code=303)


# --- finding sessions -------------------------------------------------------------------------

def _place_choices(chosen: list[str]) -> tuple[list[dict[str, Any]], Location | None]:
    """One select per hierarchy level down to the level below the deepest valid choice:
    [{level, name, param, options, selected}], and the deepest chosen place."""
    db = get_session()
    pack = _pack()
    levels = pack.document["hierarchy"]
    locale = _locale()
    selects: list[dict[str, Any]] = []
    parent: Location | None = None
    for index, level in enumerate(levels, start=1):
        query = select(Location).where(Location.level == index)
        query = query.where(Location.parent_id == parent.id) if parent is not None \
            else query.where(Location.parent_id.is_(None))
        places = list(db.scalars(query.order_by(Location.name)))
        if not places:
            break
        wanted = chosen[index - 1] if index - 1 < len(chosen) else ""
        match = next((p for p in places if p.code == wanted), None)
        selects.append({"level": index, "name": ui.pack_label(level.get("name"), level["key"]),
                        "param": f"place{index}",
                        "options": sorted(((p.code, p.localized_name(locale)) for p in places),
                                          key=lambda item: item[1]),
                        "selected": match.code if match else ""})
        if match is None:
            break
        parent = match
    return selects, parent


def _today(pack: ActivePack) -> date:
    return datetime.now(zoneinfo.ZoneInfo(pack.document["timezone"])).date()


def _product_options() -> list[tuple[str, str]]:
    rows = get_session().scalars(select(VaccineProduct).order_by(VaccineProduct.code))
    return [(row.code, ui.pack_label(row.names, row.code)) for row in rows]


@bp.get("/sessions")
@limited("SEARCH_LIMITS_PER_IP", scope="search")
def sessions():
    pack = _pack()
    args = request.args
    depth = len(pack.document["hierarchy"])
    chosen = [args.get(f"place{n}", "").strip() for n in range(1, depth + 1)]
    selects, place = _place_choices(chosen)
    postal_config = pack.document.get("postal_code")
    postal_code = args.get("postal_code", "").strip() if postal_config else ""
    booking = args.get("booking", "").strip()
    form = ui.FormState(values=args)
    centres: list[availability.CentreAvailability] | None = None
    query: dict[str, Any] = {}
    postal_area: list[availability.Place] | None = None  # the searched PIN's district(s)
    if args.get("search") or place is not None or postal_code:
        raw = {key: args.get(key, "").strip() for key in ("date", "vaccine", "age", "dose",
                                                          "fee_type")}
        raw = {key: value for key, value in raw.items() if value}
        raw.setdefault("date", _today(pack).isoformat())
        raw["days"] = SEARCH_DAYS
        if postal_code:
            raw["postal_code"] = postal_code
        elif place is not None:
            raw["location"] = place.code
        try:
            if "postal_code" not in raw and "location" not in raw:
                message = _("Choose a place or enter a postal code.")
                raise InvalidInput(message, code="invalid_input",
                                   fields={"place1": [message]})

            query = load(sched_schemas.AvailabilityQuery(), raw)
            centres = availability.search(get_session(), query)
            if "postal_code" in query:
                postal_area = availability.postal_code_area(get_session(), query["postal_code"])
        except DomainError as exc:
            form.fail(exc)
            if "location" in form.errors:
                form.errors["place1"] = form.errors.pop("location")
            centres = None
    shown = centres[:MAX_CENTRES_SHOWN] if centres else []
    alert_fields = {key: value for key, value in (
        ("location", query.get("location")), ("postal_code", query.get("postal_code")),
        ("vaccine", query.get("vaccine")), ("dose", query.get("dose")),
        ("age", query.get("age"))) if value}
    return ui.render(
        "web/citizen/sessions.html", form=form, selects=selects, postal=postal_config,
        centres=shown, more=len(centres or []) - len(shown), searched=centres is not None,
        products=_product_options(), booking=booking, alert_fields=alert_fields,
        locale=_locale(),
        postal_area=(None if postal_area is None or centres is None else
                     ", ".join(p.localized_name(_locale()) for p in postal_area)),
        searched_postal_code=query.get("postal_code"),
        closed_day=_today(pack) if bookings.booking_closed(pack, _today(pack)) else None
    ), form.status


# --- booking, rescheduling, cancelling ----------------------------------------------------------

def _session_offer(session_id: str) -> tuple[availability.CentreAvailability,
                                             availability.SessionAvailability]:
    """The session with its seats and slots, as the search shows it."""
    db = get_session()
    vaccination_session = db.get(VaccinationSession, session_id) \
        if len(session_id) == 36 else None
    if vaccination_session is None or vaccination_session.status != "published":
        raise NotFound(_("No such session."), code="session_not_found")
    for centre in availability.find_availability(db, days=[vaccination_session.session_date],
                                               facility_ids=[vaccination_session.facility_id]):
        for item in centre.sessions:
            if item.session.id == vaccination_session.id:
                return centre, item
    raise NotFound(_("No such session."), code="session_not_found")


def _web_account_key() -> str:
    return f"account:{_account().id}"


def booking_limited(view):
    """The API's per-account limit on booking, rescheduling and cancelling (same counter)."""
    return limited("BOOKING_LIMITS_PER_ACCOUNT", scope="booking", key=_web_account_key,
                   methods=("POST",))(view)


@bp.route("/sessions/<session_id>/book", methods=["GET", "POST"])
@citizen_required
@booking_limited
def book(session_id: str):
    account = _account()
    db = get_session()
    booking = (request.values.get("booking") or "").strip()
    rescheduling = bool(booking)
    form = ui.FormState()
    if request.method == "POST":
        try:
            if booking:
                data = ui.load_form(sched_schemas.RescheduleIn(), ["slot"],
                                    extra={"session_id": session_id})
                bookings.reschedule(db, _pack(), account, booking_id=booking,
                                      session_id=str(data["session_id"]), slot=data["slot"])
            else:
                data = ui.load_form(sched_schemas.BookIn(), ["slot", "dose"],
                                    lists=["beneficiaries"], extra={"session_id": session_id})
                appointments = bookings.book(db, _pack(), account,
                                               session_id=str(data["session_id"]),
                                               slot=data["slot"],
                                               reference_ids=data["beneficiaries"],
                                               dose=data.get("dose"))
                booking = appointments[0].booking_id
        except DomainError as exc:
            form.fail(exc)
            # Plainer words than "missing data" for the two choices of this form.
            if "slot" in form.errors and not request.form.get("slot"):
                form.errors["slot"] = [_("Choose a time slot.")]
            if "beneficiaries" in form.errors and not request.form.getlist("beneficiaries"):
                form.errors["beneficiaries"] = [_("Choose at least one person.")]
        else:
            ui.done(_("Your appointment is moved.") if rescheduling
                    else _("Your appointment is booked."))
            return redirect(url_for("citizen.slip_page", booking_id=booking), code=303)
    centre, offer = _session_offer(session_id)
    members = registration.list_beneficiaries(db, account)
    return ui.render("web/citizen/book.html", form=form, centre=centre, offer=offer,
                     members=members, booking=booking, locale=_locale()), form.status


@bp.route("/appointments/<booking_id>/cancel", methods=["GET", "POST"])
@citizen_required
@booking_limited
def cancel(booking_id: str):
    """A confirmation page (all members, or some of them), then the cancellation."""
    account = _account()
    db = get_session()
    form = ui.FormState()
    if request.method == "POST":
        try:
            data = ui.load_form(sched_schemas.CancelIn(), [], lists=["beneficiaries"])
            bookings.cancel(db, account, booking_id=booking_id,
                              reference_ids=data.get("beneficiaries"))
        except DomainError as exc:
            form.fail(exc)
        else:
            ui.done(_("The appointment is cancelled."))
            return redirect(url_for("citizen.home"), code=303)
    appointments = slips.booking_appointments(db, account, booking_id)
    members = registration.list_beneficiaries(db, account)
    booking = _bookings(appointments, members)[0]
    in_booking = {a.beneficiary_id for a in appointments}
    people = [view for view in members if view.beneficiary.id in in_booking]
    return ui.render("web/citizen/cancel.html", form=form, booking=booking,
                     people=people), form.status


def _slip(booking_id: str) -> slips.Slip:
    account = _account()
    db = get_session()
    appointments = slips.booking_appointments(db, account, booking_id)
    locale = slips.slip_locale(account, _pack(), _locale())
    return slips.build_slip(db, appointments, locale, _pack())


@bp.get("/appointments/<booking_id>/slip")
@citizen_required
def slip_page(booking_id: str):
    return ui.render("web/citizen/slip.html", slip=_slip(booking_id))


@bp.get("/appointments/<booking_id>/slip.pdf")
@citizen_required
def slip_pdf(booking_id: str):
    found = _slip(booking_id)
    response = Response(slips.slip_pdf(found), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="appointment-slip-{found.booking_id}.pdf"')
    return response


# --- certificates ------------------------------------------------------------------------------

def _own_certificate(reference_id: str):
    view = registration.get_beneficiary(get_session(), _account(), reference_id)
    return view, certificates.current_certificate(get_session(), view.beneficiary)


@bp.get("/members/<reference_id>/certificate")
@citizen_required
def certificate(reference_id: str):
    view, found = _own_certificate(reference_id)
    formats = certificates.describe(found)["formats"]
    return ui.render("web/citizen/certificate.html", member=view, certificate=found,
                     formats=[name for name in ("dcc", "shc", "vc") if name in formats])


@bp.get("/members/<reference_id>/certificate.pdf")
@citizen_required
def certificate_pdf(reference_id: str):
    _view, found = _own_certificate(reference_id)
    pack = _pack()
    locale = slips.slip_locale(_account(), pack, _locale())
    response = Response(render_certificate_pdf(get_session(), pack, found, locale),
                        mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="certificate-{reference_id}.pdf"')
    return response


@bp.get("/members/<reference_id>/certificate-<kind>.png")
@citizen_required
def certificate_qr(reference_id: str, kind: str):
    _view, found = _own_certificate(reference_id)
    text = certificates.describe(found)["formats"].get(kind)
    builders = {"dcc": qr.dcc_png, "shc": qr.shc_png, "vc": qr.vc_png}
    if text is None or kind not in builders:
        raise NotFound(_("This country does not issue this kind of certificate."),
                       code="format_not_enabled")
    return Response(builders[kind](text, scale=3), mimetype="image/png")


@bp.get("/members/<reference_id>/certificate.smart-health-card")
@citizen_required
def smart_health_card(reference_id: str):
    _view, found = _own_certificate(reference_id)
    if not found.shc:
        raise NotFound(_("This country does not issue SMART Health Cards."),
                       code="format_not_enabled")
    response = Response(shc.card_file([found.shc]), mimetype="application/smart-health-card")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{reference_id}.smart-health-card"')
    return response


# --- seat alerts -------------------------------------------------------------------------------

def _alert_rows(account: CitizenAccount) -> list[dict[str, Any]]:
    db = get_session()
    rows = db.scalars(select(SlotAlertSubscription).where(
        SlotAlertSubscription.account_id == account.id, SlotAlertSubscription.active)
        .order_by(SlotAlertSubscription.id))
    products = {p.code: p for p in db.scalars(select(VaccineProduct))}
    out = []
    for row in rows:
        place = db.get(Location, row.location_id) if row.location_id else None
        product = products.get(row.product_code) if row.product_code else None
        out.append({"id": row.id, "place": place.localized_name(_locale()) if place else None,
                    "postal_code": row.postal_code, "dose": row.dose_number, "age": row.age,
                    "vaccine": ui.pack_label(product.names, product.code) if product else None,
                    "last_notified_at": row.last_notified_at})
    return out


@bp.route("/alerts", methods=["GET", "POST"])
@citizen_required
@limited("SLOT_ALERT_LIMITS_PER_ACCOUNT", scope="slot-alert", key=_web_account_key,
         methods=("POST",))
def alerts():
    account = _account()
    form = ui.FormState()
    if request.method == "POST":
        try:
            data = ui.load_form(sched_schemas.AlertIn(),
                                ["location", "postal_code", "vaccine", "dose", "age"])
            subscribed = slot_alerts.subscribe_slot_alert(
                get_session(), account, age=data["age"], dose=data["dose"],
                location_code=data.get("location"), postal_code=data.get("postal_code"),
                product_code=data.get("vaccine"))
        except DomainError as exc:
            form.fail(exc)
        else:
            ui.done(_("We will send you an SMS when seats are free.") if subscribed.created
                    else _("You already have this alert."))
            return redirect(url_for("citizen.alerts"), code=303)
    return ui.render("web/citizen/alerts.html", form=form, alerts=_alert_rows(account)), \
        form.status


@bp.post("/alerts/<int:alert_id>/delete")
@citizen_required
def delete_alert(alert_id: int):
    slot_alerts.unsubscribe_slot_alert(get_session(), _account(), alert_id)
    ui.done(_("The alert is stopped."))
    return redirect(url_for("citizen.alerts"), code=303)


# --- change of mobile number -----------------------------------------------------------------

@bp.get("/account/data")
@citizen_required
def my_data():
    """What is held about the account's people, and the two ways to download it."""
    return ui.render("web/citizen/data.html", mobile=_masked_mobile(_account().mobile))


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.cache_control.no_store = True
    response.cache_control.private = True
    return response


@bp.get("/account/data.json")
@citizen_required
def my_data_json():
    found = privacy_export.citizen_export(get_session(), _pack(), _account(), fmt="json")
    return _download(json.dumps(found.document, ensure_ascii=False, indent=2).encode(),
                     "application/json", "my-data.json")


@bp.get("/account/data.pdf")
@citizen_required
def my_data_pdf():
    found = privacy_export.citizen_export(get_session(), _pack(), _account(), fmt="pdf")
    return _download(export_pdf(found), "application/pdf", "my-data.pdf")


@bp.route("/account/mobile", methods=["GET", "POST"])
@citizen_required
@otp_limited
def change_mobile():
    account = _account()
    form = ui.FormState()
    if request.method == "POST":
        try:
            data = ui.load_form(reg_schemas.OtpRequestIn(), ["mobile"])
            transaction = registration.request_mobile_change(
                get_session(), _pack(), account, data["mobile"], locale=_locale())
        except DomainError as exc:
            form.fail(exc)
        else:
            session["mobile_txn"] = transaction.id
            session["mobile_new"] = transaction.mobile
            ui.done(_("We sent a one-time password by SMS to %(mobile)s.",
                      mobile=_masked_mobile(transaction.mobile)))
            return redirect(url_for("citizen.confirm_mobile"), code=303)
    return ui.render("web/citizen/mobile.html", form=form,
                     mobile=_masked_mobile(account.mobile)), form.status


@bp.route("/account/mobile/confirm", methods=["GET", "POST"])
@citizen_required
def confirm_mobile():
    transaction_id = session.get("mobile_txn")
    if not transaction_id:
        return redirect(url_for("citizen.change_mobile"))
    form = ui.FormState()
    if request.method == "POST":
        try:
            data = ui.load_form(reg_schemas.OtpConfirmIn(), ["otp"],
                                extra={"txn_id": transaction_id})
            signed = registration.confirm_mobile_change(get_session(), _account(),
                                                        str(data["txn_id"]), data["otp"])
        except DomainError as exc:
            form.fail(exc, field="otp")
        else:
            session.pop("mobile_txn", None)
            session.pop("mobile_new", None)
            auth.sign_in_citizen(signed.account, signed.token)
            ui.done(_("Your account now uses the number %(mobile)s.",
                      mobile=_masked_mobile(signed.account.mobile)))
            return redirect(url_for("citizen.home"), code=303)
    return ui.render("web/citizen/mobile_confirm.html", form=form,
                     mobile=_masked_mobile(session.get("mobile_new", ""))), form.status
