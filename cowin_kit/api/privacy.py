"""A person's data export (docs/privacy.md): the signed-in citizen's own, and one person's
for staff acting on the person's request (``person.export`` on the person's area).
JSON, or a readable PDF; every export is audited."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from cowin_kit.api import citizen, pack, request_locale
from cowin_kit.api.staff import staff
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.privacy import export
from cowin_kit.privacy.export_pdf import export_pdf

bp = Blueprint("api_privacy", __name__, url_prefix="/api/v1")


def _private(response: Response, filename: str | None = None) -> Response:
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.cache_control.no_store = True
    response.cache_control.private = True
    return response


@bp.get("/account/export")
@doc("Everything held about me and the people on my account (JSON): account, people "
     "(ID numbers masked), appointments, doses, certificates, AEFI reports, grievances, "
     "who read or changed the records", auth="citizen", tag="privacy")
def account_export():
    found = export.citizen_export(get_session(), pack(), citizen(), fmt="json")
    return _private(jsonify(found.document), "my-data.json")


@bp.get("/account/export.pdf")
@doc("The same export as a readable PDF, in my account's language", auth="citizen",
     tag="privacy", content_type="application/pdf")
def account_export_pdf():
    found = export.citizen_export(get_session(), pack(), citizen(), fmt="pdf")
    return _private(Response(export_pdf(found), mimetype="application/pdf"), "my-data.pdf")


@bp.get("/staff/people/<reference_id>/export")
@doc("One person's data export (JSON), on their request: the account's mobile masked",
     auth="staff", tag="privacy")
def person_export(reference_id: str):
    found = export.person_export(get_session(), pack(), staff(), reference_id, fmt="json",
                                 locale=request_locale())
    return _private(jsonify(found.document), f"person-{reference_id}.json")


@bp.get("/staff/people/<reference_id>/export.pdf")
@doc("One person's data export as a PDF (in the request's language)", auth="staff",
     tag="privacy", content_type="application/pdf")
def person_export_pdf(reference_id: str):
    found = export.person_export(get_session(), pack(), staff(), reference_id, fmt="pdf",
                                 locale=request_locale())
    return _private(Response(export_pdf(found), mimetype="application/pdf"),
                    f"person-{reference_id}.pdf")
