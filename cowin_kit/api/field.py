"""The field app's sync API, /api/v1/field (staff token): prepare, sync, outcomes, and the
review queue of conflicts for supervisors. Documented in the OpenAPI document under the
tag "field app", so that a native client can use it too."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from cowin_kit.api import pack, request_locale
from cowin_kit.api.staff import staff
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.core.validation import load
from cowin_kit.fieldsync import prepare as preparing, reviews, schemas, sync as syncing
from cowin_kit.fieldsync.models import FieldReview

bp = Blueprint("api_field", __name__, url_prefix="/api/v1/field")
TAG = "field app"


def review_json(view: reviews.ReviewView) -> dict:
    r: FieldReview = view.review
    return {"id": r.id, "client_id": r.client_id, "device_id": r.device_id, "kind": r.kind,
            "reason": r.reason, "message": r.message, "staff": r.staff,
            "facility": view.facility, "payload": r.payload, "status": r.status,
            "decided_by": r.decided_by, "decided_at": r.decided_at, "note": r.note,
            "created_at": r.created_at}


@bp.get("/prepare")
@doc("Prepare for the field: what my grants cover for the coming days (people with "
     "their doses and due doses, sessions, appointments, the pack, lots, the "
     "certificate trust list); mobiles only as last 4 digits and a salted HMAC",
     response=schemas.FieldPrepareOut, query=schemas.FieldPrepareQuery, auth="staff",
     tag=TAG)
def prepare():
    user = staff()
    query = load(schemas.FieldPrepareQuery(), request.args.to_dict())
    bundle = preparing.prepare(get_session(), pack(), user, days=query["days"],
                               facility_code=query.get("facility"), locale=request_locale())
    return jsonify(schemas.FieldPrepareOut().dump(bundle))


@bp.post("/sync")
@doc("Upload records made offline (at most 500): each is processed once by its "
     "client_id, in order, in its own transaction, and answered accepted, duplicate, "
     "conflict (a review for a supervisor) or refused (with its reason code)",
     body=schemas.FieldSyncIn, response=schemas.FieldSyncOut, auth="staff", tag=TAG)
def sync():
    user = staff()
    data = load(schemas.FieldSyncIn())
    records = [syncing.Incoming(r["client_id"], r["kind"], r["recorded_at"], r["payload"])
               for r in data["records"]]
    results = syncing.sync(get_session(), pack(), user, device_id=data["device_id"],
                           records=records)
    return jsonify(schemas.FieldSyncOut().dump({"results": results}))


@bp.get("/outcomes")
@doc("Supervisors' decisions on my device's conflicts since a cursor",
     response=schemas.FieldOutcomesOut, query=schemas.FieldOutcomesQuery, auth="staff",
     tag=TAG)
def outcomes():
    user = staff()
    query = load(schemas.FieldOutcomesQuery(), request.args.to_dict())
    rows, cursor = reviews.outcomes(get_session(), user, device_id=query["device_id"],
                                    since=query["since"])
    return jsonify(schemas.FieldOutcomesOut().dump({"cursor": cursor, "outcomes": [
        {"client_id": r.client_id, "review_id": r.id,
         "decision": "accepted" if r.status == "accepted" else "rejected", "note": r.note,
         "decided_at": r.decided_at,
         **{k: v for k, v in r.outcome.items() if k in ("reference_id", "dose_ids")}}
        for r in rows]}))


@bp.get("/reviews")
@doc("Field conflicts I may decide (status open, accepted or rejected)",
     response=schemas.FieldReviewListOut, query=schemas.FieldReviewsQuery, auth="staff",
     tag=TAG)
def list_reviews():
    user = staff()
    query = load(schemas.FieldReviewsQuery(), request.args.to_dict())
    views = reviews.list_reviews(get_session(), user, query["status"])
    return jsonify(schemas.FieldReviewListOut().dump({"reviews": [review_json(v) for v in views]}))


@bp.get("/reviews/<int:review_id>")
@doc("One field conflict", response=schemas.FieldReviewOut, auth="staff", tag=TAG)
def show_review(review_id: int):
    return jsonify(schemas.FieldReviewOut().dump(
        review_json(reviews.get_review(get_session(), staff(), review_id))))


@bp.post("/reviews/<int:review_id>/decide")
@doc("Accept (recorded through the normal services, audited with me as actor) or reject "
     "a field conflict", body=schemas.FieldDecideIn, response=schemas.FieldReviewOut, auth="staff",
     tag=TAG)
def decide(review_id: int):
    user = staff()
    data = load(schemas.FieldDecideIn())
    view = reviews.decide(get_session(), pack(), user, review_id,
                          decision=data["decision"], note=data["note"])
    return jsonify(schemas.FieldReviewOut().dump(review_json(view)))
