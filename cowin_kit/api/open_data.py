"""Open data: the public dashboard's figures as JSON and CSV, /api/v1/open-data (no
sign-in; cached for PUBLIC_DATA_CACHE_SECONDS, with ETags; SEARCH_LIMITS_PER_IP requests
per client address, as the public session search; docs/open-data.md)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from cowin_kit.api import pack, request_locale
from cowin_kit.core.apidoc import doc
from cowin_kit.core.cache import cached_for
from cowin_kit.core.db import get_session
from cowin_kit.core.ratelimit import limited
from cowin_kit.core.validation import load
from cowin_kit.reporting import public, public_rules, schemas

bp = Blueprint("api_open_data", __name__, url_prefix="/api/v1/open-data")
TTL = "PUBLIC_DATA_CACHE_SECONDS"


def _licence() -> dict[str, str]:
    settings = pack().public_data
    return {"name": settings.licence_name, "url": settings.licence_url}


@bp.get("/summary")
@doc("The public dashboard's figures for the country or an area (counts under the pack's "
     "threshold are given as \"<N\")", query=schemas.AreaQuery,
     response=schemas.PublicSummaryOut, tag="open data")
@limited("SEARCH_LIMITS_PER_IP", scope="open-data")
@cached_for(TTL, "application/json")
def summary():
    query = load(schemas.AreaQuery(), request.args.to_dict())
    view = public.public_figures(get_session(), pack(), area_code=query.get("area"),
                                 locale=request_locale())
    return jsonify(public.summary_document(view, pack()))


def _rows() -> list[tuple[Any, ...]]:
    query = load(schemas.OpenDataQuery(), request.args.to_dict())
    start, end = public.parse_range(query.get("start"), query.get("end"), pack())
    return public.open_data(get_session(), pack(), start=start, end=end,
                            area_code=query.get("area"), level=query.get("level"),
                            locale=request_locale())


@bp.get("/doses.json")
@doc("Doses per day, area, product, dose group, sex and age group (query: from, to, at "
     "most 31 days; area; level)", query=schemas.OpenDataQuery,
     response=schemas.OpenDataOut, tag="open data")
@limited("SEARCH_LIMITS_PER_IP", scope="open-data")
@cached_for(TTL, "application/json")
def doses_json():
    rows = _rows()
    return jsonify({"licence": _licence(), "suppressed_below": pack().public_data.suppress_below,
                    "rows": [dict(zip(public_rules.OPEN_DATA_COLUMNS, row)) for row in rows]})


@bp.get("/doses.csv")
@doc("The same as doses.json, as CSV (RFC 4180, a header line)", query=schemas.OpenDataQuery,
     content_type="text/csv", tag="open data")
@limited("SEARCH_LIMITS_PER_IP", scope="open-data")
@cached_for(TTL, "text/csv")
def doses_csv():
    return Response(public_rules.open_data_csv(_rows()), mimetype="text/csv")
