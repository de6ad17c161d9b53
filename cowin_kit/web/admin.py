"""Administrator pages, each limited to the user's part of the hierarchy: the dashboard
(plots and CSV exports of the reports), facilities and sessions with CSV upload (every
problem row shown in the page), staff and roles, partner API keys and the audit trail.
They call the services the admin API calls."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from pathlib import PurePath
from typing import Any

from flask import Response, redirect, request, url_for
from flask_babel import get_locale, lazy_gettext
from sqlalchemy import select

from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import DomainError, InvalidInput
from cowin_kit.geography.models import Facility, Location
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.csvimport import file_too_large
from cowin_kit.identity import access, schemas as identity_schemas, services as identity
from cowin_kit.reporting import (
    rules as report_rules, schemas as report_schemas, services as reports,
)
from cowin_kit.scheduling import imports
from cowin_kit.scheduling.models import SessionDoseCapacity, VaccinationSession
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.web import charts, core, ui
from cowin_kit.web.auth import current_staff, staff_required
from cowin_kit.core.validation import load

bp = ui.make_blueprint("admin", __name__, url_prefix="/admin")
core.register_staff_link("report.read", "admin.dashboard", lazy_gettext("Dashboard"))
core.register_staff_link("facility.manage", "admin.facilities",
                         lazy_gettext("Facilities and sessions"))
core.register_staff_link("staff.manage", "admin.staff", lazy_gettext("Staff and roles"))
core.register_staff_link("partner_key.manage", "admin.partner_keys",
                         lazy_gettext("Partner API keys"))
core.register_staff_link("audit.read", "admin.audit", lazy_gettext("Audit log"))

MAX_UPLOAD_BYTES = 16 * 1024 * 1024
MAX_ROWS_SHOWN = 200
ROLE_LABELS = {
    "national_admin": lazy_gettext("National administrator"),
    "state_admin": lazy_gettext("State administrator"),
    "district_admin": lazy_gettext("District administrator"),
    "facility_admin": lazy_gettext("Facility administrator"),
    "vaccinator": lazy_gettext("Vaccinator"),
    "verifier": lazy_gettext("Verifier"),
}


def _user():
    user = current_staff()
    assert user is not None  # behind staff_required
    return user


def _locale() -> str:
    return str(get_locale())


def _tz_name() -> str:
    return active_pack().document["timezone"]


# --- dashboard ---------------------------------------------------------------------------

def _query(schema, names: list[str]) -> dict[str, Any]:
    """Query parameters of a page, loaded as the API loads them (others ignored)."""
    return load(schema, {k: v for k, v in request.args.items() if k in names and v})


def _dashboard_figures() -> dict[str, Any]:
    session, user, locale = get_session(), _user(), _locale()
    days = _query(report_schemas.DaysQuery(), ["days"])["days"]
    parent = _query(report_schemas.RegionQuery(), ["parent"]).get("parent")
    daily = reports.doses_per_day(session, user, tz_name=_tz_name(), days=days)
    regions, coverage = reports.coverage_by_region(session, user, parent_code=parent,
                                                   locale=locale)
    age_sex = reports.by_age_band_and_sex(session, user, locale=locale)
    _regions, dropout = reports.dose2_dropout(session, user, parent_code=parent, locale=locale)
    channels = reports.by_channel(session, user, days=days)
    return {"days": days, "parent": parent, "daily": daily, "regions": regions,
            "coverage": coverage, "age_sex": age_sex, "dropout": dropout,
            "channels": channels}


def _charts(figures: dict[str, Any]) -> dict[str, Any]:
    locale = str(ui.formats_locale())  # numbers as the tables write them ("en_IN")
    daily = figures["daily"]
    dose_names = {"1": _("Dose 1"), "2": _("Dose 2"), "booster": _("Booster")}
    doses_chart = charts.column_chart(
        title=_("Doses per day"),
        desc=ngettext("Doses given on each of the last %(num)d day, %(total)s in all.",
                      "Doses given on each of the last %(num)d days, %(total)s in all.",
                      len(daily), total=charts.number(sum(d.total for d in daily), locale)),
        labels=[ui.format_short_day(d.day, "MMMd") for d in daily],
        series=[charts.Series(dose_names[g], [d.by_group.get(g, 0) for d in daily])
                for g in report_rules.DOSE_GROUPS],
        locale=locale, empty_note=_("No doses in this period."))
    coverage = figures["coverage"]
    counted = [r for r in coverage if r.population]
    if counted:
        values = [r.first_percent or 0.0 for r in counted]
        texts = [charts.percent(r.first_percent or 0.0, locale) for r in counted]
        coverage_desc = _("Share of the population with a first dose, per region with a "
                          "population figure (all regions are in the table below).")
    else:
        counted = coverage
        values = [float(r.first_doses) for r in counted]
        texts = [charts.number(r.first_doses, locale) for r in counted]
        coverage_desc = _("People with a first dose, per region (the country pack has no "
                          "population figures).")
    coverage_chart = charts.horizontal_bars(
        title=_("Coverage by region"), desc=coverage_desc, labels=[r.name for r in counted],
        values=values, value_texts=texts, locale=locale,
        maximum=100.0 if counted is not coverage else None, empty_note=_("No regions."))
    report = figures["age_sex"]
    sex_names = dict(report.sexes)
    bands = [b if b != report_rules.OTHER_BAND else _("other ages") for b in report.bands]
    cells = {(c.age_band, c.sex): c for c in report.cells}
    age_chart = charts.grouped_bars(
        title=_("First doses by age band and sex"),
        desc=_("People with a first dose in each age band (age at the dose), by sex."),
        groups=bands,
        series=[charts.Series(sex_names[code], [cells[(b, code)].first_doses
                                                 for b in report.bands])
                for code, _label in report.sexes],
        locale=locale, empty_note=_("No doses yet."))
    due = [r for r in figures["dropout"] if r.due]
    dropout_chart = charts.horizontal_bars(
        title=_("Dose-2 drop-out"),
        desc=_("Of the people due for dose 2 (the minimum interval has passed), the share "
               "without it, per region with anyone due."),
        labels=[r.name for r in due], values=[r.percent or 0.0 for r in due],
        value_texts=[_("%(percent)s of %(due)s", percent=charts.percent(r.percent or 0.0, locale),
                       due=charts.number(r.due, locale)) for r in due],
        locale=locale, maximum=100.0, empty_note=_("Nobody is due for dose 2 yet."))
    return {"doses": doses_chart, "coverage": coverage_chart, "age_sex": age_chart,
            "dropout": dropout_chart, "channels": _channel_chart(figures["channels"])}


def _channel_chart(counts: dict[str, dict[str, int]] | None) -> Any:
    """Registrations and bookings by the door they came through (national scope only)."""
    if counts is None:
        return None
    names = {"web": _("Web and apps"), "ussd": _("USSD"), "sms": _("SMS"),
             "health_worker": _("Health workers")}
    groups = [("registrations", _("Registrations")), ("bookings", _("Bookings"))]
    return charts.grouped_bars(
        title=_("Registrations and bookings by channel"),
        desc=_("Registrations and bookings of the period, by the way people came: the web "
               "pages and apps, USSD menus, SMS, or a health worker."),
        groups=[label for _key, label in groups],
        series=[charts.Series(names[channel], [counts[key][channel] for key, _l in groups])
                for channel in names],
        locale=_locale(), empty_note=_("No registrations or bookings in this period."))


@bp.get("/dashboard")
@staff_required("report.read")
def dashboard():
    figures = _dashboard_figures()
    parent = figures["regions"].parent
    return ui.render("web/admin/dashboard.html", figures=figures, charts=_charts(figures),
                     parent=parent,
                     percent=lambda value: charts.percent(value, str(ui.formats_locale())),
                     parent_up=(get_session().get(Location, parent.parent_id)
                                if parent is not None and parent.parent_id else None),
                     scope_names=reports.scope_summary(get_session(), _user(), _locale()))


CSV_EXPORTS = {
    "doses-per-day": lambda f: report_rules.daily_csv(f["daily"]),
    "coverage": lambda f: report_rules.coverage_csv(f["coverage"]),
    "age-sex": lambda f: report_rules.age_sex_csv(f["age_sex"].cells),
    "dropout": lambda f: report_rules.dropout_csv(f["dropout"]),
}


@bp.get("/dashboard/<name>.csv")
@staff_required("report.read")
def dashboard_csv(name: str):
    export = CSV_EXPORTS.get(name)
    if export is None:
        from werkzeug.exceptions import NotFound as PageNotFound

        raise PageNotFound()
    return Response(export(_dashboard_figures()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"'})


# --- facilities and sessions ---------------------------------------------------------------

def _visible_facilities(action: str):
    scope = reports.report_scope(_user(), action)
    return reports.facility_visible(scope)


@bp.get("/facilities")
@staff_required("facility.manage")
def facilities():
    search = request.args.get("q", "").strip()[:100]
    query = select(Facility).where(_visible_facilities("facility.manage"))
    if search:
        pattern = f"%{search.lower()}%"
        from sqlalchemy import func, or_

        query = query.where(or_(func.lower(Facility.name).like(pattern),
                                func.lower(Facility.code).like(pattern)))
    rows = list(get_session().scalars(query.order_by(Facility.name).limit(MAX_ROWS_SHOWN + 1)))
    return ui.render("web/admin/facilities.html", facilities=rows[:MAX_ROWS_SHOWN],
                     more=len(rows) > MAX_ROWS_SHOWN, search=search,
                     import_kind=None, report=None, problems=None)


@bp.get("/sessions")
@staff_required("session.publish")
def sessions():
    session = get_session()
    today = datetime.now(zoneinfo.ZoneInfo(_tz_name())).date()
    rows = session.execute(
        select(VaccinationSession, Facility, VaccineProduct)
        .join(Facility, Facility.id == VaccinationSession.facility_id)
        .join(VaccineProduct, VaccineProduct.id == VaccinationSession.product_id)
        .where(VaccinationSession.session_date >= today,
               _visible_facilities("session.publish"))
        .order_by(VaccinationSession.session_date, Facility.name)
        .limit(MAX_ROWS_SHOWN + 1)).all()
    ids = [s.id for s, _f, _p in rows[:MAX_ROWS_SHOWN]]
    seats: dict[str, tuple[int, int]] = {}
    for cap in session.scalars(select(SessionDoseCapacity)
                               .where(SessionDoseCapacity.session_id.in_(ids))):
        capacity, booked = seats.get(cap.session_id, (0, 0))
        seats[cap.session_id] = (capacity + cap.capacity, booked + cap.booked)
    listed = [{"date": s.session_date, "facility": f, "status": s.status,
               "vaccine": ui.pack_label(p.names, p.code),
               "capacity": seats.get(s.id, (0, 0))[0], "booked": seats.get(s.id, (0, 0))[1]}
              for s, f, p in rows[:MAX_ROWS_SHOWN]]
    return ui.render("web/admin/sessions.html", sessions=listed,
                     more=len(rows) > MAX_ROWS_SHOWN, import_kind=None, report=None,
                     problems=None)


def _uploaded() -> tuple[str, bytes]:
    if (request.content_length or 0) > MAX_UPLOAD_BYTES + 64 * 1024:
        raise InvalidInput(file_too_large(MAX_UPLOAD_BYTES),
                           code="file_too_large")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        message = _("Choose a CSV file.")
        raise InvalidInput(message, code="invalid_upload", fields={"file": [message]})
    name = PurePath(upload.filename.replace("\\", "/")).name[:200] or "upload.csv"
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(file_too_large(MAX_UPLOAD_BYTES),
                           code="file_too_large")
    return name, data


@bp.post("/<any(facilities, sessions):kind>/import")
@staff_required("facility.manage")
def import_csv(kind: str):
    """Check and import a CSV; problems are listed row by row and nothing is written."""
    action = "facility.manage" if kind == "facilities" else "session.publish"
    access.check_access(_user(), action, message=_("Your account may not use this page."))
    form = ui.FormState()
    report = problems = None
    try:
        name, data = _uploaded()
        run = imports.import_facilities if kind == "facilities" else imports.import_sessions
        report = run(get_session(), data, file_name=name, actor=_user(),
                     dry_run=bool(request.form.get("check_only")))
    except imports.ImportInvalid as exc:
        form.fail(exc)
        problems = exc.problems
    except DomainError as exc:
        form.fail(exc)
    else:
        if report.dry_run:
            ui.done(_("The file has no problems (checked only, nothing imported): "
                      "%(added)d to add, %(updated)d to update, %(unchanged)d unchanged.",
                      added=report.added, updated=report.updated,
                      unchanged=report.unchanged))
        else:
            ui.done(_("Imported: %(added)d added, %(updated)d updated, %(unchanged)d "
                      "unchanged.", added=report.added, updated=report.updated,
                      unchanged=report.unchanged))
        return redirect(url_for(f"admin.{kind}"), code=303)
    return ui.render("web/admin/import_result.html", kind=kind, form=form,
                     problems=problems), form.status


# --- staff and roles -------------------------------------------------------------------------

def _role_options() -> list[tuple[str, str]]:
    return [(role, ROLE_LABELS[role]) for role in access.ROLE_RANK]


def _staff_page(form: ui.FormState, created: dict[str, Any] | None = None):
    users = identity.staff_visible_to(get_session(), _user())
    return ui.render("web/admin/staff.html", users=users, form=form, created=created,
                     roles=_role_options(), role_labels=ROLE_LABELS), form.status


@bp.get("/staff")
@staff_required("staff.manage")
def staff():
    return _staff_page(ui.FormState({}))


@bp.post("/staff")
@staff_required("staff.manage")
def create_staff():
    form = ui.FormState()
    try:
        data = ui.load_form(identity_schemas.StaffIn(),
                            ["username", "display_name", "mobile", "email"])
        user, generated = identity.admin_create_staff(
            get_session(), _user(), data["username"], None, data.get("display_name", ""),
            region=active_pack().document["phone_region"], mobile=data.get("mobile"),
            email=data.get("email"))
    except DomainError as exc:
        form.fail(exc)
        return _staff_page(form)
    ui.done(_("Account %(username)s created.", username=user.username))
    # The generated password is shown on this answer only (never stored in clear).
    return _staff_page(ui.FormState({}), created={"username": user.username,
                                                  "password": generated})


@bp.post("/staff/grants")
@staff_required("staff.manage")
def grant():
    form = ui.FormState()
    revoke = request.form.get("revoke") == "1"
    username = request.form.get("username", "").strip()
    try:
        data = ui.load_form(identity_schemas.GrantIn(), ["role", "location", "facility"])
        operation = identity.admin_revoke_role if revoke else identity.admin_grant_role
        operation(get_session(), _user(), username, data["role"], data.get("location"),
                  data.get("facility"))
    except DomainError as exc:
        form.fail(exc)
        return _staff_page(form)
    ui.done(_("Role revoked.") if revoke else _("Role granted."))
    return redirect(url_for("admin.staff"), code=303)


@bp.post("/staff/contact")
@staff_required("staff.manage")
def staff_contact():
    """Set or clear an account's mobile number (where alerts go) and e-mail address."""
    form = ui.FormState()
    username = request.form.get("username", "").strip()
    try:
        data = ui.load_form(identity_schemas.StaffContactIn(), ["mobile", "email"],
                            extra={"mobile": request.form.get("mobile", "").strip() or None})
        identity.admin_set_contact(get_session(), _user(), username,
                                   region=active_pack().document["phone_region"],
                                   mobile=data["mobile"], email=data.get("email"))
    except DomainError as exc:
        form.fail(exc)
        return _staff_page(form)
    ui.done(_("Contact of %(username)s saved.", username=username))
    return redirect(url_for("admin.staff"), code=303)


# --- partner API keys ----------------------------------------------------------------------

@bp.route("/partner-keys", methods=["GET", "POST"])
@staff_required("partner_key.manage")
def partner_keys():
    _require_partner_admin()
    session = get_session()
    form = ui.FormState()
    created = None
    if request.method == "POST":
        try:
            data = ui.load_form(identity_schemas.PartnerKeyIn(),
                                ["name", "rate_limit_per_minute"])
            key, raw = identity.create_partner_key(session, _user(), data["name"],
                                                   data["rate_limit_per_minute"])
        except DomainError as exc:
            form.fail(exc)
        else:
            created = {"name": key.name, "key": raw}
            form = ui.FormState({})
    return ui.render("web/admin/partner_keys.html", keys=identity.list_partner_keys(session),
                     form=form, created=created), form.status


@bp.post("/partner-keys/<int:key_id>/revoke")
@staff_required("partner_key.manage")
def revoke_partner_key(key_id: int):
    _require_partner_admin()
    key = identity.revoke_partner_key(get_session(), key_id)
    ui.done(_("Key %(prefix)s… revoked.", prefix=key.key_prefix))
    return redirect(url_for("admin.partner_keys"), code=303)


def _require_partner_admin() -> None:
    access.check_access(_user(), "partner_key.manage", access.COUNTRY,
                        message=_("Only national administrators may manage partner API keys."))


# --- audit trail ---------------------------------------------------------------------------

@bp.get("/audit")
@staff_required("audit.read")
def audit():
    before = request.args.get("before", type=int)
    action = request.args.get("action", "").strip()[:64] or None
    page_size = 50
    events = reports.audit_events_visible_to(get_session(), _user(), limit=page_size + 1,
                                             before_id=before if before and before > 0 else None,
                                             action=action)
    more = len(events) > page_size
    events = events[:page_size]
    return ui.render("web/admin/audit.html", events=events, action=action or "",
                     next_before=events[-1].id if more and events else None)


# --- routine immunization: indicators and campaigns ---------------------------------------

def _indicator_report():
    from datetime import date as _date

    pack, session = active_pack(), get_session()
    cohort = request.args.get("cohort", type=int)
    today = datetime.now(zoneinfo.ZoneInfo(_tz_name())).date()
    if cohort is None or not 1900 <= cohort <= today.year:
        cohort = today.year - 2  # the latest cohort past 24 months for most of its children
    parent = _query(report_schemas.RegionQuery(), ["parent"]).get("parent")
    report = reports.immunization_indicators(
        session, _user(), cohort=cohort, tz_name=_tz_name(),
        zero_dose_age=pack.routine.zero_dose_age, parent_code=parent, locale=_locale(),
        on=min(today, _date(cohort + 3, 1, 1)))
    return report, parent


def _indicator_charts(records: list[dict[str, Any]]) -> dict[str, Any]:
    locale = _locale()
    charts_out: dict[str, Any] = {}
    for age, key in (("12m", "coverage12"), ("24m", "coverage24")):
        rows = [r for r in records if r["age"] == age and r["reached_age"]]
        charts_out[key] = charts.grouped_bars(
            title=_("Coverage by %(age)s of age", age=age),
            desc=_("DTP1, DTP3, MCV1 and MCV2 in per cent of the registered children who had "
                   "reached the age, per region."),
            groups=[r["region_name"] for r in rows],
            series=[charts.Series(name.upper(), [r[f"{name}_percent"] or 0.0 for r in rows])
                    for name in ("dtp1", "dtp3", "mcv1", "mcv2")],
            locale=locale, width=360, height=260,
            empty_note=_("No registered children of this cohort have reached the age."))
    rows = [r for r in records if r["age"] == "12m" and r["reached_age"]]
    charts_out["zero_dose"] = charts.horizontal_bars(
        title=_("Zero-dose children"),
        desc=_("Children without DTP1 by 12 months, in per cent, per region."),
        labels=[r["region_name"] for r in rows],
        values=[r["zero_dose_percent"] or 0.0 for r in rows],
        value_texts=[charts.percent(r["zero_dose_percent"] or 0.0, locale) for r in rows],
        locale=locale, maximum=100.0, width=360, label_width=110,
        empty_note=_("No registered children of this cohort have reached the age."))
    rows = [r for r in records if r["age"] == "24m" and r["dtp1"]]
    charts_out["dropout"] = charts.horizontal_bars(
        title=_("Drop-out DTP1 to DTP3"),
        desc=_("Of the children with DTP1 by 24 months, the share without DTP3, per region."),
        labels=[r["region_name"] for r in rows],
        values=[max(r["dropout_dtp1_dtp3_percent"] or 0.0, 0.0) for r in rows],
        value_texts=[charts.percent(r["dropout_dtp1_dtp3_percent"] or 0.0, locale)
                     for r in rows],
        locale=locale, maximum=100.0, width=360, label_width=110,
        empty_note=_("No child of this cohort had DTP1."))
    return charts_out


def _campaign_charts() -> list[dict[str, Any]]:
    from cowin_kit.immunization import campaigns as campaign_service

    session, locale, out = get_session(), _locale(), []
    for campaign in campaign_service.list_campaigns(session, _user())[:5]:
        if not campaign_service.visible_areas(session, _user(), campaign):
            continue
        report = campaign_service.campaign_progress(session, active_pack(), _user(),
                                                    campaign.code, locale=locale)
        areas = report.areas
        out.append({
            "name": campaign.name(locale),
            "target_chart": charts.horizontal_bars(
                title=_("%(campaign)s: doses against target", campaign=campaign.name(locale)),
                desc=_("Doses given so far in per cent of each area's target."),
                labels=[a.name for a in areas], values=[a.percent or 0.0 for a in areas],
                value_texts=[_("%(doses)s of %(target)s", doses=charts.number(a.doses, locale),
                               target=charts.number(a.target, locale) if a.target else "–")
                             for a in areas],
                locale=locale, maximum=100.0, width=360, label_width=110,
                empty_note=_("No areas.")),
            "daily_chart": charts.column_chart(
                title=_("%(campaign)s: doses per day", campaign=campaign.name(locale)),
                desc=_("Campaign doses given on each day, all areas."),
                labels=[ui.format_short_day(d, "MMMd") for d in report.days],
                series=[charts.Series(_("Doses"), [sum(a.days[i].doses for a in areas)
                                                   for i in range(len(report.days))])],
                locale=locale, width=360, max_labels=4,
                empty_note=_("No doses in this period."))})
    return out


@bp.get("/immunization")
@staff_required("report.read")
def immunization():
    report, parent = _indicator_report()
    records = report.records()
    return ui.render("web/admin/immunization.html", report=report, records=records,
                     parent_code=parent, charts=_indicator_charts(records),
                     campaigns=_campaign_charts(),
                     percent=lambda value: charts.percent(value, str(ui.formats_locale())))


@bp.get("/immunization.csv")
@staff_required("report.read")
def immunization_csv():
    report, _parent = _indicator_report()
    return Response(report_rules.indicators_csv(report.records()), mimetype="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="immunization-{report.cohort}.csv"'})
