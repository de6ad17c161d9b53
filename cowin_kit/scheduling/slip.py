"""The appointment slip: what a citizen brings to the vaccination centre — the booking,
each member's reference ID and 4-digit secret code (shown to the citizen, never to
vaccinators), the centre, the date and the slot — as a PDF and as a printable page, in
the account's language."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

from babel.dates import format_date
from flask import render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack, active_pack
from cowin_kit.core.errors import NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.core.pdf import Canvas, FpdfCanvas, field, is_rtl, paragraph
from cowin_kit.registration.models import Beneficiary, CitizenAccount
from cowin_kit.scheduling import availability, booking as bookings
from cowin_kit.scheduling.models import Appointment, SessionSlot, VaccinationSession
from cowin_kit.geography.models import Facility
from cowin_kit.core.security import keyring
from cowin_kit.programme.models import VaccineProduct


@dataclass(frozen=True)
class SlipMember:
    name: str
    reference_id: str
    secret_code: str
    dose: int
    vaccine: str


@dataclass(frozen=True)
class Slip:
    """Everything a slip shows, already in its language (labels included)."""

    locale: str
    rtl: bool
    booking_id: str
    issuer: str
    centre: str
    address: str
    place: str
    date: str
    slot: str
    members: list[SlipMember]
    labels: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def lang(self) -> str:
        return self.locale.replace("_", "-")

    @property
    def dir(self) -> str:
        return "rtl" if self.rtl else "ltr"

    def texts(self) -> list[str]:
        """Every dynamic text: the PDF picks its fonts from their scripts."""
        return [self.issuer, self.centre, self.address, self.place, self.date,
                *(m.name for m in self.members), *(m.vaccine for m in self.members)]


def slip_locale(account: CitizenAccount, pack: ActivePack, request_locale: str) -> str:
    """The account's language if the pack still offers it, else the request's."""
    return account.locale if account.locale in pack.locales else request_locale


def booking_appointments(session: Session, account: CitizenAccount,
                         booking_id: str) -> list[Appointment]:
    """The live appointments of one of the account's bookings (NotFound otherwise)."""
    return bookings.booking_appointments(session, account, booking_id, lock=False)


def _labels() -> dict[str, str]:
    return {
        "title": _("Vaccination appointment slip"),
        "booking_id": _("Booking ID"),
        "centre": _("Vaccination centre"),
        "address": _("Address"),
        "date": _("Date"),
        "slot": _("Time slot"),
        "name": _("Name"),
        "reference_id": _("Beneficiary reference ID"),
        "secret_code": _("Secret code"),
        "dose": _("Dose"),
        "vaccine": _("Vaccine"),
        "note": _("Bring this slip and the photo ID you registered with. Give your 4-digit "
                  "secret code at the centre when asked: it is needed to record your dose "
                  "and is shown only to you, never to the vaccinator."),
        "print": _("Print"),
    }


def _localized(names: dict[str, str] | None, locale: str, default: str = "") -> str:
    names = names or {}
    return (names.get(locale) or names.get(locale.split("_")[0]) or default
            or next(iter(names.values()), ""))


def _appointments(session: Session, booking: str | Sequence[Appointment]) -> list[Appointment]:
    if not isinstance(booking, str):
        return list(booking)
    rows = list(session.scalars(select(Appointment).where(
        Appointment.booking_id == booking, Appointment.status == "booked")
        .order_by(Appointment.id)))
    if not rows:
        raise NotFound(_("No such appointment."), code="appointment_not_found")
    return rows


def build_slip(session: Session, booking: str | Sequence[Appointment], locale: str,
               pack: ActivePack | None = None) -> Slip:
    """The slip of a booking (its id, or its appointments), in ``locale``."""
    appointments = _appointments(session, booking)
    pack = pack or active_pack()
    first = appointments[0]
    vaccination_session = session.get(VaccinationSession, first.session_id)
    facility = session.get(Facility, vaccination_session.facility_id)
    slot = session.get(SessionSlot, first.slot_id)
    path = availability.location_path(session, facility.location_id, {})
    place = ", ".join([place.localized_name(locale) for place in reversed(path)]
                      + ([facility.postal_code] if facility.postal_code else []))
    issuer = _localized(pack.document.get("certificates", {}).get("issuer"), locale) \
        or _localized(pack.document.get("name"), locale)
    secrets = keyring()
    members = []
    for appointment in appointments:
        beneficiary = session.get(Beneficiary, appointment.beneficiary_id)
        product = session.get(VaccineProduct,
                              session.get(VaccinationSession, appointment.session_id).product_id)
        members.append(SlipMember(
            name=beneficiary.name, reference_id=beneficiary.reference_id,
            secret_code=secrets.decrypt(beneficiary.secret_code_encrypted),
            dose=appointment.dose_number,
            vaccine=_localized(product.names, locale, product.code)))
    with force_locale(locale):
        labels = _labels()
    return Slip(locale=locale, rtl=is_rtl(locale), booking_id=first.booking_id, issuer=issuer,
                centre=_localized(facility.names, locale, facility.name),
                address=facility.address or "", place=place,
                date=format_date(vaccination_session.session_date, format="full",
                                 locale=pack.format_locale(locale)),
                slot=slot.label, members=members, labels=labels)


def slip_pdf(slip: Slip) -> bytes:
    """The slip as a PDF, drawn with fpdf2 (any number of members, any text)."""
    page = FpdfCanvas(slip.locale, [*slip.texts(), *slip.labels.values()],
                      margins=(15, 15, 15, 15))
    return draw_slip(slip, page)


def draw_slip(slip: Slip, page: Canvas) -> bytes:
    """The slip's layout, on any :class:`cowin_kit.core.pdf.Canvas`."""
    labels = slip.labels
    y = page.top
    if slip.issuer:
        y = paragraph(page, slip.issuer, y, size=10, gap=1)
    y = paragraph(page, labels["title"], y, size=18, bold=True, gap=4)
    y = field(page, labels["booking_id"], slip.booking_id, y, size=10)
    y = field(page, labels["centre"], slip.centre, y, bold_value=True)
    if slip.address:
        y = field(page, labels["address"], slip.address, y)
    y = field(page, "", slip.place, y)
    y = field(page, labels["date"], slip.date, y, bold_value=True)
    y = field(page, labels["slot"], slip.slot, y, bold_value=True)
    for member in slip.members:
        y += 3
        page.line(page.left, y, page.right, y, gray=180)
        y += 3
        y = field(page, labels["name"], member.name, y, bold_value=True, size=13)
        y = field(page, labels["reference_id"], member.reference_id, y)
        y = field(page, labels["secret_code"], member.secret_code, y, bold_value=True, size=16)
        y = field(page, labels["dose"], str(member.dose), y)
        y = field(page, labels["vaccine"], member.vaccine, y)
    y += 4
    paragraph(page, labels["note"], y, size=9)
    return page.to_bytes(title=labels["title"])


def render_slip_pdf(session: Session, booking: str | Sequence[Appointment],
                    locale: str) -> bytes:
    """The slip as PDF bytes. ``booking`` is a booking id or its appointments; callers
    check that the booking is the citizen's own."""
    return slip_pdf(build_slip(session, booking, locale))


def render_slip_html(session: Session, booking: str | Sequence[Appointment],
                     locale: str) -> str:
    """The slip as a printable HTML page (no external resources)."""
    return slip_html(build_slip(session, booking, locale))


def slip_html(slip: Slip) -> str:
    with force_locale(slip.locale):
        return render_template("slip.html", slip=slip)
