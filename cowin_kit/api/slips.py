"""Appointment slips: PDF and printable page (/api/v1), and CoWIN's slip download
(/api/v2). Only the booking's own account gets its slip (404 for anyone else)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from cowin_kit.api import citizen, pack, request_locale
from cowin_kit.api.v2_blueprint import bp as v2_bp
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import InvalidInput
from cowin_kit.core.i18n import gettext as _
from cowin_kit.scheduling import slip

bp = Blueprint("api_slips", __name__, url_prefix="/api/v1")


def _own_slip(booking_id: str) -> slip.Slip:
    account = citizen()
    session = get_session()
    appointments = slip.booking_appointments(session, account, booking_id)
    locale = slip.slip_locale(account, pack(), request_locale())
    return slip.build_slip(session, appointments, locale, pack())


def _private(response: Response) -> Response:
    # The slip shows the secret codes: never kept by shared caches or the browser cache.
    response.cache_control.no_store = True
    response.cache_control.private = True
    return response


def _pdf(found: slip.Slip) -> Response:
    response = Response(slip.slip_pdf(found), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="appointment-slip-{found.booking_id}.pdf"')
    return _private(response)


@bp.get("/appointments/<booking_id>/slip.pdf")
@doc("Appointment slip of one of my bookings, as PDF (in my account's language)",
     auth="citizen", tag="booking", content_type="application/pdf")
def slip_pdf(booking_id: str):
    return _pdf(_own_slip(booking_id))


@bp.get("/appointments/<booking_id>/slip")
@doc("Appointment slip of one of my bookings, as a printable page",
     auth="citizen", tag="booking", content_type="text/html")
def slip_page(booking_id: str):
    return _private(Response(slip.slip_html(_own_slip(booking_id)), mimetype="text/html"))


@v2_bp.get("/appointment/appointmentslip/download")
def cowin_slip_download():
    """CoWIN: the slip PDF of ``appointment_id`` (the appointment_confirmation_no)."""
    appointment_id = request.args.get("appointment_id", "").strip()
    if not appointment_id:
        raise InvalidInput(_("Give the appointment_id."), code="invalid_input")
    return _pdf(_own_slip(appointment_id))
