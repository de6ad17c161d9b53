"""The OpenAPI 3 document of /api/v1 and of the CoWIN-compatible /api/v2, generated from
the routes' marshmallow schemas, and its reference page (/api/v1/docs: Swagger UI, served
from the kit's own files).

Routes declare what they take and answer with ``@doc(...)`` (or, for views registered
without a decorator, ``document_endpoints(app, {endpoint: describe(...)})``);
``build_openapi(app)`` walks the URL map, so a route cannot exist undocumented without a
test noticing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import (
    Blueprint, Flask, abort, current_app, jsonify, make_response, render_template,
    send_from_directory,
)
from marshmallow import Schema, fields

from cowin_kit import __version__

API_PREFIX = "/api/v1/"
V2_PREFIX = "/api/v2/"
STATIC = Path(__file__).resolve().parents[1] / "static"
DOCS_ASSETS = ("vendor/swagger-ui/", "api-docs/")  # the folders of STATIC the page uses
# Tags in the order of the reference's table of contents, with what each groups.
TAGS = [
    ("citizens", "A citizen's account and the people (members) it registers."),
    ("reference", "Public reference data: ID types, genders, areas, vaccines."),
    ("availability", "Public search of sessions and free slots."),
    ("booking", "Appointments: book, reschedule, cancel, slips."),
    ("certificates", "Certificates, their verification and the published keys."),
    ("records", "The life-long immunization record and its downloads."),
    ("alerts", "Alerts when slots open."),
    ("vaccinators", "The vaccinator's day: look-up, secret code, recording doses."),
    ("health workers", "Routine immunization in the field: households, due lists."),
    ("routine immunization", "Schedules, due and overdue doses."),
    ("field app", "The offline field app's preparation and synchronisation."),
    ("facilities", "Facilities and their sessions."),
    ("staff", "Staff accounts and sign-in."),
    ("campaigns", "Vaccination campaigns."),
    ("stock", "Vaccine stock: receipts, issues, counts, alerts."),
    ("safety", "Adverse events following immunization."),
    ("corrections", "Corrections of people and doses."),
    ("channels", "USSD and SMS channels."),
    ("partners", "Partner systems' keys."),
    ("reports", "Reports and exports."),
    ("open data", "The public figures: the dashboard's summary and doses per day by area, "
                  "without sign-in (docs/open-data.md)."),
    ("privacy", "A person's data: exports for the person and on request (docs/privacy.md)."),
    ("cowin-v2-auth", "CoWIN API v2: OTP sign-in (the token is the bearer token of the "
                      "other CoWIN calls)."),
    ("cowin-v2-registration", "CoWIN API v2: beneficiaries and their reference data."),
    ("cowin-v2-location", "CoWIN API v2: states and districts."),
    ("cowin-v2-appointment", "CoWIN API v2: sessions (public, cached up to 30 minutes, "
                             "or real-time with a token), scheduling and slips."),
    ("cowin-v2-certificate", "CoWIN API v2: certificate downloads."),
]
SECURITY = {"citizen": "citizenToken", "staff": "staffToken"}
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
_TYPES = {"int": {"type": "integer", "format": "int32", "minimum": 0}, "string": {"type": "string"}, None: {"type": "string"}}


class ProblemRow(Schema):
    """One problem of an uploaded file (CSV imports)."""

    line = fields.Integer(required=True)
    column = fields.String(required=True)
    message = fields.String(required=True)


class Problem(Schema):
    """RFC 9457 problem details, as every /api/v1 error is answered."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    code = fields.String(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    rows = fields.List(fields.Nested(ProblemRow))


class CowinError(Schema):
    """CoWIN API v2 errors, as CoWIN's clients read them."""

    errorCode = fields.String(required=True)
    error = fields.String(required=True)


def describe(summary: str, *, body: type[Schema] | None = None,
             response: type[Schema] | None = None, status: int = 200,
             auth: str | None = None, tag: str = "citizens",
             body_content: dict[str, dict[str, Any]] | None = None,
             content_type: str | None = None, query: type[Schema] | None = None,
             response_example: Any = None) -> dict[str, Any]:
    """What ``doc`` records about a route. ``body_content`` documents a body that is not
    JSON, as OpenAPI media types, e.g. ``{"text/csv": {"schema": {"type": "string"}}}``;
    ``content_type`` an answer that is not JSON (e.g. ``application/pdf``: a binary string,
    ``text/html``: a string); ``query`` the query-string parameters, as a schema whose
    fields are the parameters; ``response_example`` an example of a JSON answer."""
    return {"summary": summary, "body": body, "response": response, "status": status,
            "auth": auth, "tag": tag, "body_content": body_content,
            "content_type": content_type, "query": query,
            "response_example": response_example}


def doc(summary: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Document a route (see ``describe`` for the options)."""
    meta = describe(summary, **options)

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view._apidoc = meta  # type: ignore[attr-defined]
        return view
    return mark


def document_endpoints(app: Flask, docs: dict[str, dict[str, Any]]) -> None:
    """Document views registered without ``@doc``: endpoint name -> ``describe(...)``."""
    app.extensions.setdefault("cowin_kit.apidoc", {}).update(docs)


def build_openapi(app: Flask) -> dict[str, Any]:
    spec = APISpec(
        title="cowin-kit API", version=__version__, openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Native JSON API of cowin-kit (/api/v1; errors are "
                             "application/problem+json with a stable `code`) and the "
                             "CoWIN-compatible API v2 (/api/v2; errors are CoWIN's "
                             "`{errorCode, error}`)."},
        tags=[{"name": name, "description": text} for name, text in TAGS],
    )
    spec.components.schema("Problem", schema=Problem)
    spec.components.schema("CowinError", schema=CowinError)
    spec.components.security_scheme("citizenToken", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("staffToken", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("partnerKey", {"type": "apiKey", "in": "header",
                                                   "name": "X-Api-Key"})
    paths: dict[str, dict[str, Any]] = {}
    extra = app.extensions.get("cowin_kit.apidoc", {})
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith((API_PREFIX, V2_PREFIX)):
            continue
        meta = (getattr(app.view_functions[rule.endpoint], "_apidoc", None)
                or extra.get(rule.endpoint))
        if meta is None:
            continue
        parameters = [{"name": name, "in": "path", "required": True,
                       "schema": _TYPES.get(converter, {"type": "string"})}
                      for converter, name in _CONVERTER.findall(rule.rule)]
        path = _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(
                rule.endpoint, meta, parameters, cowin=rule.rule.startswith(V2_PREFIX))
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation(endpoint: str, meta: dict[str, Any], parameters: list[dict[str, Any]],
               *, cowin: bool = False) -> dict[str, Any]:
    status = str(meta["status"])
    success: dict[str, Any] = {"description": meta["summary"]}
    if meta["response"] is not None:
        success["content"] = {"application/json": {"schema": meta["response"]}}
    elif meta.get("response_example") is not None:
        success["content"] = {"application/json": {"schema": {"type": "object"},
                                                    "example": meta["response_example"]}}
    elif meta.get("content_type"):
        raw = ({"type": "string"} if meta["content_type"].startswith("text/")
               else {"type": "string", "format": "binary"})
        success["content"] = {meta["content_type"]: {"schema": raw}}
    operation: dict[str, Any] = {
        "operationId": endpoint.replace(".", "_"), "summary": meta["summary"],
        "tags": [meta["tag"]],
        "responses": {status: success, "default": {
            "description": "An error (see `code`)",
            "content": {"application/problem+json": {"schema": "Problem"}}}},
    }
    if cowin:
        operation["responses"]["default"] = {
            "description": "An error, as CoWIN answers it (see `errorCode`)",
            "content": {"application/json": {"schema": "CowinError"}}}
    if meta.get("query") is not None:
        parameters = [*parameters, {"in": "query", "schema": meta["query"]}]
    if parameters:
        operation["parameters"] = parameters
    if meta["body"] is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": meta["body"]}}}
    if meta.get("body_content"):
        operation["requestBody"] = {"required": True, "content": meta["body_content"]}
    if meta["auth"]:
        operation["security"] = [{SECURITY[name]: []} for name in meta["auth"].split("|")]
    return operation


bp = Blueprint("api_docs", __name__)


@bp.get("/api/v1/openapi.json")
def openapi_json():
    document = current_app.extensions.get("cowin_kit.openapi")
    if document is None:
        document = current_app.extensions["cowin_kit.openapi"] = build_openapi(current_app)
    return jsonify(document)


@bp.get("/api/v1/docs")
def api_docs_page():
    """The reference: a table of contents by tag (works without JavaScript) and Swagger UI
    (vendored in static/vendor/swagger-ui, see VENDORED.md there) with "Try it out"."""
    document = current_app.extensions.get("cowin_kit.openapi")
    if document is None:
        document = current_app.extensions["cowin_kit.openapi"] = build_openapi(current_app)
    response = make_response(render_template("api_docs.html", spec=document,
                                             toc=_table_of_contents(document)))
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


# Swagger UI sets style attributes: inline styles are allowed, scripts only from here.
DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")


def _table_of_contents(document: dict[str, Any]) -> list[tuple[dict[str, Any], list]]:
    """[(tag, [(method, path, operation)...])...] in the order of the document's tags."""
    by_tag: dict[str, list] = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            by_tag.setdefault(operation["tags"][0], []).append((method, path, operation))
    tags = [t for t in document.get("tags", []) if t["name"] in by_tag]
    known = {t["name"] for t in tags}
    tags += [{"name": name, "description": ""} for name in sorted(by_tag) if name not in known]
    return [(tag, by_tag[tag["name"]]) for tag in tags]


@bp.get("/api/v1/docs/assets/<path:filename>")
def api_docs_asset(filename: str):
    """Swagger UI's files and the page's own script, from the kit's package."""
    if not filename.startswith(DOCS_ASSETS):
        abort(404)
    return send_from_directory(STATIC, filename, max_age=86400)
