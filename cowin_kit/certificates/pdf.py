"""The vaccination certificate as a PDF, in the beneficiary's language: the issuer, the
person (name, birth date or year, masked ID, reference ID), the dose (vaccine,
manufacturer, lot, dose x of y, date, centre, vaccinator), the certificate id, the
provisional or final wording, and the QR code of every enabled format (EU DCC, SMART
Health Card, W3C VC) — the signed texts stored with the certificate, so the QR codes are
exactly what was signed.

The layout is defined once (:func:`draw_certificate`, on a :class:`cowin_kit.core.pdf.Canvas`).
It is written directly by :mod:`cowin_kit.core.pdf_page` (fonts, shaping and the embedded
font programs of :mod:`cowin_kit.core.pdf`, parsed and subset once per process; the fonts'
objects, the logo's image and the labels' shaped text made once): a certificate costs its
QR images, the shaping of its own texts and its content stream. What that writer cannot
draw (a character none of its fonts has, a word wider than its column, a page overflow)
is drawn with fpdf2 (:class:`cowin_kit.core.pdf.FpdfCanvas`).

The pack's logo (``certificates.logo``) travels inside the installed pack document (the
installer inlines it), so every process can draw it; it is decoded once per process."""

from __future__ import annotations

import io
import logging
import dataclasses
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from babel.dates import format_date
from flask_babel import force_locale
from PIL import Image
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from cowin_kit.certificates.formats import shc
from cowin_kit.certificates.formats.qr import module_rows
from cowin_kit.certificates.models import Certificate
from cowin_kit.config.packs import logo_bytes
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.i18n import gettext as _
from cowin_kit.identity.models import IdDocumentType
from cowin_kit.core.pdf import Canvas, FpdfCanvas, field, is_rtl, paragraph
from cowin_kit.core.pdf_page import DoesNotFit, PageWriter, bilevel_image
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.geography.models import Facility
from cowin_kit.vaccination.services import vaccine_product
from cowin_kit.certificates.services import _DoseFacts, _record
from cowin_kit.plugins import render_pdf

log = logging.getLogger(__name__)

QR_SIZE_MM = 58
# QR images: pixels per module and quiet zone (modules). The mask pattern is fixed: segno's
# search for the best of the 8 masks (pure Python) costs ~80 ms per code, most of a
# certificate's time; every mask gives a valid code that readers decode.
QR_SCALE = 3
QR_BORDER = 4
QR_MASK = 2


def _localized(names: dict[str, str] | None, locale: str, default: str = "") -> str:
    names = names or {}
    return (names.get(locale) or names.get(locale.split("_")[0]) or default
            or next(iter(names.values()), ""))


@dataclass(frozen=True)
class CertificateView:
    """Everything the PDF shows, already in its language."""

    locale: str
    rtl: bool
    issuer: str
    title: str
    status: str
    person: list[tuple[str, str]]
    vaccination: list[tuple[str, str]]
    # (caption, QR image); a caption's first line says where to show the code (border
    # control, airlines, checks at home), its second line names the format
    codes: list[tuple[str, Image.Image]]
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    logo: Image.Image | None = None

    def texts(self) -> list[str]:
        return [self.issuer, self.title, self.status, *self.labels.values(),
                *(t for pair in self.person + self.vaccination for t in pair),
                *(line for caption, _png in self.codes for line in caption.split("\n"))]


LOGO_MM = 20


@lru_cache(maxsize=4)
def _logo_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def pack_logo(pack: ActivePack) -> Image.Image | None:
    data = logo_bytes(pack.document)
    return _logo_image(data) if data else None


@lru_cache(maxsize=512)
def qr_image(kind: str, text: str) -> Image.Image:
    """The QR code of ``text`` as a black-and-white image: the code of
    :func:`cowin_kit.certificates.formats.qr.module_matrix` (exactly segno's, fixed mask) with a
    quiet zone, QR_SCALE pixels per module. Signed texts never change, so a certificate
    downloaded again reuses its image and its PDF form (made with it: :func:`bilevel_image`)."""
    # The code's packed rows at a pixel a module (quiet zone included, every row padded to
    # whole bytes), each byte widened to QR_SCALE bytes (byte k of every widened byte made
    # by one translation, all written into their places by strided slices), each row cut
    # to the image's width and repeated QR_SCALE times: C-level bytes work.
    side, packed = module_rows(kind, text, QR_MASK, QR_BORDER)
    wide = bytearray(len(packed) * QR_SCALE)
    for k, table in enumerate(_WIDENED_BYTES):
        wide[k::QR_SCALE] = packed.translate(table)
    pixels = side * QR_SCALE
    row_bytes, step = (pixels + 7) // 8, len(packed) // side * QR_SCALE
    return bilevel_image(pixels, pixels, b"".join([
        wide[start:start + row_bytes] * QR_SCALE for start in range(0, len(wide), step)]))


def _widened(byte: int) -> bytes:
    value = 0
    for bit in range(7, -1, -1):
        value = (value << QR_SCALE) | (((1 << QR_SCALE) - 1) if byte >> bit & 1 else 0)
    return value.to_bytes(QR_SCALE, "big")


# every bit repeated QR_SCALE times: byte k of the widened byte, by the byte's value
_WIDENED_BYTES = [bytes(_widened(byte)[k] for byte in range(256)) for k in range(QR_SCALE)]


def _labels(locale: str) -> dict[str, str]:
    """The page's fixed texts in ``locale`` (remembered per snapshot of the pack)."""
    with force_locale(locale):
        return _label_texts()


def _label_texts() -> dict[str, str]:
    return {
        "title": _("Vaccination certificate"),
        "person": _("Beneficiary details"),
        "vaccination": _("Vaccination details"),
        "name": _("Name"),
        "birth_date": _("Date of birth"),
        "birth_year": _("Year of birth"),
        "id": _("Photo ID"),
        "reference_id": _("Beneficiary reference ID"),
        "vaccine": _("Vaccine"),
        "manufacturer": _("Manufacturer"),
        "lot": _("Lot number"),
        "dose": _("Dose"),
        "date": _("Date of dose"),
        "centre": _("Vaccination centre"),
        "vaccinator": _("Vaccinated by"),
        "certificate_id": _("Certificate ID"),
        "issued": _("Issued on"),
        "codes": _("Scan to verify"),
        "dcc": _("EU Digital COVID Certificate"),
        "shc": _("SMART Health Card"),
        "vc": _("W3C Verifiable Credential"),
        # where each code is meant to be shown (the EU DCC at borders that read it, the
        # SMART Health Card to airlines, the W3C credential to this country's verifiers)
        "dcc_use": _("Border control"),
        "shc_use": _("Airlines"),
        "vc_use": _("Checks in this country"),
    }


def _status_texts(locale: str, dose: int, total: int, provisional: bool) -> tuple[str, str]:
    """The status wording and the "dose x of y" text in ``locale`` (remembered per
    snapshot of the pack: a few combinations serve every certificate)."""
    with force_locale(locale):
        status = (_("Provisional certificate: dose %(dose)s of %(total)s. A final certificate "
                    "is issued when the schedule is complete.", dose=dose, total=total)
                  if provisional else
                  _("Final certificate: the vaccination schedule is complete."))
        return status, _("%(dose)s of %(total)s", dose=dose, total=total)


@lru_cache(maxsize=4096)  # Babel formats each time; the same days recur on every page
def _long_date(day: date, locale: str) -> str:
    return format_date(day, format="long", locale=locale)


@dataclass(frozen=True)
class _IdType:
    code: str
    labels: dict[str, str] | None


def _id_type(session: Session, pack: ActivePack, id_type_id: int | None) -> _IdType | None:
    """An ID document type's code and labels (pack-installed rows: read once per
    snapshot of the pack)."""
    if id_type_id is None:
        return None
    types = pack.memo(("certificates", "id_types_for_pdf"), lambda: {
        row.id: _IdType(row.code, dict(row.labels or {}))
        for row in session.scalars(select(IdDocumentType))} or None)
    if types and id_type_id in types:
        return types[id_type_id]
    row = session.get(IdDocumentType, id_type_id)
    return _IdType(row.code, row.labels) if row is not None else None


@lru_cache(maxsize=1)
def _dose_facts() -> Select:
    """A dose's columns with its person's and its facility's, what the page and its record
    need (built once: constructing a statement costs more than its cached compilation)."""
    doses, people, places = Dose.__table__, Beneficiary.__table__, Facility.__table__
    return (select(doses.c.dose_number, doses.c.product_id, doses.c.administered_at,
                   doses.c.lot, doses.c.vaccinator, people.c.name, people.c.birth_date,
                   people.c.birth_year, people.c.id_type_id, people.c.id_number_last4,
                   places.c.name, places.c.address, places.c.id, places.c.names,
                   people.c.reference_id)
            .select_from(doses.join(people, people.c.id == doses.c.beneficiary_id)
                         .outerjoin(places, places.c.id == doses.c.facility_id))
            .where(doses.c.id == bindparam("dose_id")))


def build_view(session: Session, pack: ActivePack, certificate: Certificate,
               locale: str) -> CertificateView:
    # build_record's own path from a dose's facts (the outbox's), without its ORM objects

    # The dose, its person and its facility: one Core read of the columns shown.
    row = session.execute(_dose_facts(), {"dose_id": certificate.dose_id}).one()
    facts = _DoseFacts(*row[:10], row[10] or "", row[11] or "")  # "": no facility
    facility_id, facility_names, reference_id = row[12:]
    record = _record(session, pack, facts, certificate.id, certificate.issued_at,
                     certificate.expires_at)
    # pack-installed rows, read once per snapshot of the pack (as the record's are)
    product = vaccine_product(session, pack, product_id=facts.product_id)
    id_type = _id_type(session, pack, facts.id_type_id)
    issuer = _localized(pack.document.get("certificates", {}).get("issuer"), locale) \
        or _localized(pack.document.get("name"), locale)
    vaccination = record.vaccination
    dates_locale = str(pack.format_locale(locale))  # "en" in India: "6 December 2026"
    labels = dict(pack.memo(("certificates", "pdf_labels", locale), lambda: _labels(locale)))
    status, dose_text = pack.memo(
        ("certificates", "pdf_status", locale, vaccination.dose, vaccination.total_doses,
         bool(certificate.provisional)),
        lambda: _status_texts(locale, vaccination.dose, vaccination.total_doses,
                              bool(certificate.provisional)))
    birth = ((labels["birth_date"], _long_date(facts.birth_date, dates_locale))
             if facts.birth_date else (labels["birth_year"], str(facts.birth_year)))
    id_label = (_localized(id_type.labels, locale) or id_type.code) if id_type else labels["id"]
    person = [(labels["name"], facts.name), birth,
              *([(id_label, record.identifier.value)] if record.identifier else []),
              (labels["reference_id"], reference_id)]
    centre = ""
    if facility_id is not None:
        centre = _localized(facility_names, locale, facts.centre)
        if facts.centre_address:
            centre = f"{centre}, {facts.centre_address}"
    rows = [(labels["vaccine"], _localized(product.names, locale, product.code)),
            (labels["manufacturer"], product.manufacturer or ""),
            (labels["lot"], facts.lot),
            (labels["dose"], dose_text),
            (labels["date"], _long_date(vaccination.date, dates_locale)),
            (labels["centre"], centre),
            (labels["vaccinator"], facts.vaccinator or ""),
            (labels["certificate_id"], certificate.id),
            (labels["issued"], _long_date(pack.day_of(certificate.issued_at), dates_locale))]
    codes = []
    if certificate.dcc:
        codes.append((f"{labels['dcc_use']}\n{labels['dcc']}", qr_image("dcc", certificate.dcc)))
    if certificate.shc:
        codes.append((f"{labels['shc_use']}\n{labels['shc']}",
                      qr_image("shc", shc.qr_text(certificate.shc))))
    if certificate.vc:
        codes.append((f"{labels['vc_use']}\n{labels['vc']}", qr_image("vc", certificate.vc)))
    return CertificateView(locale=locale, rtl=is_rtl(locale), issuer=issuer,
                           title=labels["title"], status=status, person=person,
                           vaccination=[row for row in rows if row[1]], codes=codes,
                           labels=labels, logo=pack_logo(pack))


# The page's geometry (millimetres).
MARGINS = (15, 12, 15, 12)  # left, top, right, bottom
LABEL_WIDTH = 55
RULE_GRAY = 180


def certificate_pdf(view: CertificateView) -> bytes:
    """The certificate's PDF: drawn by the page writer of :mod:`cowin_kit.core.pdf_page`
    (fast), or with fpdf2 (:class:`cowin_kit.core.pdf.FpdfCanvas`) when that cannot draw it (a
    character none of its fonts has, a word wider than its box, a page overflow): one
    layout, :func:`draw_certificate`, either way."""
    try:
        return draw_certificate(view, PageWriter(view.locale, view.texts(), margins=MARGINS))
    except DoesNotFit as reason:
        log.info("certificate PDF drawn with fpdf2 (%s)", reason)
        return fpdf_certificate_pdf(view)


def fpdf_certificate_pdf(view: CertificateView) -> bytes:
    """The certificate drawn with fpdf2 (the fallback of :func:`certificate_pdf`)."""
    return draw_certificate(view, FpdfCanvas(view.locale, view.texts(), margins=MARGINS))


def draw_certificate(view: CertificateView, page: Canvas) -> bytes:
    """The certificate's layout, on any :class:`cowin_kit.core.pdf.Canvas`."""
    labels = view.labels
    rtl = view.rtl  # the logo's side and the codes' order (text follows the locale)
    left, right = page.left, page.right
    y = page.top
    head_left, head_right = left, right
    logo_bottom = None
    if view.logo is not None:  # the logo on the reading side, the heading beside it
        page.image(view.logo, right - LOGO_MM if rtl else left, y, LOGO_MM, LOGO_MM)
        logo_bottom = y + LOGO_MM + 2
        if rtl:
            head_right = right - LOGO_MM - 4
        else:
            head_left = left + LOGO_MM + 4
    if view.issuer:
        y = paragraph(page, view.issuer, y, size=11, bold=True, gap=1, left=head_left,
                      right=head_right)
    y = paragraph(page, view.title, y, size=18, bold=True, gap=2, left=head_left,
                  right=head_right)
    if logo_bottom is not None:
        y = max(y, logo_bottom)
    y = paragraph(page, view.status, y, size=10, gap=3)

    def section(heading: str, rows: list[tuple[str, str]], y: float) -> float:
        page.line(left, y, right, y, gray=RULE_GRAY)
        y = paragraph(page, heading, y + 2, size=12, bold=True, gap=1)
        for index, (label, value) in enumerate(rows):
            y = field(page, label, value, y, label_width=LABEL_WIDTH, size=11,
                      bold_value=index == 0)
        return y + 2

    y = section(labels["person"], view.person, y)
    y = section(labels["vaccination"], view.vaccination, y)
    if view.codes:
        page.line(left, y, right, y, gray=RULE_GRAY)
        y = paragraph(page, labels["codes"], y + 2, size=12, bold=True, gap=2)
        width = right - left
        count = len(view.codes)
        size = min(QR_SIZE_MM, (width - 6 * (count - 1)) / count)
        if page.bottom - y < size + 16:
            y = page.new_page()
        gap = (width - count * size) / max(count - 1, 1) if count > 1 else 0
        start = left + ((width - size) / 2 if count == 1 else 0)
        order = list(reversed(view.codes)) if rtl else view.codes
        for index, (caption, image) in enumerate(order):
            x = start + index * (size + gap)
            page.image(image, x, y, size, size)
            use, _newline, name = caption.partition("\n")
            page.cell(x, y + size + 1, size, 4.5, use, size=10, bold=True, align="C")
            if name:
                page.cell(x, y + size + 5.5, size, 4, name, size=8, align="C")
    return page.to_bytes(title=view.title)


def render_certificate_pdf(session: Session, pack: ActivePack, certificate: Certificate,
                           locale: str) -> bytes:
    """The certificate as PDF bytes in ``locale`` (callers check it is the citizen's own),
    drawn by an enabled plugin's PDF template if one is registered."""
    return render_pdf(build_view(session, pack, certificate, locale), certificate_pdf)
