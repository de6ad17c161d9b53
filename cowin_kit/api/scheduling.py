"""Availability and booking, /api/v1."""

from __future__ import annotations


from flask import Blueprint, current_app, jsonify, request

from cowin_kit.api import citizen, citizen_token, pack, request_locale
from cowin_kit.core.validation import load
from cowin_kit.core.apidoc import doc
from cowin_kit.core.cache import cached_response
from cowin_kit.core.db import get_read_session, get_session
from cowin_kit.core.ratelimit import limited
from cowin_kit.registration.models import Beneficiary
from cowin_kit.scheduling import availability, booking as bookings, schemas
from cowin_kit.scheduling.models import Appointment, SessionSlot, VaccinationSession
from cowin_kit.geography.models import Facility

bp = Blueprint("api_scheduling", __name__, url_prefix="/api/v1")

# One instance of each schema per process, not one per request: building a schema copies
# all of its fields, which cost more than the load or dump; load and dump keep no state.
AVAILABILITY_QUERY = schemas.AvailabilityQuery()
AVAILABILITY_OUT = schemas.AvailabilityOut()
BOOK_IN = schemas.BookIn()
RESCHEDULE_IN = schemas.RescheduleIn()
CANCEL_IN = schemas.CancelIn()
BOOKING_OUT = schemas.BookingOut()
APPOINTMENT_LIST_OUT = schemas.AppointmentListOut()


def account_key() -> str:
    # the token's account, without reading it: the view checks the account itself
    return f"account:{citizen_token().id}"


def booking_limited(view):
    """BOOKING_LIMITS_PER_ACCOUNT on booking, rescheduling and cancelling (API and v2)."""
    return limited("BOOKING_LIMITS_PER_ACCOUNT", scope="booking", key=account_key)(view)


def centre_json(centre: availability.CentreAvailability, locale: str) -> dict:
    facility = centre.facility
    return {
        "facility_code": facility.code,
        "name": facility.names.get(locale) or facility.name,
        "address": facility.address, "postal_code": facility.postal_code,
        "location": [place.localized_name(locale) for place in centre.path],
        "lat": facility.latitude, "long": facility.longitude, "fee_type": facility.fee_type,
        "distance_km": round(centre.distance_km, 2) if centre.distance_km is not None else None,
        "sessions": [{
            "session_id": item.session.id, "date": item.session.session_date,
            "vaccine": item.product_code,
            "vaccine_name": item.product_names.get(locale) or next(iter(item.product_names.values())),
            "min_age": item.session.min_age, "max_age": item.session.max_age,
            "fee": str(item.session.fee),
            "available": {str(n): left for n, left in sorted(item.available.items())},
            "slots": [{"slot": slot.label, "available": slot.capacity - slot.booked}
                      for slot in item.slots],
        } for item in centre.sessions],
    }


@bp.get("/sessions")
@limited("SEARCH_LIMITS_PER_IP", scope="search")
@cached_response
@doc("Find sessions with seats by place, postal code or position (cached; "
     "query: location|postal_code|lat+long, date, days=1|7, vaccine, age, dose, fee_type)",
     response=schemas.AvailabilityOut, tag="availability")
def search():
    query = load(AVAILABILITY_QUERY, request.args.to_dict())
    locale = request_locale()
    body = {"centres": [centre_json(c, locale)
                        for c in availability.search(get_read_session(), query)]}
    return jsonify(AVAILABILITY_OUT.dump(body))


def appointment_json(appointment: Appointment) -> dict:
    session = get_session()
    vaccination_session = session.get(VaccinationSession, appointment.session_id)
    slot = session.get(SessionSlot, appointment.slot_id)
    facility = session.get(Facility, vaccination_session.facility_id)
    maximum = current_app.config["COWIN_KIT"]["MAX_RESCHEDULES"]
    return {
        "appointment_id": appointment.id, "booking_id": appointment.booking_id,
        "beneficiary": session.get(Beneficiary, appointment.beneficiary_id).reference_id,
        "dose": appointment.dose_number, "session_id": vaccination_session.id,
        "date": vaccination_session.session_date, "slot": slot.label,
        "facility_code": facility.code,
        "facility_name": facility.names.get(request_locale()) or facility.name,
        "status": appointment.status,
        "reschedules_left": max(0, maximum - appointment.reschedule_count),
    }


def _booking_json(appointments: list[Appointment]) -> dict:
    return BOOKING_OUT.dump({
        "booking_id": appointments[0].booking_id if appointments else "",
        "appointments": [appointment_json(a) for a in appointments]})


def _booked_json(booking: bookings.Booking) -> dict:
    """_booking_json of a new booking, from the rows book_seats read and wrote (the
    appointment_json of each appointment, without reading them again)."""
    session, slot = booking.session, booking.slot
    names = session.facility_names
    # the locale only matters if the facility has names per language (working it out is
    # about half of the answer's CPU)
    facility_name = (names.get(request_locale()) if names else None) or session.facility_name
    maximum = current_app.config["COWIN_KIT"]["MAX_RESCHEDULES"]
    references = {member.id: member.reference_id for member in booking.members}
    return BOOKING_OUT.dump({"booking_id": booking.booking_id, "appointments": [{
        "appointment_id": row["id"], "booking_id": row["booking_id"],
        "beneficiary": references[row["beneficiary_id"]],
        "dose": row["dose_number"], "session_id": session.id,
        "date": session.session_date, "slot": slot.label,
        "facility_code": session.facility_code, "facility_name": facility_name,
        "status": row["status"],
        "reschedules_left": max(0, maximum - row["reschedule_count"]),
    } for row in booking.rows]})


@bp.get("/appointments")
@doc("Live appointments of my account", response=schemas.AppointmentListOut, auth="citizen",
     tag="booking")
def list_appointments():
    account = citizen()
    ids = [b.id for b in account.beneficiaries]
    rows = bookings.live_appointments(get_session(), ids)
    return jsonify(APPOINTMENT_LIST_OUT.dump(
        {"appointments": [appointment_json(a) for a in rows]}))


@bp.post("/appointments")
@booking_limited
@doc("Book a session and slot for members of my account", body=schemas.BookIn,
     response=schemas.BookingOut, status=201, auth="citizen", tag="booking")
def book():
    data = load(BOOK_IN)
    booking = bookings.book_seats(get_session(), pack(), citizen_token(),
                                  session_id=str(data["session_id"]), slot=data["slot"],
                                  reference_ids=data["beneficiaries"], dose=data.get("dose"))
    return jsonify(_booked_json(booking)), 201


@bp.post("/appointments/<booking_id>/reschedule")
@booking_limited
@doc("Move a booking to another session (before its day)", body=schemas.RescheduleIn,
     response=schemas.BookingOut, auth="citizen", tag="booking")
def reschedule(booking_id: str):
    data = load(RESCHEDULE_IN)
    appointments = bookings.reschedule(get_session(), pack(), citizen(), booking_id=booking_id,
                                       session_id=str(data["session_id"]), slot=data["slot"])
    return jsonify(_booking_json(appointments))


@bp.post("/appointments/<booking_id>/cancel")
@booking_limited
@doc("Cancel a booking, or some of its members", body=schemas.CancelIn,
     response=schemas.BookingOut, auth="citizen", tag="booking")
def cancel(booking_id: str):
    data = load(CANCEL_IN)
    cancelled = bookings.cancel(get_session(), citizen(), booking_id=booking_id,
                                reference_ids=data.get("beneficiaries"))
    return jsonify(_booking_json(cancelled))

