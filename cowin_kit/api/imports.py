"""Bulk CSV uploads of facilities and sessions, /api/v1/admin/... (staff token).

The body is the CSV file itself (``Content-Type: text/csv``) or a multipart form with the
file in the field ``file``. The answer is ``{"rows", "added", "updated", "unchanged"}``, or
422 ``invalid_csv`` with every problem in ``rows`` (``{"line", "column", "message"}``) and
nothing written. Rows outside the signed-in staff member's area are problems too."""

from __future__ import annotations

from pathlib import PurePath

from flask import Blueprint, jsonify, request
from marshmallow import Schema, fields

from cowin_kit.api.staff import staff
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import InvalidInput
from cowin_kit.core.i18n import gettext as _
from cowin_kit.csvimport import file_too_large
from cowin_kit.scheduling import imports

bp = Blueprint("api_imports", __name__, url_prefix="/api/v1")

# About 200,000 session rows (a few hundred MB of a worker's memory while checked);
# larger files go through the CLI, next to the database.
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
CSV_TYPES = ("text/csv", "text/plain", "application/csv", "application/octet-stream")
CSV_BODY = {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}}}},
}


class ImportResultOut(Schema):
    rows = fields.Integer(required=True, metadata={"description": "data rows in the file"})
    added = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)


def _too_large() -> InvalidInput:
    return InvalidInput(file_too_large(MAX_UPLOAD_BYTES),
                        code="file_too_large")


def _upload() -> tuple[str, bytes]:
    """(file name, content) of the uploaded CSV."""
    if (request.content_length or 0) > MAX_UPLOAD_BYTES:
        raise _too_large()
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput(_("Send the CSV file in the multipart field named file."),
                               code="invalid_upload")
        name = PurePath((upload.filename or "").replace("\\", "/")).name or "upload.csv"
        name, data = name[:200], upload.read(MAX_UPLOAD_BYTES + 1)
    elif request.mimetype in CSV_TYPES:
        name, data = "upload.csv", request.get_data(cache=False)
    else:
        raise InvalidInput(_("Send the CSV file as the body with Content-Type text/csv, or "
                             "as the multipart field named file."), code="invalid_upload")
    if len(data) > MAX_UPLOAD_BYTES:
        raise _too_large()
    return name, data


@bp.post("/admin/facilities/import")
@doc("Import facilities from CSV (all rows or none; matched by code, so re-running is "
     "safe)", response=ImportResultOut, auth="staff", tag="facilities", body_content=CSV_BODY)
def import_facilities():
    user = staff()
    name, data = _upload()
    report = imports.import_facilities(get_session(), data, file_name=name,
                                       actor=user)
    return jsonify(ImportResultOut().dump(report.as_dict()))


@bp.post("/admin/sessions/import")
@doc("Import sessions from CSV (all rows or none; matched by facility, date and vaccine; "
     "seats never below what is booked)", response=ImportResultOut, auth="staff",
     tag="facilities", body_content=CSV_BODY)
def import_sessions():
    user = staff()
    name, data = _upload()
    report = imports.import_sessions(get_session(), data, file_name=name,
                                     actor=user)
    return jsonify(ImportResultOut().dump(report.as_dict()))
