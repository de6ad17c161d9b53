"""The printable due list an outreach team takes to a village: grouped by person (name,
reference and register numbers, date of birth; no mobile or ID number), each dose with a tick box, its due date and status; the area, the day and
"page N of M" on every page; in the language and script of the pack (or the request),
right-to-left where the language is. Drawn with fpdf2 through :mod:`cowin_kit.core.pdf`
(the same fonts, shaping and script fallbacks as the appointment slip)."""

from __future__ import annotations

from dataclasses import dataclass

from babel.dates import format_date
from flask_babel import force_locale

from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.core.pdf import FpdfCanvas
from cowin_kit.immunization.duelists import (LIST_DEFAULTERS, LIST_ZERO_DOSE, DueList, DueRow,
                                             Progress, status_label)

_HEAD = 7.0      # a person's line, millimetres
_ROW = 6.0       # a dose's line
_GAP = 2.5       # between people
_BOX = 3.6       # the tick box's side


@dataclass(frozen=True)
class _Labels:
    title: str
    area: str
    day: str
    page: str          # with %(page)d and %(pages)d
    people: str
    born: str
    dose: str
    due: str
    none: str


def list_title(kind: str) -> str:
    if kind == LIST_ZERO_DOSE:
        return _("Zero-dose children")
    if kind == LIST_DEFAULTERS:
        return _("Defaulters")
    return _("Due list")


def _place(result: DueList, locale: str) -> str:
    parts = []
    if result.location is not None:
        parts.append(result.location.localized_name(locale))
    if result.facility is not None:
        names = result.facility.names or {}
        parts.append(names.get(locale) or names.get(locale.split("_")[0])
                     or result.facility.name)
    return " · ".join(parts)


def _labels(result: DueList, locale: str) -> _Labels:
    return _Labels(
        title=list_title(result.kind), area=_place(result, locale),
        day=_("On %(date)s", date=format_date(result.on, format="long", locale=locale)),
        page=_("Page %(page)d of %(pages)d"),
        people=ngettext("%(num)d person", "%(num)d people", result.people),
        born=_("born %(date)s"), dose=_("dose %(number)d"), due=_("due %(date)s"),
        none=_("Nobody is on this list."))


def _pages(groups: list[list[DueRow]], first_top: float, top: float, bottom: float
           ) -> list[list[list[DueRow]]]:
    """The groups laid out on pages (a person is not split unless longer than a page)."""
    pages: list[list[list[DueRow]]] = [[]]
    y = first_top
    for group in groups:
        height = _HEAD + _ROW * len(group) + _GAP
        if pages[-1] and y + height > bottom:
            pages.append([])
            y = top
        pages[-1].append(group)
        y += height
    return pages


def due_list_pdf(result: DueList, pack: ActivePack, locale: str,
                 progress: Progress | None = None) -> bytes:
    """The list as a PDF in ``locale`` (a language of the pack's)."""
    routine = result.routine
    assert routine is not None
    with force_locale(locale):
        labels = _labels(result, locale)
        statuses = {s: status_label(s) for s in ("due", "overdue", "upcoming", "missed",
                                                 "done", "not_counted", "not_needed")}
        names = {code: routine.schedule_name(code, locale) for code in routine.order}
        issuer = (pack.document.get("name") or {})
        issuer_text = issuer.get(locale) or issuer.get("en") or next(iter(issuer.values()), "")
        groups = result.groups()
        texts = [labels.title, labels.area, labels.day, labels.people,
                 labels.none, issuer_text, *names.values(), *statuses.values(),
                 *(g[0].name for g in groups)]
        page = FpdfCanvas(locale, texts, margins=(12, 12, 12, 14))
        width = page.right - page.left

        def x(offset: float, w: float) -> float:
            """The x of a box ``offset`` from the reading side."""
            return page.right - offset - w if page.rtl else page.left + offset

        def header() -> float:
            y = page.top
            page.cell(x(0, width), y, width, 5, issuer_text, size=9, gray=90)
            y += 5
            page.cell(x(0, width), y, width, 8, f"{labels.title} — {labels.area}",
                      size=15, bold=True)
            y += 8
            page.cell(x(0, width), y, width, 6, f"{labels.day} · {labels.people}", size=10)
            y += 7
            page.line(page.left, y, page.right, y, gray=120)
            return y + 2

        def footer(number: int, total: int) -> None:
            text = labels.page % {"page": number, "pages": total}
            page.cell(page.left, page.bottom + 3, width, 5, text, size=8, align="C", gray=90)

        first_top = page.top + 22
        laid_out = _pages(groups, first_top, page.top + 22, page.bottom)
        total = len(laid_out)
        drawn = 0
        for number, on_page in enumerate(laid_out, start=1):
            if number > 1:
                page.new_page()
            y = header()
            if not groups:
                page.cell(x(0, width), y + 4, width, 6, labels.none, size=11)
            for group in on_page:
                first = group[0]
                born = labels.born % {"date": format_date(first.birth_date, format="medium",
                                                          locale=locale)}
                ids = " · ".join(v for v in (first.reference_id, first.external_id) if v)
                page.cell(x(0, 80), y, 80, _HEAD, first.name, size=11, bold=True)
                page.cell(x(80, 45), y, 45, _HEAD, born, size=9)
                page.cell(x(125, width - 125), y, width - 125, _HEAD, ids, size=9, gray=60)
                y += _HEAD
                for row in group:
                    box_x = x(3, _BOX)
                    top, bottom = y + (_ROW - _BOX) / 2, y + (_ROW + _BOX) / 2
                    page.line(box_x, top, box_x + _BOX, top)
                    page.line(box_x, bottom, box_x + _BOX, bottom)
                    page.line(box_x, top, box_x, bottom)
                    page.line(box_x + _BOX, top, box_x + _BOX, bottom)
                    schedule = names.get(row.schedule, row.schedule)
                    dose = labels.dose % {"number": row.dose}
                    page.cell(x(9, 75), y, 75, _ROW, f"{schedule} — {dose}", size=10)
                    when = labels.due % {"date": format_date(row.due, format="medium",
                                                             locale=locale)} if row.due else ""
                    page.cell(x(85, 45), y, 45, _ROW, when, size=9)
                    page.cell(x(130, 25), y, 25, _ROW, statuses.get(row.status, row.status),
                              size=9, bold=row.status == "overdue")
                    page.line(x(157, 0), y + _ROW - 1, x(157, 0) + (-1 if page.rtl else 1)
                              * (width - 157), y + _ROW - 1, gray=170)
                    y += _ROW
                y += _GAP
                drawn += 1
                if progress is not None and (drawn % 500 == 0 or drawn == len(groups)):
                    progress("pdf", drawn, len(groups))
            footer(number, total)
        return page.to_bytes(title=f"{labels.title} — {labels.area}")
