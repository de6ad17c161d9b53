"""A person's data export as a readable PDF: the same document as the JSON export
(cowin_kit.privacy.export), section by section, in the person's language and script
(the fonts and shaping of cowin_kit.core.pdf, drawn with fpdf2 on as many pages as it
takes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import force_locale

from cowin_kit.core.i18n import gettext as _
from cowin_kit.core.pdf import FpdfCanvas, field, paragraph
from cowin_kit.privacy.export import Export

MARGINS = (15, 14, 15, 14)
RULE_GRAY = 180


def _text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime(
                "%Y-%m-%d %H:%M UTC")
        except ValueError:
            return value
    return str(value)


def _labels() -> dict[str, str]:
    return {
        "title": _("Your data: everything held about you"),
        "controller": _("Held by"), "generated": _("Made on"),
        "account": _("Account"), "mobile": _("Mobile number"),
        "language": _("Language"), "created_at": _("Account created"),
        "reminders": _("Reminders"), "person": _("Person"),
        "reference_id": _("Reference ID"), "name": _("Name"),
        "birth_year": _("Year of birth"), "birth_date": _("Date of birth"),
        "gender": _("Gender"), "id_type": _("ID document"),
        "id_number_masked": _("ID number (masked)"), "guardian_name": _("Guardian"),
        "registered_by": _("Registered by"), "registered_at": _("Registered on"),
        "appointments": _("Appointments"), "doses": _("Doses given"),
        "certificates": _("Certificates"), "aefi_reports": _("Adverse events reported"),
        "grievances": _("Grievances"), "audit": _("Who read or changed these records"),
        "none": _("None."),
        "ids": _("ID numbers are shown masked: the full number is on your own document."),
    }


def _rows(kind: str, items: list[dict[str, Any]]) -> list[str]:
    if kind == "appointments":
        return [f"{_text(a['date'])} {a['time']} · {_text(a['facility'])} · "
                f"{_('dose')} {a['dose']} · {a['status']}" for a in items]
    if kind == "doses":
        return [f"{_text(d['given_at'])} · {_text(d['vaccine'])} · {_('dose')} {d['dose']} · "
                f"{_('lot')} {d['lot']} · {_text(d['facility'])}" for d in items]
    if kind == "certificates":
        return [f"{c['id']} · {_text(c['issued_at'])}"
                + (f" · {_('revoked')} {_text(c['revoked_at'])}" if c["revoked_at"] else "")
                for c in items]
    if kind == "aefi_reports":
        return [f"{_text(r['onset_at'])} · {_text(r['symptoms'] or r['reactions'])} · "
                f"{r['seriousness']} · {r['outcome']}" for r in items]
    if kind == "grievances":
        return [f"{_text(g['opened_at'])} · {g['category']} · {g['status']}: "
                f"{g['description']}" + (f" — {g['answer']}" if g["answer"] else "")
                for g in items]
    return [f"{_text(e['at'])} · {e['who']} · {e['action']} · {e['record']}"
            for e in items]


def _section(page: FpdfCanvas, title: str, lines: list[str], y: float, none: str) -> float:
    y = paragraph(page, title, y + 2, size=11, bold=True)
    for line in lines or [none]:
        y = paragraph(page, line, y, size=9, gap=0.8)
    return y


def export_pdf(export: Export) -> bytes:
    """The export as a PDF in its language."""
    document = export.document
    with force_locale(export.locale):
        labels = _labels()
        texts: list[str] = list(labels.values())
        sections: list[tuple[str, list[str]]] = []
        for person in document["people"]:
            for kind in ("appointments", "doses", "certificates", "aefi_reports"):
                sections.append((kind, _rows(kind, person[kind])))
        grievance_rows = _rows("grievances", document["grievances"])
        audit_rows = _rows("audit", document["audit"])
        texts += [document["controller"], *grievance_rows, *audit_rows,
                  *(p["name"] for p in document["people"]),
                  *(p["guardian_name"] or "" for p in document["people"]),
                  *(row for _kind, rows in sections for row in rows)]
        page = FpdfCanvas(export.locale, texts, margins=MARGINS)
        y = paragraph(page, labels["title"], page.top, size=15, bold=True, gap=3)
        y = field(page, labels["controller"], document["controller"], y)
        y = field(page, labels["generated"], _text(document["generated_at"]), y)
        account = document["account"]
        if account is not None:
            y = paragraph(page, labels["account"], y + 3, size=12, bold=True)
            for key in ("mobile", "language", "created_at", "reminders"):
                y = field(page, labels[key], _text(account[key]), y)
        rows = iter(sections)
        for person in document["people"]:
            page.line(page.left, y + 2, page.right, y + 2, gray=RULE_GRAY)
            y = paragraph(page, f"{labels['person']}: {person['name']}", y + 4, size=12,
                          bold=True)
            for key in ("reference_id", "birth_year", "birth_date", "gender", "id_type",
                        "id_number_masked", "guardian_name", "registered_by",
                        "registered_at"):
                if person[key] is not None:
                    y = field(page, labels[key], _text(person[key]), y)
            for _index in range(4):
                kind, lines = next(rows)
                y = _section(page, labels[kind], lines, y, labels["none"])
        page.line(page.left, y + 2, page.right, y + 2, gray=RULE_GRAY)
        y = _section(page, labels["grievances"], grievance_rows, y + 3, labels["none"])
        y = _section(page, labels["audit"], audit_rows, y, labels["none"])
        paragraph(page, labels["ids"], y + 3, size=8)
        return page.to_bytes(title=labels["title"])
