"""CoWIN v2 availability and appointments (routes on the /api/v2 blueprint)."""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask import Response, jsonify, request
from marshmallow import Schema, fields, validate

from cowin_kit.api import citizen, citizen_token, pack, request_locale
from cowin_kit.core.validation import load
from cowin_kit.api.scheduling import booking_limited
from cowin_kit.core.cache import cached_response
from cowin_kit.api.v2_blueprint import bp
from cowin_kit.core.db import get_read_session, get_session
from cowin_kit.core.errors import InvalidInput, NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.core.ratelimit import limited
from cowin_kit.registration.models import Beneficiary
from cowin_kit.scheduling import availability, booking as bookings, rules
from cowin_kit.geography.models import Facility
from cowin_kit.scheduling.models import SessionSlot, VaccinationSession


def _cowin_date(text: str | None) -> date:
    try:
        return datetime.strptime(str(text), "%d-%m-%Y").date()
    except ValueError:
        raise InvalidInput(_("Give the date as DD-MM-YYYY."), code="invalid_date") from None


def _int_arg(name: str) -> int:
    try:
        value = int(request.args.get(name, ""))
    except ValueError:
        raise InvalidInput(_("%(name)s must be a number.", name=name), code="invalid_input") from None
    if not 0 < value < 2**31:
        raise InvalidInput(_("%(name)s must be a number.", name=name), code="invalid_input")
    return value


def _pincode_arg() -> str:
    value = request.args.get("pincode", "").strip()
    if not value or len(value) > 16 or "\x00" in value:
        raise InvalidInput(_("Give a postal code."), code="invalid_input")
    return value


def _names(path: list[availability.Place], level: int, locale: str) -> tuple[str, str]:
    if len(path) >= level:
        place = path[level - 1]
        return place.name, place.localized_name(locale)
    return "", ""


def _path_names(path: list[availability.Place], locale: str, memo: dict | None) -> tuple:
    """(state, state_l, district, district_l, block, block_l) of a path; ``memo`` keeps
    them for the answer being built (its centres share their path lists per place)."""
    names = memo.get(id(path)) if memo is not None else None
    if names is None:
        names = (*_names(path, 1, locale), *_names(path, 2, locale), *_names(path, 3, locale))
        if memo is not None:
            memo[id(path)] = names
    return names


def _centre_fields(centre: availability.CentreAvailability, locale: str,
                   memo: dict | None = None) -> dict:
    facility = centre.facility
    state, state_l, district, district_l, block, block_l = _path_names(centre.path, locale,
                                                                       memo)
    pincode = facility.postal_code or ""
    return {
        "center_id": facility.id, "name": facility.name,
        "name_l": facility.names.get(locale) or facility.name,
        "address": facility.address, "address_l": facility.address,
        "state_name": state, "state_name_l": state_l,
        "district_name": district, "district_name_l": district_l,
        "block_name": block, "block_name_l": block_l,
        "pincode": int(pincode) if pincode.isdigit() else pincode,
        "lat": facility.latitude or 0, "long": facility.longitude or 0,
        "from": _clock(facility.opens_at) if facility.opens_at else "09:00:00",
        "to": _clock(facility.closes_at) if facility.closes_at else "17:00:00",
        "fee_type": facility.fee_type,
    }


# Formatting of the few distinct values an answer repeats (days, fees, opening hours),
# remembered per process; bounded, so arbitrary data cannot grow them.
@functools.lru_cache(maxsize=1024)
def _clock(moment: time) -> str:
    return f"{moment:%H:%M:%S}"


@functools.lru_cache(maxsize=1024)
def _cowin_day(day: date) -> str:
    return day.strftime("%d-%m-%Y")


@functools.lru_cache(maxsize=1024)
def _whole_fee(fee: Decimal) -> str:
    return f"{fee:.0f}"


def _vaccine_label(names: dict[str, str]) -> str:
    return (names.get("en") or next(iter(names.values()))).upper()


def _session_fields(item: availability.SessionAvailability, locale: str,
                    labels: dict | None = None) -> dict:
    """A session's CoWIN fields; ``labels`` remembers vaccine labels for one answer (its
    sessions share a few products' names documents)."""
    session, available = item.session, item.available
    names = item.product_names
    if labels is None:
        vaccine = _vaccine_label(names)
    else:
        vaccine = labels.get(id(names))
        if vaccine is None:
            vaccine = labels[id(names)] = _vaccine_label(names)
    out = {
        "session_id": session.id, "date": _cowin_day(session.session_date),
        "available_capacity": max(0, sum(available.values())),
        "available_capacity_dose1": max(0, available.get(1, 0)),
        "available_capacity_dose2": max(0, available.get(2, 0)),
        "min_age_limit": session.min_age,
        "vaccine": vaccine, "fee": _whole_fee(session.fee),
        "slots": [slot.cowin_label for slot in item.slots],
    }
    if session.max_age is not None:
        out["max_age_limit"] = session.max_age
    return out


def _flat_sessions(centres: list[availability.CentreAvailability], locale: str) -> Response:
    sessions = []
    memo: dict = {}
    labels: dict = {}  # the names documents outlive the answer: ids stay unique
    for centre in centres:
        base = _centre_fields(centre, locale, memo)
        for item in centre.sessions:
            sessions.append(base | _session_fields(item, locale, labels))
    return jsonify(sessions=sessions)


def _calendar(centres: list[availability.CentreAvailability], locale: str) -> Response:
    out = []
    memo: dict = {}
    labels: dict = {}
    for centre in centres:
        fields_ = _centre_fields(centre, locale, memo)
        sessions = [_session_fields(item, locale, labels) for item in centre.sessions]
        if centre.facility.fee_type == "Paid":
            fees = {}
            for item, session_fields in zip(centre.sessions, sessions):
                fees[session_fields["vaccine"]] = _whole_fee(item.session.fee)
            fields_["vaccine_fees"] = [{"vaccine": v, "fee": f} for v, f in fees.items()]
        fields_["sessions"] = sessions
        out.append(fields_)
    return jsonify(centers=out)


def _district_id() -> int:
    district_id = _int_arg("district_id")
    location = availability.place(get_read_session(), district_id)
    if location is None or location.level != 2:
        raise NotFound(_("No such district."), code="location_not_found")
    return district_id


def _find(days: int, **where) -> list[availability.CentreAvailability]:
    start = _cowin_date(request.args.get("date"))
    return availability.find_availability(get_read_session(),
                                      days=[start + timedelta(days=n) for n in range(days)],
                                      **where)


def _route_pair(path: str, endpoint: str, public_view, private_view=None):
    """Register the public (cached, rate limited) and the signed-in (real-time) variant."""
    bp.add_url_rule(f"/appointment/sessions/public/{path}", f"public_{endpoint}",
                    limited("SEARCH_LIMITS_PER_IP", scope="search")(public_view))
    if private_view is not None:
        bp.add_url_rule(f"/appointment/sessions/{path}", endpoint, private_view)


def _public(view):
    return cached_response(view)


def _signed_in(view):
    def wrapped():
        citizen()
        response = view()
        response.cache_control.no_store = True
        return response
    wrapped.__name__ = view.__name__ + "_private"
    return wrapped


def find_by_pin():
    return _flat_sessions(_find(1, postal_code=_pincode_arg()), request_locale())


def find_by_district():
    return _flat_sessions(_find(1, location_id=_district_id()), request_locale())


def calendar_by_pin():
    return _calendar(_find(7, postal_code=_pincode_arg()), request_locale())


def calendar_by_district():
    return _calendar(_find(7, location_id=_district_id()), request_locale())


def calendar_by_center():
    centres = _find(7, facility_ids=[_int_arg("center_id")])
    if not centres:
        return jsonify(centers={})
    return _calendar(centres, request_locale())


for _path, _endpoint, _view, _private in (
        ("findByPin", "find_by_pin", find_by_pin, True),
        ("findByDistrict", "find_by_district", find_by_district, True),
        ("calendarByPin", "calendar_by_pin", calendar_by_pin, True),
        ("calendarByDistrict", "calendar_by_district", calendar_by_district, True),
        ("calendarByCenter", "calendar_by_center", calendar_by_center, False)):
    _route_pair(_path, _endpoint, _public(_view), _signed_in(_view) if _private else None)


@bp.get("/appointment/centers/public/findByLatLong")
@limited("SEARCH_LIMITS_PER_IP", scope="search")
@cached_response
def find_by_lat_long():
    try:
        lat, lon = float(request.args["lat"]), float(request.args["long"])
    except (KeyError, ValueError):
        raise InvalidInput(_("Give lat and long as numbers."), code="invalid_input") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput(_("Give lat and long as numbers."), code="invalid_input")
    locale = request_locale()
    session = get_read_session()
    cache: dict[int, list[availability.Place]] = {}
    centers = []
    for facility, km in availability.nearest_facilities(session, lat, lon):
        path = availability.location_path(session, facility.location_id, cache)
        centres = availability.CentreAvailability(facility, path)
        base = _centre_fields(centres, locale)
        centers.append({key: base[key] for key in (
            "center_id", "name", "name_l", "district_name", "district_name_l", "state_name",
            "state_name_l", "block_name", "block_name_l", "pincode", "lat", "long")}
            | {"location": facility.address, "location_l": facility.address})
    return jsonify(centers=centers, ttl=24)


# --- appointments -------------------------------------------------------------------------

class ScheduleIn(Schema):
    dose = fields.Integer(required=True, validate=validate.Range(min=1, max=20))
    session_id = fields.UUID(required=True)
    slot = fields.String(required=True, validate=validate.Length(min=1, max=32))
    beneficiaries = fields.List(fields.String(validate=validate.Length(min=1, max=20)),
                                required=True, validate=validate.Length(min=1, max=20))
    center_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    captcha = fields.String()


class RescheduleIn(Schema):
    appointment_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    session_id = fields.UUID(required=True)
    slot = fields.String(required=True, validate=validate.Length(min=1, max=32))


class CancelIn(Schema):
    appointment_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    beneficiariesToCancel = fields.List(fields.String(validate=validate.Length(min=1, max=20)),
                                        validate=validate.Length(min=1, max=20))


# One instance of each schema per process (see cowin_kit/api/scheduling.py).
SCHEDULE_IN = ScheduleIn()
RESCHEDULE_IN = RescheduleIn()
CANCEL_IN = CancelIn()


@bp.post("/appointment/schedule")
@booking_limited
def schedule():
    data = load(SCHEDULE_IN)
    booking = bookings.book_seats(get_session(), pack(), citizen_token(),
                                  session_id=str(data["session_id"]), slot=data["slot"],
                                  reference_ids=data["beneficiaries"], dose=data["dose"])
    return jsonify(appointment_confirmation_no=booking.booking_id)


@bp.post("/appointment/reschedule")
@booking_limited
def reschedule():
    data = load(RESCHEDULE_IN)
    bookings.reschedule(get_session(), pack(), citizen(), booking_id=data["appointment_id"],
                        session_id=str(data["session_id"]), slot=data["slot"])
    return "", 204


@bp.post("/appointment/cancel")
@booking_limited
def cancel():
    data = load(CANCEL_IN)
    bookings.cancel(get_session(), citizen(), booking_id=data["appointment_id"],
                    reference_ids=data.get("beneficiariesToCancel"))
    return "", 204


def appointments_of(beneficiary: Beneficiary, locale: str) -> list[dict]:
    """`appointments[]` of /api/v2/appointment/beneficiaries."""
    session = get_session()
    out = []
    cache: dict[int, list[availability.Place]] = {}
    for appointment in bookings.live_appointments(session, [beneficiary.id]):
        vaccination_session = session.get(VaccinationSession, appointment.session_id)
        facility = session.get(Facility, vaccination_session.facility_id)
        slot = session.get(SessionSlot, appointment.slot_id)
        centre = availability.CentreAvailability(
            facility, availability.location_path(session, facility.location_id, cache))
        base = _centre_fields(centre, locale)
        out.append({
            "appointment_id": appointment.booking_id, "center_id": facility.id,
            "name": base["name"], "state_name": base["state_name"],
            "district_name": base["district_name"], "block_name": base["block_name"],
            "from": base["from"], "to": base["to"], "dose": appointment.dose_number,
            "session_id": vaccination_session.id,
            "date": vaccination_session.session_date.strftime("%d-%m-%Y"),
            "slot": rules.cowin_slot_label(slot),
        })
    return out
