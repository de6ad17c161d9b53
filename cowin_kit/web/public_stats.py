"""The public dashboard, /statistics: the programme's figures for everyone (no sign-in),
in every pack language, down to the pack's lowest public level (a click on an area opens
its own page). The figures are those of the open data (/api/v1/open-data/summary), read
from the dose tally and kept for PUBLIC_DATA_CACHE_SECONDS; the page around them is not
cached (it carries the visitor's language form)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import format_date, get_locale

from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_session
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.reporting import public
from cowin_kit.reporting import public_rules as pr
from cowin_kit.web import charts, ui

bp = ui.make_blueprint("public_stats", __name__, url_prefix="/statistics")


def _figures(area_code: str | None, locale: str) -> dict[str, Any]:
    """The summary document, with the area's path and the name of the level below."""
    ttl = current_app.config["COWIN_KIT"]["PUBLIC_DATA_CACHE_SECONDS"]
    cache = current_app.extensions["cowin_kit.core.cache"]
    key = f"public-page|{locale}|{area_code or ''}"
    if ttl > 0:
        raw = cache.get(key)
        if raw is not None:
            return json.loads(raw)
    pack = active_pack()
    view = public.public_figures(get_session(), pack, area_code=area_code, locale=locale)
    document = public.summary_document(view, pack)
    document["path"] = [{"code": p.code, "name": p.label(locale)} for p in view.path]
    document["level_name"] = view.level_name
    document["drill"] = {a.code: a.drill for a in view.areas}
    if ttl > 0:
        cache.set(key, json.dumps(document).encode(), ttl)
    return document


def _value(count: Any) -> float:
    """What a chart draws for a published count: a suppressed one is not drawn."""
    return float(count) if isinstance(count, int) else 0.0


def _text(count: Any, locale: str) -> str:
    return charts.number(count, locale) if isinstance(count, int) else str(count)


def _charts(figures: dict[str, Any], locale: str) -> dict[str, Any]:
    names = {pr.FIRST: _("Dose 1"), pr.SECOND: _("Dose 2"), pr.BOOSTER: _("Booster"),
             pr.ROUTINE: _("Routine immunization")}
    days = figures["last_30_days"]
    below = figures["suppressed_below"]
    trend = charts.column_chart(
        title=_("Doses per day"),
        desc=ngettext("Doses given on each of the last %(num)d days, by dose (counts under "
                      "the publication threshold, %(below)d, are not drawn).",
                      "Doses given on each of the last %(num)d days, by dose (counts under "
                      "the publication threshold, %(below)d, are not drawn).",
                      len(days), below=below),
        labels=[format_date(date.fromisoformat(d["date"]), "d MMM") for d in days],
        series=[charts.Series(names[g], [_value(d[g]) for d in days]) for g in pr.DOSE_GROUPS],
        locale=locale, empty_note=_("No doses in this period."))
    areas = [a for a in figures["areas"] if isinstance(a["total"], int) and a["total"] > 0]
    ranked = charts.horizontal_bars(
        title=_("Doses by area"),
        desc=_("Doses given in each area, most first (areas whose count is under the "
               "publication threshold, %(below)s, are in the table only).", below=below),
        labels=[a["name"] for a in areas], values=[_value(a["total"]) for a in areas],
        value_texts=[_text(a["total"], locale) for a in areas], locale=locale,
        empty_note=_("No doses yet."))
    ages = list(figures["by_age_group"].items())
    by_age = charts.horizontal_bars(
        title=_("Doses by age group"), desc=_("Doses by the age of the person at the dose."),
        labels=[label if label != "other" else _("other ages") for label, _n in ages],
        values=[_value(n) for _l, n in ages], value_texts=[_text(n, locale) for _l, n in ages],
        locale=locale, empty_note=_("No doses yet."))
    return {"trend": trend, "areas": ranked, "ages": by_age}


@bp.get("/")
@bp.get("/<code>")
def dashboard(code: str | None = None):
    locale = str(get_locale())
    figures = _figures(code, locale)
    return ui.render("web/public/statistics.html", figures=figures,
                     day=date.fromisoformat(figures["date"]),
                     charts=_charts(figures, locale), publisher=active_pack().public_data.publisher,
                     group_names={pr.FIRST: _("Dose 1"), pr.SECOND: _("Dose 2"),
                                  pr.BOOSTER: _("Booster"), pr.ROUTINE: _("Routine immunization")})
