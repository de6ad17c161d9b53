"""The /api/v2 blueprint (CoWIN compatibility) that api.v2, api.v2_appointments,
api.v2_certificates and api.slips add their routes to, and its CoWIN-style error bodies."""

from __future__ import annotations

from flask import Blueprint, Response, json

from cowin_kit.core.errors import DomainError

bp = Blueprint("api_v2", __name__, url_prefix="/api/v2")

LOCATION_TTL_HOURS = 24

# Our stable codes -> CoWIN-style error codes (documented in docs/api.md).
ERROR_CODES = {
    "invalid_input": "USRRES0001", "invalid_json": "USRRES0001",
    "invalid_mobile": "USRAUT0001", "otp_resend_too_soon": "USRAUT0002",
    "too_many_requests": "USRAUT0003", "otp_unknown": "USRAUT0004", "otp_used": "USRAUT0005",
    "otp_expired": "USRAUT0006", "otp_attempts_exceeded": "USRAUT0007",
    "otp_invalid": "USRAUT0008", "invalid_token": "USRAUT0009",
    "beneficiary_limit_reached": "USRRES0011", "id_already_registered": "USRRES0012",
    "invalid_id_number": "USRRES0013", "too_young_for_id_type": "USRRES0014",
    "unknown_id_type": "USRRES0015", "unknown_gender": "USRRES0016",
    "beneficiary_not_found": "USRRES0017", "beneficiary_vaccinated": "USRRES0018",
    "invalid_birth_year": "USRRES0019", "location_not_found": "USRRES0020",
    "invalid_api_key": "USRAUT0010", "partner_rate_limited": "USRAUT0011",
    "fully_booked": "APPOIN0040", "already_booked": "APPOIN0041", "session_not_found": "APPOIN0042",
    "invalid_slot": "APPOIN0043", "appointment_not_found": "APPOIN0044",
    "session_cancelled": "APPOIN0045", "session_in_past": "APPOIN0046",
    "same_day_cutoff": "APPOIN0047", "dose_not_offered": "APPOIN0048",
    "dose_already_given": "APPOIN0049", "dose_order": "APPOIN0050",
    "age_not_eligible": "APPOIN0051", "no_schedule": "APPOIN0052",
    "schedule_complete": "APPOIN0053", "product_mismatch": "APPOIN0054",
    "too_early": "APPOIN0055", "too_late": "APPOIN0056", "reschedule_too_late": "APPOIN0057",
    "reschedule_limit": "APPOIN0058", "invalid_date": "APPOIN0059",
    "invalid_beneficiaries": "APPOIN0060",
}


@bp.errorhandler(DomainError)
def _cowin_error(exc: DomainError) -> Response:
    status = exc.status if exc.status in (401, 404, 409, 429) else 400
    body = {"errorCode": ERROR_CODES.get(exc.code, "USRRES0000"), "error": str(exc.message)}
    return Response(json.dumps(body), status=status, mimetype="application/json")
