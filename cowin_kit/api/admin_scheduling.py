"""Facility and session management for staff, and citizens' slot alerts, /api/v1."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, jsonify
from sqlalchemy import select

from cowin_kit.api import citizen, pack
from cowin_kit.api.scheduling import account_key
from cowin_kit.core.validation import load
from cowin_kit.api.staff import staff
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.core.ratelimit import limited
from cowin_kit.geography.models import Facility, Location
from cowin_kit.scheduling import admin, alerts, schemas, sessions
from cowin_kit.scheduling.models import (
    SessionDoseCapacity, SlotAlertSubscription, VaccinationSession,
)
from cowin_kit.programme.models import VaccineProduct

bp = Blueprint("api_admin_scheduling", __name__, url_prefix="/api/v1")


def _session_json(vaccination_session: VaccinationSession) -> dict:
    session = get_session()
    caps = list(session.scalars(select(SessionDoseCapacity).where(
        SessionDoseCapacity.session_id == vaccination_session.id)))
    return schemas.ManagedSessionOut().dump({
        "session_id": vaccination_session.id,
        "facility": session.get(Facility, vaccination_session.facility_id).code,
        "date": vaccination_session.session_date,
        "vaccine": session.get(VaccineProduct, vaccination_session.product_id).code,
        "other_vaccines": [p.code for p in sessions.offered_products(
            session, vaccination_session)[1:]],
        "kind": vaccination_session.kind, "site": vaccination_session.site,
        "status": vaccination_session.status,
        "capacity": {str(c.dose_number): c.capacity for c in caps},
        "booked": {str(c.dose_number): c.booked for c in caps},
    })



@bp.post("/admin/facilities")
@doc("Create or update a facility", body=schemas.FacilityIn, response=schemas.FacilityOut,
     auth="staff", tag="facilities")
def upsert_facility():
    data = load(schemas.FacilityIn())
    facility = admin.admin_upsert_facility(
        get_session(), staff(), code=data["code"], name=data["name"], names=data.get("names"),
        location_code=data["location"], address=data["address"],
        postal_code=data.get("postal_code"), latitude=data.get("lat"),
        longitude=data.get("long"), facility_type=data["facility_type"],
        fee_type=data["fee_type"], opens_at=data.get("open"), closes_at=data.get("close"))
    return jsonify(schemas.FacilityOut().dump({"code": facility.code, "name": facility.name,
                                               "location": data["location"],
                                               "fee_type": facility.fee_type}))


@bp.post("/admin/sessions")
@doc("Publish a session (idempotent per facility, date and vaccine)", body=schemas.SessionIn,
     response=schemas.ManagedSessionOut, status=201, auth="staff", tag="facilities")
def publish_session():
    data = load(schemas.SessionIn())
    published = admin.admin_publish_session(
        get_session(), staff(), facility_code=data["facility"], session_date=data["date"],
        product_code=data["vaccine"], slots=data["slots"],
        capacity_by_dose={int(k): v for k, v in data["capacity"].items()},
        min_age=data["min_age"], max_age=data.get("max_age"),
        fee=Decimal(str(round(data["fee"], 2))), other_product_codes=data["other_vaccines"],
        kind=data["kind"], site=data["site"])
    return jsonify(_session_json(published)), 201


@bp.patch("/admin/sessions/<session_id>")
@doc("Change a session's seats (never below what is booked)", body=schemas.CapacityIn,
     response=schemas.ManagedSessionOut, auth="staff", tag="facilities")
def change_capacity(session_id: str):
    data = load(schemas.CapacityIn())
    vaccination_session = admin.admin_change_capacity(
        get_session(), staff(), session_id, {int(k): v for k, v in data["capacity"].items()})
    return jsonify(_session_json(vaccination_session))


@bp.post("/admin/sessions/<session_id>/cancel")
@doc("Cancel a session: appointments are released and the people booked are told",
     response=schemas.ManagedSessionOut, auth="staff", tag="facilities")
def cancel_session(session_id: str):
    vaccination_session = admin.admin_cancel_session(get_session(), pack(), staff(), session_id)
    return jsonify(_session_json(vaccination_session))


def _alert_json(alert: SlotAlertSubscription) -> dict:
    session = get_session()
    location = session.get(Location, alert.location_id) if alert.location_id else None
    return {"id": alert.id, "location": location.code if location else None,
            "postal_code": alert.postal_code, "vaccine": alert.product_code,
            "dose": alert.dose_number, "age": alert.age,
            "last_notified_at": alert.last_notified_at}


@bp.get("/alerts")
@doc("My slot alerts", response=schemas.AlertListOut, auth="citizen", tag="alerts")
def list_alerts():
    rows = get_session().scalars(select(SlotAlertSubscription).where(
        SlotAlertSubscription.account_id == citizen().id, SlotAlertSubscription.active)
        .order_by(SlotAlertSubscription.id))
    return jsonify(schemas.AlertListOut().dump({"alerts": [_alert_json(a) for a in rows]}))


@bp.post("/alerts")
@limited("SLOT_ALERT_LIMITS_PER_ACCOUNT", scope="slot-alert", key=account_key)
@doc("Ask to be told when seats appear (instead of polling); 200 with the existing alert "
     "when the account already has this one", body=schemas.AlertIn,
     response=schemas.AlertOut, status=201, auth="citizen", tag="alerts")
def subscribe():
    data = load(schemas.AlertIn())
    alert, created = alerts.subscribe_slot_alert(
        get_session(), citizen(), age=data["age"], dose=data["dose"],
        location_code=data.get("location"), postal_code=data.get("postal_code"),
        product_code=data.get("vaccine"))
    return jsonify(schemas.AlertOut().dump(_alert_json(alert))), 201 if created else 200


@bp.delete("/alerts/<int:alert_id>")
@doc("Stop an alert", status=204, auth="citizen", tag="alerts")
def unsubscribe(alert_id: int):
    alerts.unsubscribe_slot_alert(get_session(), citizen(), alert_id)
    return "", 204
