"""The life-long immunization record as a printable card (PDF), in the record's language
and script (shaped Devanagari, right-to-left Arabic: the fonts and shaping of
:mod:`cowin_kit.core.pdf`): the issuer, the person, every dose given (date, vaccine,
dose, lot, facility; doses that did not count marked so) and the next doses with their
earliest, due and latest dates.

Drawn with the fast page writer (:mod:`cowin_kit.core.pdf_page`), or with fpdf2 when that
cannot draw it (several pages, a character none of its fonts has): one layout,
:func:`draw_record`, on either :class:`cowin_kit.core.pdf.Canvas`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from babel.dates import format_date
from flask_babel import force_locale

from cowin_kit.certificates.lifelong import LifelongRecord
from cowin_kit.certificates.pdf import pack_logo
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.i18n import gettext as _
from cowin_kit.core.pdf import Canvas, FpdfCanvas, field, is_rtl, paragraph
from cowin_kit.core.pdf_page import DoesNotFit, PageWriter

log = logging.getLogger(__name__)

MARGINS = (12, 12, 12, 12)
RULE_GRAY = 180
LOGO_MM = 16
# the doses' table: (column, share of the width)
DOSE_COLUMNS = (("date", 0.15), ("vaccine", 0.27), ("dose", 0.18), ("lot", 0.14),
                ("facility", 0.26))
NEXT_COLUMNS = (("vaccine", 0.30), ("dose", 0.18), ("status", 0.13), ("earliest", 0.13),
                ("due", 0.13), ("latest", 0.13))


@dataclass(frozen=True)
class RecordView:
    locale: str
    rtl: bool
    issuer: str
    labels: dict[str, str]
    person: list[tuple[str, str]]
    doses: list[dict[str, str]]
    next: list[dict[str, str]]
    logo: object = None

    def texts(self) -> list[str]:
        return [self.issuer, *self.labels.values(),
                *(t for pair in self.person for t in pair),
                *(t for row in self.doses + self.next for t in row.values())]


def _labels() -> dict[str, str]:
    return {
        "title": _("Immunization record"),
        "person": _("Person"),
        "name": _("Name"),
        "birth_date": _("Date of birth"),
        "birth_year": _("Year of birth"),
        "id": _("Photo ID"),
        "reference_id": _("Beneficiary reference ID"),
        "as_of": _("Record as of"),
        "given": _("Vaccinations given"),
        "none_given": _("No vaccination has been recorded yet."),
        "next_heading": _("Next doses"),
        "none_next": _("No dose is due."),
        "date": _("Date"),
        "vaccine": _("Vaccine"),
        "dose": _("Dose"),
        "lot": _("Lot number"),
        "facility": _("Vaccination centre"),
        "status": _("Status"),
        "earliest": _("Earliest"),
        "due": _("Due date"),
        "latest": _("Latest"),
        "not_counted_note": _("A dose marked \"Not counted\" was given too early or twice; "
                              "it is recorded, and the dose is due again."),
    }


def status_labels() -> dict[str, str]:
    """The pending statuses' names in the current language."""
    return {"due": _("Due"), "overdue": _("Overdue"), "upcoming": _("Upcoming")}


def _day(day: date | None, locale: str) -> str:
    return format_date(day, format="medium", locale=locale) if day else ""


def build_view(pack: ActivePack, record: LifelongRecord) -> RecordView:
    locale = record.locale
    with force_locale(locale):
        labels = _labels()
        statuses = status_labels()
    issuer_names = pack.document.get("certificates", {}).get("issuer") or {}
    issuer = (issuer_names.get(locale) or issuer_names.get(pack.default_locale)
              or next(iter(issuer_names.values()), ""))
    birth = ((labels["birth_date"], format_date(record.birth_date, format="long",
                                                 locale=locale))
             if record.birth_date else (labels["birth_year"], str(record.birth_year)))
    person = [(labels["name"], record.name), birth]
    if record.identifier is not None:
        person.append((labels["id"], record.identifier.value))
    person += [(labels["reference_id"], record.reference_id),
               (labels["as_of"], format_date(record.on, format="long", locale=locale))]
    doses = [{"date": _day(d.day, locale),
              "vaccine": d.product + (f" ({d.schedule})" if d.schedule else ""),
              "dose": d.label, "lot": d.lot, "facility": d.facility}
             for d in record.doses]
    upcoming = [{"vaccine": n.schedule + (f" ({', '.join(n.product_names)})"
                                          if n.product_names else ""),
                 "dose": n.label, "status": statuses[n.status],
                 "earliest": _day(n.earliest, locale), "due": _day(n.due, locale),
                 "latest": _day(n.latest, locale)}
                for n in record.next]
    return RecordView(locale=locale, rtl=is_rtl(locale), issuer=issuer, labels=labels,
                      person=person, doses=doses, next=upcoming, logo=pack_logo(pack))


def record_pdf(view: RecordView) -> bytes:
    try:
        return draw_record(view, PageWriter(view.locale, view.texts(), margins=MARGINS))
    except DoesNotFit as reason:
        log.info("immunization record PDF drawn with fpdf2 (%s)", reason)
        return draw_record(view, FpdfCanvas(view.locale, view.texts(), margins=MARGINS))


def _table(page: Canvas, view: RecordView, columns: tuple[tuple[str, float], ...],
           rows: list[dict[str, str]], y: float) -> float:
    """A table, its columns in reading order (mirrored right-to-left), the heading row
    repeated on every new page; the y below it."""
    width = page.right - page.left
    spans = []
    x = page.left
    for name, share in columns:
        spans.append((name, x, share * width))
        x += share * width
    if view.rtl:
        spans = [(name, page.right - (start - page.left) - span, span)
                 for name, start, span in spans]

    def heading(y: float) -> float:
        bottom = y
        for name, start, span in spans:
            bottom = max(bottom, page.text_lines(start, y, span - 1, 4, view.labels[name],
                                                 size=8, bold=True, gray=60))
        page.line(page.left, bottom + 0.5, page.right, bottom + 0.5, gray=RULE_GRAY)
        return bottom + 1.5

    y = heading(y)
    for row in rows:
        if page.bottom - y < 14:
            y = heading(page.new_page())
        bottom = y
        for name, start, span in spans:
            bottom = max(bottom, page.text_lines(start, y, span - 1, 4.2, row.get(name, ""),
                                                 size=9))
        y = bottom + 1
    return y


def draw_record(view: RecordView, page: Canvas) -> bytes:
    labels = view.labels
    left, right = page.left, page.right
    y = page.top
    head_left, head_right = left, right
    if view.logo is not None:
        page.image(view.logo, right - LOGO_MM if view.rtl else left, y, LOGO_MM, LOGO_MM)
        if view.rtl:
            head_right = right - LOGO_MM - 4
        else:
            head_left = left + LOGO_MM + 4
    if view.issuer:
        y = paragraph(page, view.issuer, y, size=11, bold=True, gap=1, left=head_left,
                      right=head_right)
    y = paragraph(page, labels["title"], y, size=17, bold=True, gap=2, left=head_left,
                  right=head_right)
    if view.logo is not None:
        y = max(y, page.top + LOGO_MM + 2)
    page.line(left, y, right, y, gray=RULE_GRAY)
    y = paragraph(page, labels["person"], y + 2, size=12, bold=True, gap=1)
    for index, (label, value) in enumerate(view.person):
        y = field(page, label, value, y, label_width=50, size=10, bold_value=index == 0)
    y += 2
    page.line(left, y, right, y, gray=RULE_GRAY)
    y = paragraph(page, labels["given"], y + 2, size=12, bold=True, gap=1)
    if view.doses:
        y = _table(page, view, DOSE_COLUMNS, view.doses, y)
    else:
        y = paragraph(page, labels["none_given"], y, size=10)
    y += 2
    if page.bottom - y < 25:
        y = page.new_page()
    page.line(left, y, right, y, gray=RULE_GRAY)
    y = paragraph(page, labels["next_heading"], y + 2, size=12, bold=True, gap=1)
    if view.next:
        y = _table(page, view, NEXT_COLUMNS, view.next, y)
    else:
        y = paragraph(page, labels["none_next"], y, size=10)
    if page.bottom - y < 12:
        y = page.new_page()
    paragraph(page, labels["not_counted_note"], y + 3, size=8)
    return page.to_bytes(title=labels["title"])


def render_record_pdf(pack: ActivePack, record: LifelongRecord) -> bytes:
    return record_pdf(build_view(pack, record))
