"""Campaign reports for administrators, as JSON and CSV, /api/v1/reports."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from cowin_kit.core.validation import load
from cowin_kit.api import pack, request_locale
from cowin_kit.api.staff import staff
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.reporting import rules, schemas, services

bp = Blueprint("api_reports", __name__, url_prefix="/api/v1/reports")
CSV = {"text/csv": {"schema": {"type": "string"}}}


def _csv(text: str, name: str) -> Response:
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"'})


def _daily():
    query = load(schemas.DaysQuery(), request.args.to_dict())
    return services.doses_per_day(get_session(), staff(), tz_name=pack().document["timezone"],
                                  days=query["days"])


def _coverage():
    query = load(schemas.RegionQuery(), request.args.to_dict())
    return services.coverage_by_region(get_session(), staff(), parent_code=query.get("parent"),
                                       locale=request_locale())


def _dropout():
    query = load(schemas.RegionQuery(), request.args.to_dict())
    return services.dose2_dropout(get_session(), staff(), parent_code=query.get("parent"),
                                  locale=request_locale())


def _age_sex():
    load(schemas.NoQuery(), request.args.to_dict())
    return services.by_age_band_and_sex(get_session(), staff(), locale=request_locale())


@bp.get("/doses-per-day")
@doc("Doses given per day in my area (query: days, 1-366, default 30)",
     response=schemas.DosesPerDayOut, auth="staff", tag="reports")
def doses_per_day():
    rows = _daily()
    return jsonify(schemas.DosesPerDayOut().dump({"days": [
        {"date": r.day, "dose_1": r.by_group.get("1", 0), "dose_2": r.by_group.get("2", 0),
         "booster": r.by_group.get("booster", 0), "total": r.total} for r in rows]}))


@bp.get("/doses-per-day.csv")
@doc("Doses given per day in my area, as CSV", content_type="text/csv", auth="staff",
     tag="reports")
def doses_per_day_csv():
    return _csv(rules.daily_csv(_daily()), "doses-per-day")


@bp.get("/coverage")
@doc("First doses and completed schedules per region against the population "
     "(query: parent, a location code)", response=schemas.CoverageOut, auth="staff",
     tag="reports")
def coverage():
    regions, rows = _coverage()
    return jsonify(schemas.CoverageOut().dump({
        "parent": regions.parent.code if regions.parent else None,
        "regions": [{"code": r.code, "name": r.name, "first_doses": r.first_doses,
                     "completed": r.completed, "population": r.population,
                     "first_dose_percent": r.first_percent,
                     "completed_percent": r.completed_percent} for r in rows]}))


@bp.get("/coverage.csv")
@doc("Coverage per region, as CSV", content_type="text/csv", auth="staff", tag="reports")
def coverage_csv():
    return _csv(rules.coverage_csv(_coverage()[1]), "coverage")


@bp.get("/age-sex")
@doc("First doses and completed schedules by age band and sex", response=schemas.AgeSexOut,
     auth="staff", tag="reports")
def age_sex():
    report = _age_sex()
    return jsonify(schemas.AgeSexOut().dump({
        "age_bands": report.bands, "sexes": [code for code, _label in report.sexes],
        "cells": [{"age_band": c.age_band, "sex": c.sex, "first_doses": c.first_doses,
                   "completed": c.completed, "population": c.population,
                   "first_dose_percent": c.first_percent} for c in report.cells]}))


@bp.get("/age-sex.csv")
@doc("By age band and sex, as CSV", content_type="text/csv", auth="staff", tag="reports")
def age_sex_csv():
    return _csv(rules.age_sex_csv(_age_sex().cells), "age-sex")


@bp.get("/dropout")
@doc("Dose-2 drop-out per region: first doses past the minimum interval without a second "
     "(query: parent)", response=schemas.DropoutOut, auth="staff", tag="reports")
def dropout():
    regions, rows = _dropout()
    return jsonify(schemas.DropoutOut().dump({
        "parent": regions.parent.code if regions.parent else None,
        "regions": [{"code": r.code, "name": r.name, "due": r.due,
                     "without_dose_2": r.missing, "dropout_percent": r.percent}
                    for r in rows]}))


@bp.get("/dropout.csv")
@doc("Dose-2 drop-out per region, as CSV", content_type="text/csv", auth="staff",
     tag="reports")
def dropout_csv():
    return _csv(rules.dropout_csv(_dropout()[1]), "dropout")


def _indicators():
    query = load(schemas.IndicatorQuery(), request.args.to_dict())
    active = pack()
    return services.immunization_indicators(
        get_session(), staff(), cohort=query["cohort"], tz_name=active.document["timezone"],
        zero_dose_age=active.routine.zero_dose_age, parent_code=query.get("parent"),
        locale=request_locale(), on=query.get("on"))


@bp.get("/immunization")
@doc("WHO/UNICEF indicators of a birth cohort per region: DTP1, DTP3, MCV1, MCV2 by 12 and "
     "24 months, drop-out, zero-dose children (query: cohort, parent, on)",
     response=schemas.IndicatorsOut, auth="staff", tag="reports")
def immunization():
    report = _indicators()
    return jsonify(schemas.IndicatorsOut().dump({
        "parent": report.regions.parent.code if report.regions.parent else None,
        "birth_cohort": report.cohort, "on": report.on, "rows": report.records()}))


@bp.get("/immunization.csv")
@doc("WHO/UNICEF indicators of a birth cohort per region, as CSV", content_type="text/csv",
     auth="staff", tag="reports")
def immunization_csv():
    report = _indicators()
    return _csv(rules.indicators_csv(report.records()), f"immunization-{report.cohort}")
