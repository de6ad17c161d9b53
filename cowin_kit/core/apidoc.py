"""The OpenAPI 3 document of /api/v1, generated from the routes' marshmallow schemas.

Routes declare what they take and answer with ``@doc(...)``; ``build_openapi(app)`` walks
the URL map, so a route cannot exist undocumented without a test noticing."""

from __future__ import annotations

import re
from typing import Any, Callable

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app, jsonify, render_template
from marshmallow import Schema, fields

from cowin_kit import __version__

API_PREFIX = "/api/v1/"
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


def doc(summary: str, *, body: type[Schema] | None = None,
        response: type[Schema] | None = None, status: int = 200, auth: str | None = None,
        tag: str = "citizens", body_content: dict[str, dict[str, Any]] | None = None,
        content_type: str | None = None, query: type[Schema] | None = None,
        ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``body_content`` documents a body that is not JSON, as OpenAPI media types, e.g.
    ``{"text/csv": {"schema": {"type": "string"}}}``; ``content_type`` an answer that is not
    JSON (e.g. ``application/pdf``: a binary string, ``text/html``: a string); ``query``
    the query-string parameters, as a schema whose fields are the parameters."""
    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view._apidoc = {"summary": summary, "body": body, "response": response,
                        "status": status, "auth": auth, "tag": tag,
                        "body_content": body_content, "content_type": content_type,
                        "query": query}
        return view
    return mark


def build_openapi(app: Flask) -> dict[str, Any]:
    spec = APISpec(
        title="cowin-kit API", version=__version__, openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Native JSON API of cowin-kit. Errors are "
                             "application/problem+json with a stable `code`."},
    )
    spec.components.schema("Problem", schema=Problem)
    spec.components.security_scheme("citizenToken", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("staffToken", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("partnerKey", {"type": "apiKey", "in": "header",
                                                   "name": "X-Api-Key"})
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(API_PREFIX):
            continue
        meta = getattr(app.view_functions[rule.endpoint], "_apidoc", None)
        if meta is None:
            continue
        parameters = [{"name": name, "in": "path", "required": True,
                       "schema": _TYPES.get(converter, {"type": "string"})}
                      for converter, name in _CONVERTER.findall(rule.rule)]
        path = _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule.endpoint, meta,
                                                                     parameters)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation(endpoint: str, meta: dict[str, Any], parameters: list[dict[str, Any]]) -> dict[str, Any]:
    status = str(meta["status"])
    success: dict[str, Any] = {"description": meta["summary"]}
    if meta["response"] is not None:
        success["content"] = {"application/json": {"schema": meta["response"]}}
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
    document = current_app.extensions.get("cowin_kit.openapi") or build_openapi(current_app)
    return render_template("api_docs.html", spec=document)
