"""Campaigns, /api/v1/campaigns: plan (campaign.manage), list and progress (report.read,
the areas the user's grants reach), and campaign doses (a vaccinator, dose.record)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from cowin_kit.api import pack, request_locale
from cowin_kit.api.staff import staff
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.core.validation import load
from cowin_kit.geography.models import Location
from cowin_kit.immunization import campaigns as service, schemas
from cowin_kit.reporting.rules import to_csv

bp = Blueprint("api_campaigns", __name__, url_prefix="/api/v1/campaigns")


def _campaign_out(campaign) -> dict:
    session = get_session()
    return {"code": campaign.code, "name": campaign.name(request_locale()),
            "names": campaign.names, "products": campaign.products,
            "ages": f"{campaign.min_age}-{campaign.below_age}", "sex": campaign.sex,
            "starts_on": campaign.starts_on, "ends_on": campaign.ends_on,
            "doses_per_person": campaign.doses_per_person,
            "areas": [{"code": session.get(Location, a.location_id).code, "target": a.target,
                       "target_source": a.target_source} for a in campaign.areas]}


@bp.get("")
@doc("Campaigns with an area I may report on", response=schemas.CampaignListOut,
     auth="staff", tag="campaigns")
def list_campaigns():
    rows = service.list_campaigns(get_session(), staff())
    return jsonify(schemas.CampaignListOut().dump(
        {"campaigns": [_campaign_out(c) for c in rows]}))


@bp.post("")
@doc("Plan a campaign in my area(s): targets from the pack's population figures where they "
     "cover the ages", body=schemas.CampaignIn, response=schemas.CampaignOut, auth="staff",
     tag="campaigns", status=201)
def create_campaign():
    data = load(schemas.CampaignIn(), request.get_json(silent=True))
    campaign = service.create_campaign(get_session(), pack(), staff(),
                                       service.CampaignPlan(**data))
    return jsonify(schemas.CampaignOut().dump(_campaign_out(campaign))), 201


def _progress():
    return service.campaign_progress(get_session(), pack(), staff(),
                                     request.view_args["code"], locale=request_locale())


@bp.get("/<code>/progress")
@doc("Daily progress against target per area: doses per day, cumulative, per cent",
     response=schemas.CampaignProgressOut, auth="staff", tag="campaigns")
def progress(code: str):
    report = _progress()
    return jsonify(schemas.CampaignProgressOut().dump({"campaign": report.campaign.code, "areas": [
        {"code": a.code, "name": a.name, "target": a.target, "target_source": a.target_source,
         "doses": a.doses, "target_percent": a.percent,
         "days": [{"date": d.day, "doses": d.doses, "cumulative": d.cumulative,
                   "target_percent": d.percent} for d in a.days]} for a in report.areas]}))


@bp.get("/<code>/progress.csv")
@doc("Daily progress per area, as CSV", content_type="text/csv", auth="staff",
     tag="campaigns")
def progress_csv(code: str):
    report = _progress()
    return Response(to_csv(service.PROGRESS_COLUMNS, service.progress_csv_rows(report)),
                    mimetype="text/csv", headers={
                        "Content-Disposition": f'attachment; filename="{report.campaign.code}'
                                               f'-progress.csv"'})


@bp.post("/<code>/doses")
@doc("Record a campaign dose (within the campaign's dates, areas, ages and sex)",
     body=schemas.CampaignDoseIn, response=schemas.CampaignDoseOut, auth="staff",
     tag="campaigns", status=201)
def record_dose(code: str):
    data = load(schemas.CampaignDoseIn(), request.get_json(silent=True))
    result = service.record_campaign_dose(
        get_session(), pack(), staff(), campaign_code=code, reference_id=data["reference_id"],
        product_code=data["vaccine"], lot=data["lot"], facility_code=data.get("facility"),
        administered_at=data.get("administered_at"),
        idempotency_key=request.headers.get("Idempotency-Key") or None)
    return jsonify(schemas.CampaignDoseOut().dump({
        "dose_id": result.dose.id, "campaign": result.campaign.code,
        "series": result.dose.series, "dose": result.dose.dose_number,
        "warnings": [w.as_dict() for w in result.warnings]})), \
        201 if result.created else 200
