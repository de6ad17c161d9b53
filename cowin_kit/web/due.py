"""Health-worker pages of the routine wing: the due list of their facility or area on a day,
with the list (due, zero-dose, defaulters) and status filters, and its printable PDF. The
same service as the API and the CLI (cowin_kit.immunization.duelists)."""

from __future__ import annotations

from datetime import date

from flask import Response, request
from flask_babel import lazy_gettext

from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import InvalidInput
from cowin_kit.core.i18n import gettext as _
from cowin_kit.immunization import duelists
from cowin_kit.immunization.pdf import due_list_pdf, list_title
from cowin_kit.programme import due as rules
from cowin_kit.web import core, ui
from cowin_kit.web.auth import current_staff, staff_required

bp = ui.make_blueprint("due", __name__, url_prefix="/health-worker")
core.register_staff_link(duelists.ACTION, "due.due_list", lazy_gettext("Routine doses due"))

STATUS_CHOICES = (rules.DUE, rules.OVERDUE, rules.UPCOMING, rules.MISSED)


def _query() -> dict:
    """The page's filters, with the worker's own place by default."""
    args = request.args
    user = current_staff()
    assert user is not None
    location, facility = args.get("location") or None, args.get("facility") or None
    if not location and not facility:
        location, facility = duelists.default_place(get_session(), user)
    kind = args.get("list") or duelists.LIST_DUE
    on_text = args.get("on") or ""
    try:
        on = date.fromisoformat(on_text) if on_text else duelists.today_in(active_pack())
    except ValueError:
        raise InvalidInput(_("Not a date (YYYY-MM-DD)."), code="invalid_date") from None
    statuses = [s for s in args.getlist("status") if s]
    return {"location": location, "facility": facility, "list": kind, "on": on,
            "statuses": statuses}


def _result(query: dict) -> duelists.DueList:
    user = current_staff()
    assert user is not None
    return duelists.due_list(get_session(), active_pack(), user, on=query["on"],
                             location_code=query["location"], facility_code=query["facility"],
                             statuses=query["statuses"], kind=query["list"])


@bp.get("/due")
@staff_required(duelists.ACTION)
def due_list():
    query = _query()
    locale = str(ui.page_locale())
    result = _result(query)
    routine = result.routine
    assert routine is not None
    people = [{"name": group[0].name, "reference_id": group[0].reference_id,
               "external_id": group[0].external_id, "birth_date": group[0].birth_date,
               "doses": [{"schedule": routine.schedule_name(r.schedule, locale),
                          "dose": r.dose, "due": r.due, "latest": r.latest,
                          "status": r.status, "label": duelists.status_label(r.status)}
                         for r in group]}
              for group in result.groups()]
    lists = [(kind, list_title(kind)) for kind in duelists.LISTS]
    statuses = [(s, duelists.status_label(s)) for s in STATUS_CHOICES]
    pdf_args = {k: v for k, v in {"location": query["location"], "facility": query["facility"],
                                  "list": query["list"], "on": query["on"].isoformat()}.items()
                if v}
    return ui.render("web/due/list.html", result=result, people=people, query=query,
                     lists=lists, statuses=statuses, pdf_args=pdf_args,
                     chosen=set(result.statuses), title=list_title(result.kind))


@bp.get("/due.pdf")
@staff_required(duelists.ACTION)
def due_list_print():
    query = _query()
    result = _result(query)
    data = due_list_pdf(result, active_pack(), str(ui.page_locale()))
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="due-list-{result.on.isoformat()}.pdf"'})
