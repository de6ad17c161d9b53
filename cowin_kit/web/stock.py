"""The stock dashboard, /admin/stock (``stock.read``): stock on hand, days of stock and
the wastage rate per product and area of the chosen hierarchy level (plots, a table and
the CSV), and the stock alerts of the last week. It calls the services of /api/v1/stock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import Response, request
from flask_babel import get_locale, lazy_gettext

from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_session
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.reporting.rules import to_csv
from cowin_kit.stock import services as stock
from cowin_kit.web import charts, core, ui
from cowin_kit.web.auth import current_staff, staff_required

bp = ui.make_blueprint("stock_pages", __name__, url_prefix="/admin")
core.register_staff_link("stock.read", "stock_pages.dashboard", lazy_gettext("Vaccine stock"))

ALERT_LABELS = {
    "near_expiry": lazy_gettext("Near expiry"),
    "stock_out": lazy_gettext("Stock-out"),
    "low_stock": lazy_gettext("Low stock"),
}


def _level() -> int:
    levels = len(active_pack().document.get("hierarchy") or []) or 1
    level = request.args.get("level", type=int) or 1
    return min(max(level, 1), levels)


def _rows():
    return stock.summary(get_session(), active_pack(), current_staff(), level=_level(),
                         locale=str(get_locale() or "en"))


def _charts(rows: list[stock.AreaStock], locale: str) -> dict:
    labels = [f"{r.name} · {r.product}" for r in rows]
    with_days = [r for r in rows if r.days_of_stock is not None]
    with_waste = [r for r in rows if r.wastage_rate is not None]
    return {
        "on_hand": charts.horizontal_bars(
            title=_("Stock on hand"),
            desc=_("Doses held in each area's stores and facilities, per product."),
            labels=labels, values=[max(r.on_hand, 0) for r in rows],
            value_texts=[charts.number(r.on_hand, locale) for r in rows], locale=locale,
            width=360, label_width=150, empty_note=_("No stock recorded yet.")),
        "days": charts.horizontal_bars(
            title=_("Days of stock"),
            desc=ngettext("How many days the doses on hand last at the use of the last "
                          "%(num)d day.",
                          "How many days the doses on hand last at the use of the last "
                          "%(num)d days.", stock.CONSUMPTION_DAYS),
            labels=[f"{r.name} · {r.product}" for r in with_days],
            values=[r.days_of_stock or 0.0 for r in with_days],
            value_texts=[charts.number(r.days_of_stock or 0.0, locale) for r in with_days],
            locale=locale, width=360, label_width=150,
            empty_note=_("No doses used in the period.")),
        "wastage": charts.horizontal_bars(
            title=_("Wastage rate"),
            desc=ngettext("Doses wasted in per cent of the doses used (given and wasted) in "
                          "the last %(num)d day.",
                          "Doses wasted in per cent of the doses used (given and wasted) in "
                          "the last %(num)d days.", stock.CONSUMPTION_DAYS),
            labels=[f"{r.name} · {r.product}" for r in with_waste],
            values=[r.wastage_rate or 0.0 for r in with_waste],
            value_texts=[charts.percent(r.wastage_rate or 0.0, locale) for r in with_waste],
            locale=locale, maximum=100.0, width=360, label_width=150,
            empty_note=_("No doses used in the period.")),
    }


@bp.get("/stock")
@staff_required("stock.read")
def dashboard():
    locale = str(get_locale() or "en")
    rows = _rows()
    since = stock.local_day(active_pack(), datetime.now(timezone.utc)) - timedelta(days=7)
    alerts = stock.recent_alerts(get_session(), current_staff(), since=since, limit=50)
    levels = active_pack().document.get("hierarchy") or []
    return ui.render("web/admin/stock.html", rows=rows, charts=_charts(rows, locale),
                     alerts=alerts, alert_labels=ALERT_LABELS, level=_level(),
                     period_days=stock.CONSUMPTION_DAYS,
                     levels=[(i + 1, level["name"].get(locale) or level["name"].get("en")
                              or level["key"]) for i, level in enumerate(levels)],
                     percent=lambda value: charts.percent(value, locale))


@bp.get("/stock.csv")
@staff_required("stock.read")
def dashboard_csv():
    return Response(to_csv(stock.SUMMARY_COLUMNS, stock.summary_rows(_rows())),
                    mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="stock.csv"'})
