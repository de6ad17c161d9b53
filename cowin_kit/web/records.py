"""The life-long immunization record as pages: for the citizen (each member of their
household, from the start page) and for staff (vaccinators, health workers, administrators
whose grants reach the person: look a person up by reference ID). Every dose given, what
is due next with its dates and a status badge, and the downloads the pack enables (the
printable PDF card, the SMART Health Card file, the W3C credential).

The same services as the API's record routes (cowin_kit.api.records): who may read whom is
:func:`cowin_kit.certificates.lifelong.for_citizen` / ``for_staff`` (a stranger's member
or a person outside the staff member's area: 404; staff without any grant that reads
records: 403)."""

from __future__ import annotations

import json
from typing import Any, Callable

from flask import Response, redirect, request, url_for
from flask_babel import get_locale, lazy_gettext

from cowin_kit.certificates import lifelong
from cowin_kit.certificates.formats import shc
from cowin_kit.certificates.record_pdf import render_record_pdf, status_labels
from cowin_kit.config.runtime import ActivePack, active_pack
from cowin_kit.core.db import get_session
from cowin_kit.core.errors import DomainError
from cowin_kit.core.i18n import gettext as _
from cowin_kit.registration.models import Beneficiary
from cowin_kit.scheduling.slip import slip_locale
from cowin_kit.web import auth, core, ui
from cowin_kit.web.auth import citizen_required, current_citizen, current_staff

bp = ui.make_blueprint("records", __name__)
core.register_staff_link(lifelong.STAFF_ACTIONS, "records.staff_lookup",
                         lazy_gettext("Immunization records"))

# the downloads: kind -> (the pack's certificate format that enables it, file suffix)
DOWNLOADS = {"pdf": (None, ".pdf"), "shc": ("shc", shc.FILE_EXTENSION),
             "vc": ("vc", ".vc.json")}


def _locale() -> str:
    return str(get_locale())


def _citizen_person(reference_id: str) -> Beneficiary:
    account = current_citizen()
    assert account is not None  # behind citizen_required
    return lifelong.for_citizen(get_session(), account, reference_id)


def _reason() -> str | None:
    """Why a person outside the staff member's area is opened (break the glass), carried
    by the record page's links."""
    return request.args.get("reason") or None


def _staff_person(reference_id: str) -> Beneficiary:
    """The person, the read audited (registration.reads): outside the staff member's area
    only with a reason."""
    user = current_staff()
    assert user is not None  # behind staff_required_any
    return lifelong.for_staff(get_session(), user, reference_id, reason=_reason(),
                              view=str(request.endpoint))


def _downloads(pack: ActivePack, record: lifelong.LifelongRecord,
               endpoint: str) -> list[dict[str, str]]:
    """The files offered: the PDF card always, the signed credentials when the pack
    issues them and a dose is recorded (an empty record is not signed)."""
    formats = pack.document.get("certificates", {}).get("formats") or ()
    titles = {"pdf": _("Record card (PDF)"), "shc": _("SMART Health Card file"),
              "vc": _("W3C verifiable credential")}
    offered = []
    for kind, (needs, _suffix) in DOWNLOADS.items():
        if needs is not None and (needs not in formats or not record.doses):
            continue
        offered.append({"kind": kind, "title": titles[kind],
                        "url": url_for(f"{endpoint}_{kind}", reference_id=record.reference_id,
                                       reason=_reason())})
    return offered


def _page(person: Beneficiary, download_endpoint: str, back: str, *, staff: bool):
    pack = active_pack()
    record = lifelong.build(get_session(), pack, person, locale=_locale())
    return ui.render("web/records/record.html", record=record, statuses=status_labels(),
                     downloads=_downloads(pack, record, download_endpoint), back=back,
                     staff=staff)


def _download(find: Callable[[str], Beneficiary], reference_id: str, kind: str) -> Response:
    """The record as a file, in the person's account language (as the API gives it)."""
    person = find(reference_id)
    pack = active_pack()
    session = get_session()
    record = lifelong.build(session, pack, person,
                            locale=slip_locale(person.account, pack, _locale()))
    data: Any
    if kind == "pdf":
        data, mimetype = render_record_pdf(pack, record), "application/pdf"
    elif kind == "shc":
        data = shc.card_file([lifelong.sign_shc(session, pack, record)])
        mimetype = "application/smart-health-card"
    else:
        data = json.dumps(lifelong.sign_vc(session, pack, record), ensure_ascii=False)
        mimetype = "application/vc+ld+json"
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="immunization-record-{reference_id}{DOWNLOADS[kind][1]}"')
    return response


# --- citizens ----------------------------------------------------------------------------

@bp.get("/members/<reference_id>/record")
@citizen_required
def citizen_record(reference_id: str):
    return _page(_citizen_person(reference_id), "records.citizen_record",
                 url_for("citizen.home"), staff=False)


@bp.get("/members/<reference_id>/record.pdf")
@citizen_required
def citizen_record_pdf(reference_id: str):
    return _download(_citizen_person, reference_id, "pdf")


@bp.get("/members/<reference_id>/record.smart-health-card")
@citizen_required
def citizen_record_shc(reference_id: str):
    return _download(_citizen_person, reference_id, "shc")


@bp.get("/members/<reference_id>/record.vc.json")
@citizen_required
def citizen_record_vc(reference_id: str):
    return _download(_citizen_person, reference_id, "vc")


# --- staff -------------------------------------------------------------------------------

@bp.get("/staff/records")
@auth.staff_required_any
def staff_lookup():
    """Look a person up by reference ID (a GET form: the address can be bookmarked): on to
    the record page, which reads (and audits) the record once."""
    reference_id = "".join((request.args.get("reference_id") or "").split())
    if reference_id:
        return redirect(url_for("records.staff_record", reference_id=reference_id,
                                reason=_reason()), code=303)
    form = ui.FormState(request.args)
    return ui.render("web/records/lookup.html", form=form), form.status


@bp.get("/staff/records/<reference_id>")
@auth.staff_required_any
def staff_record(reference_id: str):
    try:
        person = _staff_person(reference_id)
    except DomainError as exc:
        if exc.status == 403 and exc.code != "reason_required":
            raise  # no grant that reads records at all
        # unknown, or outside the area without a reason: the lookup form says so
        form = ui.FormState({"reference_id": reference_id, "reason": _reason() or ""})
        field = "reason" if exc.code in ("reason_required", "invalid_reason") \
            else "reference_id"
        form.fail(exc, field=field)
        return ui.render("web/records/lookup.html", form=form), form.status
    return _page(person, "records.staff_record", url_for("records.staff_lookup"), staff=True)


@bp.get("/staff/records/<reference_id>.pdf")
@auth.staff_required_any
def staff_record_pdf(reference_id: str):
    return _download(_staff_person, reference_id, "pdf")


@bp.get("/staff/records/<reference_id>.smart-health-card")
@auth.staff_required_any
def staff_record_shc(reference_id: str):
    return _download(_staff_person, reference_id, "shc")


@bp.get("/staff/records/<reference_id>.vc.json")
@auth.staff_required_any
def staff_record_vc(reference_id: str):
    return _download(_staff_person, reference_id, "vc")
