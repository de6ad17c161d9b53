"""The CoWIN API v2 (/api/v2) in the OpenAPI document: what each route takes (the same
marshmallow schemas its view loads, under CoWIN-prefixed names) and answers (the shapes of
CoWIN's public API on API Setu and its Protected API spec 2.1.0, as docs/api.md lists).
Its views are registered without ``@doc`` (some by ``add_url_rule`` in pairs), so they are
described here by endpoint name."""

from __future__ import annotations

from marshmallow import Schema, fields

from cowin_kit.api import v2, v2_appointments
from cowin_kit.core.apidoc import describe

CITIZEN = "citizen"


# Request bodies: the views' own schemas, named for the document.
class CowinGenerateOtpIn(v2.GenerateOtpIn):
    pass


class CowinConfirmOtpIn(v2.ConfirmOtpIn):
    pass


class CowinNewBeneficiaryIn(v2.NewBeneficiaryIn):
    pass


class CowinDeleteBeneficiaryIn(v2.DeleteBeneficiaryIn):
    pass


class CowinScheduleIn(v2_appointments.ScheduleIn):
    pass


class CowinRescheduleIn(v2_appointments.RescheduleIn):
    pass


class CowinCancelIn(v2_appointments.CancelIn):
    pass


# Query strings.
class ByPinQuery(Schema):
    pincode = fields.String(required=True, metadata={"description": "Postal code (PIN)"})
    date = fields.String(required=True, metadata={"description": "DD-MM-YYYY"})


class ByDistrictQuery(Schema):
    district_id = fields.Integer(required=True)
    date = fields.String(required=True, metadata={"description": "DD-MM-YYYY"})


class ByCenterQuery(Schema):
    center_id = fields.Integer(required=True)
    date = fields.String(required=True, metadata={"description": "DD-MM-YYYY"})


class LatLongQuery(Schema):
    lat = fields.Float(required=True)
    long = fields.Float(required=True)


class BeneficiaryQuery(Schema):
    beneficiary_reference_id = fields.String(required=True)


class AppointmentQuery(Schema):
    appointment_id = fields.String(required=True,
                                   metadata={"description": "appointment_confirmation_no"})


_SESSION = {"center_id": 1234, "name": "PHC Rampur", "address": "Main road",
            "state_name": "Kerala", "district_name": "Thiruvananthapuram",
            "block_name": "", "pincode": 695001, "lat": 8, "long": 76,
            "from": "09:00:00", "to": "17:00:00", "fee_type": "Free", "fee": "0",
            "session_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "date": "31-05-2021",
            "available_capacity": 10, "available_capacity_dose1": 6,
            "available_capacity_dose2": 4, "min_age_limit": 18, "vaccine": "COVISHIELD",
            "slots": ["09:00AM-11:00AM"]}
_CENTRE = {key: _SESSION[key] for key in ("center_id", "name", "address", "state_name",
                                          "district_name", "block_name", "pincode", "lat",
                                          "long", "from", "to", "fee_type")} | {
    "sessions": [{key: _SESSION[key] for key in (
        "session_id", "date", "available_capacity", "available_capacity_dose1",
        "available_capacity_dose2", "min_age_limit", "vaccine", "slots")}]}


def _sessions(summary: str, query: type[Schema], calendar: bool, public: bool):
    example = {"centers": [_CENTRE]} if calendar else {"sessions": [_SESSION]}
    return describe(summary + (" (cached up to 30 minutes)" if public
                               else " (real-time, with the citizen's token)"),
                    query=query, auth=None if public else CITIZEN,
                    tag="cowin-v2-appointment", response_example=example)


V2_DOCS = {
    "api_v2.public_generate_otp": describe(
        "Send an OTP to a mobile number", body=CowinGenerateOtpIn, tag="cowin-v2-auth",
        response_example={"txnId": "3fa85f64-5717-4562-b3fc-2c963f66afa6"}),
    "api_v2.generate_otp": describe(
        "Send an OTP to a mobile number (CoWIN's authenticated variant)",
        body=CowinGenerateOtpIn, tag="cowin-v2-auth",
        response_example={"txnId": "3fa85f64-5717-4562-b3fc-2c963f66afa6"}),
    "api_v2.public_confirm_otp": describe(
        "Confirm the OTP (its SHA-256 hex) and get a token", body=CowinConfirmOtpIn,
        tag="cowin-v2-auth", response_example={"token": "..."}),
    "api_v2.confirm_otp": describe(
        "Confirm the OTP and get a token, saying whether the account is new",
        body=CowinConfirmOtpIn, tag="cowin-v2-auth",
        response_example={"token": "...", "isNewAccount": "N"}),
    "api_v2.id_types": describe(
        "Photo ID types", tag="cowin-v2-registration",
        response_example={"types": [{"id": 1, "type": "Aadhaar Card"}]}),
    "api_v2.genders": describe(
        "Genders", tag="cowin-v2-registration",
        response_example={"genders": [{"id": 1, "gender": "Male"}]}),
    "api_v2.new_beneficiary": describe(
        "Register a beneficiary on my account", body=CowinNewBeneficiaryIn, auth=CITIZEN,
        tag="cowin-v2-registration",
        response_example={"beneficiary_reference_id": "12345678901234"}),
    "api_v2.delete_beneficiary": describe(
        "Delete a beneficiary of my account (204)", body=CowinDeleteBeneficiaryIn,
        auth=CITIZEN, status=204, tag="cowin-v2-registration"),
    "api_v2.beneficiaries": describe(
        "My account's beneficiaries with their vaccination status and appointments",
        auth=CITIZEN, tag="cowin-v2-appointment",
        response_example={"beneficiaries": [{
            "beneficiary_reference_id": "12345678901234", "name": "Asha Devi",
            "birth_year": "1980", "gender": "Female", "photo_id_type": "Aadhaar Card",
            "photo_id_number": "XXXXXXXX1234", "comorbidity_ind": "N",
            "vaccination_status": "Not Vaccinated", "vaccine": "", "dose1_date": "",
            "dose2_date": "", "appointments": []}]}),
    "api_v2.states": describe(
        "States", tag="cowin-v2-location",
        response_example={"states": [{"state_id": 1, "state_name": "Kerala",
                                      "state_name_l": "കേരളം"}], "ttl": 24}),
    "api_v2.districts": describe(
        "Districts of a state", tag="cowin-v2-location",
        response_example={"districts": [{"district_id": 296,
                                         "district_name": "Thiruvananthapuram"}], "ttl": 24}),
    "api_v2.public_find_by_pin": _sessions("Sessions of a day by PIN", ByPinQuery, False, True),
    "api_v2.find_by_pin": _sessions("Sessions of a day by PIN", ByPinQuery, False, False),
    "api_v2.public_find_by_district": _sessions("Sessions of a day by district",
                                                ByDistrictQuery, False, True),
    "api_v2.find_by_district": _sessions("Sessions of a day by district", ByDistrictQuery,
                                         False, False),
    "api_v2.public_calendar_by_pin": _sessions("Seven days of sessions by PIN", ByPinQuery,
                                               True, True),
    "api_v2.calendar_by_pin": _sessions("Seven days of sessions by PIN", ByPinQuery, True,
                                        False),
    "api_v2.public_calendar_by_district": _sessions("Seven days of sessions by district",
                                                    ByDistrictQuery, True, True),
    "api_v2.calendar_by_district": _sessions("Seven days of sessions by district",
                                             ByDistrictQuery, True, False),
    "api_v2.public_calendar_by_center": _sessions("Seven days of sessions of a centre",
                                                  ByCenterQuery, True, True),
    "api_v2.find_by_lat_long": describe(
        "Centres near a point", query=LatLongQuery, tag="cowin-v2-appointment",
        response_example={"centers": [{"center_id": 1234, "name": "PHC Rampur",
                                       "district_name": "Thiruvananthapuram",
                                       "state_name": "Kerala", "location": "Main road",
                                       "pincode": "695001", "lat": "8.5", "long": "76.9"}],
                          "ttl": 24}),
    "api_v2.schedule": describe(
        "Book a slot for beneficiaries of my account", body=CowinScheduleIn, auth=CITIZEN,
        tag="cowin-v2-appointment",
        response_example={"appointment_confirmation_no": "3fa85f64-5717-4562-b3fc-2c963f66afa6"}),
    "api_v2.reschedule": describe(
        "Move an appointment to another session or slot (204)", body=CowinRescheduleIn,
        auth=CITIZEN, status=204, tag="cowin-v2-appointment"),
    "api_v2.cancel": describe(
        "Cancel an appointment (for some or all of its beneficiaries; 204)", body=CowinCancelIn,
        auth=CITIZEN, status=204, tag="cowin-v2-appointment"),
    "api_v2.cowin_slip_download": describe(
        "The appointment slip (PDF)", query=AppointmentQuery, auth=CITIZEN,
        tag="cowin-v2-appointment", content_type="application/pdf"),
    "api_v2.cowin_public_certificate_download": describe(
        "The certificate of a beneficiary of my account (PDF)", query=BeneficiaryQuery,
        auth=CITIZEN, tag="cowin-v2-certificate", content_type="application/pdf"),
    "api_v2.cowin_certificate_download": describe(
        "The certificate of a beneficiary of my account (PDF)", query=BeneficiaryQuery,
        auth=CITIZEN, tag="cowin-v2-certificate", content_type="application/pdf"),
}
