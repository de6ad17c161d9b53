"""The USSD menus: one state machine, each state a screen (``render``) and what an answer
to it does (``answer``). Every action calls the same service as the web pages and the
API (registration, booking, due lists, certificates), so every limit of those flows
applies unchanged; the caller's number, given by the authenticated gateway, is the
account.

Numbered choices only; ``0`` shows a screen's next page, ``00`` goes back to the main
menu. Free input only where nothing else can work: names, ID numbers, dates (DDMMYYYY),
postal codes, OTP and PIN. A state's options are kept with the session (``_opts``), so
that the number typed means what the caller saw.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable

from babel import Locale
from flask_babel import format_date
from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.audit.services import NATIONAL, Actor, record, set_actor
from cowin_kit.certificates import services as certificates
from cowin_kit.channels import pins, rules
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import DomainError, NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.geography.models import Location
from cowin_kit.identity.models import Gender, IdDocumentType
from cowin_kit.immunization import duelists
from cowin_kit.notifications import queue
from cowin_kit.programme import due as due_rules
from cowin_kit.registration import people
from cowin_kit.registration import services as registration
from cowin_kit.registration.models import Beneficiary, CitizenAccount
from cowin_kit.scheduling import availability, booking
from cowin_kit.scheduling.models import Appointment, SessionSlot, VaccinationSession
from cowin_kit.geography.models import Facility

CONSENT_VERSION = "ussd"
SEARCH_DAYS = 7
RELATIONS = ("mother", "father", "guardian")


@dataclass
class Screen:
    """What a state shows: a message, then numbered options (label, value)."""
    message: str = ""
    options: list[tuple[str, Any]] = field(default_factory=list)
    end: bool = False


@dataclass(frozen=True)
class Go:
    """Move to ``state``; ``notice`` is shown above its screen (an error, a result)."""
    state: str
    notice: str = ""


@dataclass
class Context:
    session: Session
    pack: ActivePack
    mobile: str
    locale: str
    limits: rules.Limits
    request_id: str | None = None
    source_ip: str | None = None
    _account: CitizenAccount | None = None

    def account(self, create: bool = False) -> CitizenAccount | None:
        if self._account is None:
            self._account = registration.account_for_mobile(
                self.session, self.pack, self.mobile, locale=self.locale, create=create)
            self.act()
        return self._account

    def act(self) -> None:
        """Audit events name the account (or the masked number before there is one)."""
        who = str(self._account.id) if self._account is not None \
            else "*" * max(len(self.mobile) - 4, 0) + self.mobile[-4:]
        set_actor(Actor("citizen", who, self.request_id, self.source_ip, channel="ussd"))

    def today(self) -> date:
        zone = zoneinfo.ZoneInfo(self.pack.document.get("timezone") or "UTC")
        return datetime.now(zone).date()


State = tuple[Callable[[Context, dict], Screen], Callable[[Context, dict, str], "Go | Screen"]]
STATES: dict[str, State] = {}


def state(name: str) -> Callable:
    def wrap(cls: Any) -> Any:
        STATES[name] = (cls.render, cls.answer)
        return cls
    return wrap


def _pick(data: dict, answer: str) -> Any:
    options = data.get("_opts") or []
    index = rules.choice(answer, len(options))
    return _MISSING if index is None else options[index]


_MISSING = object()


def _wrong() -> str:
    return _("Choose one of the numbers shown.")


def _label(labels: dict[str, str] | None, locale: str, fallback: str) -> str:
    labels = labels or {}
    return labels.get(locale) or labels.get(locale.split("_")[0]) or labels.get("en") \
        or fallback


def _day(value: date) -> str:
    return format_date(value, "d MMM")


def _error(exc: DomainError) -> str:
    return str(exc.message)


def _members(ctx: Context, *, with_birth_date: bool = False) -> list[Beneficiary]:
    account = ctx.account()
    if account is None:
        return []
    query = select(Beneficiary).where(Beneficiary.account_id == account.id)
    if with_birth_date:
        query = query.where(Beneficiary.birth_date.is_not(None))
    return list(ctx.session.scalars(query.order_by(Beneficiary.id)))


def _first_name(name: str) -> str:
    return name if len(name) <= 20 else name[:19] + rules.ELLIPSIS


def _child_allowed(ctx: Context) -> bool:
    return bool(ctx.pack.document.get("routine"))


# --- main menu --------------------------------------------------------------------------

MAIN_ITEMS = ("register", "find", "appointments", "due", "certificate", "language")


@state("main")
class Main:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        labels = {"register": _("Register"), "find": _("Find a session"),
                  "appointments": _("My appointments"), "due": _("Vaccines due"),
                  "certificate": _("Certificate code"), "language": _("Language")}
        return Screen("", [(labels[item], item) for item in MAIN_ITEMS])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        item = _pick(data, answer)
        if item is _MISSING:
            return Go("main", _wrong())
        data.clear()
        if item == "register":
            return Go("reg_kind") if _child_allowed(ctx) else Go("reg_name")
        if item == "find":
            return _start_search(ctx, data)
        if item == "appointments":
            return Go("appointments")
        if item == "due":
            return _choose_member(ctx, data, "due", with_birth_date=True)
        if item == "certificate":
            return _choose_member(ctx, data, "certificate")
        return Go("language")


def _choose_member(ctx: Context, data: dict, then: str, *, with_birth_date: bool = False
                   ) -> Go:
    members = _members(ctx, with_birth_date=with_birth_date)
    if not members:
        return Go("main", _("Nobody is registered on this number yet."))
    data["then"] = then
    if len(members) == 1:
        data["ref"] = members[0].reference_id
        return Go(then)
    return Go("member")


@state("member")
class Member:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        members = _members(ctx, with_birth_date=data["then"] == "due")
        return Screen(_("Who?"), [(_first_name(m.name), m.reference_id) for m in members])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        ref = _pick(data, answer)
        if ref is _MISSING:
            return Go("member", _wrong())
        data["ref"] = ref
        return Go(data["then"])


# --- registration -----------------------------------------------------------------------

@state("reg_kind")
class RegisterKind:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Register whom?"), [(_("Adult with ID"), "adult"),
                                            (_("Child without ID"), "child")])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        kind = _pick(data, answer)
        if kind is _MISSING:
            return Go("reg_kind", _wrong())
        data["kind"] = kind
        return Go("reg_name")


@state("reg_name")
class RegisterName:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Child's full name:") if data.get("kind") == "child"
                      else _("Full name:"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        name = " ".join(answer.split())
        if len(name) < 2 or len(name) > 200 or name.isdigit():
            return Go("reg_name", _("Type the name in letters."))
        data["name"] = name
        return Go("reg_birth")


def _wants_birth_date(ctx: Context, data: dict) -> bool:
    return data.get("kind") == "child" or ctx.pack.document.get("birth_capture") == "date"


@state("reg_birth")
class RegisterBirth:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Date of birth (DDMMYYYY):") if _wants_birth_date(ctx, data)
                      else _("Year of birth (YYYY):"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        if _wants_birth_date(ctx, data):
            day = rules.parse_day(answer)
            if day is None or day > ctx.today():
                return Go("reg_birth", _("Type the date as 8 digits, e.g. 25012020."))
            data["birth_date"] = day.isoformat()
        else:
            year = rules.parse_year(answer)
            if year is None or year > ctx.today().year:
                return Go("reg_birth", _("Type the year as 4 digits."))
            data["birth_year"] = year
        return Go("reg_gender")


@state("reg_gender")
class RegisterGender:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        rows = ctx.session.scalars(select(Gender).order_by(Gender.id))
        return Screen(_("Gender:"), [(_label(g.labels, ctx.locale, g.code), g.code)
                                     for g in rows])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        gender = _pick(data, answer)
        if gender is _MISSING:
            return Go("reg_gender", _wrong())
        data["gender"] = gender
        return Go("reg_relation" if data.get("kind") == "child" else "reg_idtype")


@state("reg_idtype")
class RegisterIdType:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        rows = ctx.session.scalars(select(IdDocumentType).where(
            IdDocumentType.registration.is_(True)).order_by(IdDocumentType.id))
        return Screen(_("ID document:"), [(_label(t.labels, ctx.locale, t.code), t.code)
                                          for t in rows])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        id_type = _pick(data, answer)
        if id_type is _MISSING:
            return Go("reg_idtype", _wrong())
        data["id_type"] = id_type
        return Go("reg_idnum")


@state("reg_idnum")
class RegisterIdNumber:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("ID number:"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        number = answer.strip()
        if not number or len(number) > 40:
            return Go("reg_idnum", _("Type the number of the document."))
        data["id_number"] = number
        return Go("reg_confirm")


@state("reg_relation")
class RegisterRelation:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        names = {"mother": _("Mother"), "father": _("Father"), "guardian": _("Other guardian")}
        return Screen(_("You are the child's:"), [(names[r], r) for r in RELATIONS])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        relation = _pick(data, answer)
        if relation is _MISSING:
            return Go("reg_relation", _wrong())
        data["relation"] = relation
        return Go("reg_guardian")


@state("reg_guardian")
class RegisterGuardian:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Your full name:"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        name = " ".join(answer.split())
        if len(name) < 2 or len(name) > 200 or name.isdigit():
            return Go("reg_guardian", _("Type the name in letters."))
        data["guardian"] = name
        return Go("reg_confirm")


@state("reg_confirm")
class RegisterConfirm:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        born = _day(date.fromisoformat(data["birth_date"])) if "birth_date" in data \
            else str(data["birth_year"])
        return Screen(_("Register %(name)s, born %(born)s?", name=_first_name(data["name"]),
                        born=born), [(_("Yes"), True), (_("No"), False)])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        yes = _pick(data, answer)
        if yes is _MISSING:
            return Go("reg_confirm", _wrong())
        if not yes:
            data.clear()
            return Go("main")
        account = ctx.account(create=True)
        assert account is not None
        birth_date = date.fromisoformat(data["birth_date"]) if "birth_date" in data else None
        try:
            if data.get("kind") == "child":
                view = people.register_child(
                    ctx.session, ctx.pack, account, name=data["name"], birth_date=birth_date,
                    gender=data["gender"], guardian_name=data["guardian"],
                    guardian_relation=data["relation"], consent_version=CONSENT_VERSION)
                person, secret = view.beneficiary, None
            else:
                view = registration.add_beneficiary(
                    ctx.session, ctx.pack, account, name=data["name"],
                    birth_year=data.get("birth_year"), birth_date=birth_date,
                    gender=data["gender"], id_type=data["id_type"],
                    id_number=data["id_number"], consent_version=CONSENT_VERSION)
                person, secret = view.beneficiary, view.secret_code
        except DomainError as exc:
            ctx.session.rollback()
            data.clear()
            return Go("main", _error(exc))
        if secret is not None:  # the secret code, as the web shows it: by SMS here
            queue(ctx.session, ctx.mobile, "beneficiary_registered", ctx.locale,
                  name=person.name, reference_id=person.reference_id, secret_code=secret)
            ctx.session.commit()
        return Screen(_("Registered: %(name)s. Reference ID %(ref)s.",
                        name=_first_name(person.name), ref=person.reference_id), end=True)


# --- finding a session --------------------------------------------------------------------

def _has_postal_codes(ctx: Context) -> bool:
    return bool(ctx.pack.document.get("postal_code"))


def _start_search(ctx: Context, data: dict) -> Go:
    return Go("find_how") if _has_postal_codes(ctx) else Go("find_place")


@state("find_how")
class FindHow:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Find a session by:"), [(_("Postal code"), "pin"), (_("Place"), "place")])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        how = _pick(data, answer)
        if how is _MISSING:
            return Go("find_how", _wrong())
        data.pop("place", None)
        return Go("find_pin" if how == "pin" else "find_place")


@state("find_pin")
class FindPostalCode:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Postal code:"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        code = answer.strip()
        if not code.isdigit() or len(code) > 10:
            return Go("find_pin", _("Type the postal code in digits."))
        data["search"] = {"pin": code}
        return Go("sessions")


@state("find_place")
class FindPlace:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        parent = data.get("place")
        rows = list(ctx.session.scalars(select(Location).where(
            Location.parent_id == parent if parent is not None
            else Location.parent_id.is_(None)).order_by(Location.name)))
        options: list[tuple[str, Any]] = []
        if parent is not None:
            options.append((_("All of this place"), -parent))
        options += [(_label(loc.names, ctx.locale, loc.name), loc.id) for loc in rows]
        return Screen(_("Place:"), options)

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        picked = _pick(data, answer)
        if picked is _MISSING:
            return Go("find_place", _wrong())
        if picked < 0:
            data["search"] = {"place": -picked}
            return Go("sessions")
        has_children = ctx.session.scalar(select(Location.id).where(
            Location.parent_id == picked).limit(1)) is not None
        if has_children:
            data["place"] = picked
            return Go("find_place")
        data["search"] = {"place": picked}
        return Go("sessions")


def _found_sessions(ctx: Context, data: dict) -> list[tuple[str, Any]]:
    search = data["search"]
    days = [ctx.today() + timedelta(days=n) for n in range(SEARCH_DAYS)]
    if "pin" in search:
        centres = availability.find_availability(ctx.session, days=days,
                                                 postal_code=search["pin"])
    else:
        centres = availability.find_availability(ctx.session, days=days,
                                                 location_id=search["place"])
    found = []
    for centre in centres:
        name = _label(centre.facility.names, ctx.locale, centre.facility.name)
        for item in centre.sessions:
            seats = item.available_total
            if seats <= 0:
                continue
            found.append((item.session.session_date, name, seats, item.session.id))
    found.sort(key=lambda row: (row[0], row[1]))
    return [(f"{_day(day)} {_first_name(name)} ({seats})", session_id)
            for day, name, seats, session_id in found]


@state("sessions")
class Sessions:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        options = _found_sessions(ctx, data)
        if not options:
            return Screen(_("No free seats in the next 7 days here."),
                          [(_("Main menu"), "main")])
        return Screen(_("Sessions (free seats):"), options)

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        picked = _pick(data, answer)
        if picked is _MISSING:
            return Go("sessions", _wrong())
        if picked == "main":
            data.clear()
            return Go("main")
        data["session"] = picked
        return Go("slots")


@state("slots")
class Slots:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        slots = ctx.session.scalars(select(SessionSlot).where(
            SessionSlot.session_id == data["session"]).order_by(SessionSlot.starts_at))
        return Screen(_("Time:"), [(f"{s.label} ({s.capacity - s.booked})", s.label)
                                   for s in slots if s.capacity > s.booked])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        picked = _pick(data, answer)
        if picked is _MISSING:
            return Go("slots", _wrong())
        data["slot"] = picked
        if data.get("mode") == "move":
            return _need_pin(ctx, data, "move_confirm")
        members = _members(ctx)
        if not members:
            data.clear()
            return Go("main", _("Register first: nobody is registered on this number."))
        if len(members) == 1:
            data["ref"] = members[0].reference_id
            return _need_pin(ctx, data, "book_confirm")
        return Go("book_member")


@state("book_member")
class BookMember:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Book for whom?"), [(_first_name(m.name), m.reference_id)
                                            for m in _members(ctx)])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        ref = _pick(data, answer)
        if ref is _MISSING:
            return Go("book_member", _wrong())
        data["ref"] = ref
        return _need_pin(ctx, data, "book_confirm")


def _session_words(ctx: Context, session_id: str) -> str:
    row = ctx.session.execute(select(VaccinationSession.session_date, Facility.name,
                                     Facility.names)
                              .join(Facility, Facility.id == VaccinationSession.facility_id)
                              .where(VaccinationSession.id == session_id)).first()
    if row is None:
        return ""
    return f"{_first_name(_label(row.names, ctx.locale, row.name))} {_day(row.session_date)}"


def _member_name(ctx: Context, ref: str) -> str:
    return _first_name(ctx.session.scalar(select(Beneficiary.name).where(
        Beneficiary.reference_id == ref)) or "")


@state("book_confirm")
class BookConfirm:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Book %(name)s: %(where)s %(slot)s?", name=_member_name(ctx, data["ref"]),
                        where=_session_words(ctx, data["session"]), slot=data["slot"]),
                      [(_("Yes"), True), (_("No"), False)])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        yes = _pick(data, answer)
        if yes is _MISSING:
            return Go("book_confirm", _wrong())
        if not yes:
            data.clear()
            return Go("main")
        account = ctx.account()
        try:
            booking.book_seats(ctx.session, ctx.pack, account, session_id=data["session"],
                               slot=data["slot"], reference_ids=[data["ref"]])
        except DomainError as exc:
            ctx.session.rollback()
            data.clear()
            return Go("main", _error(exc))
        return Screen(_("Booked: %(where)s %(slot)s.", where=_session_words(ctx, data["session"]),
                        slot=data["slot"]), end=True)


# --- appointments: move, cancel ------------------------------------------------------------

def _live(ctx: Context) -> list[tuple[Appointment, Beneficiary]]:
    members = {m.id: m for m in _members(ctx)}
    return [(a, members[a.beneficiary_id])
            for a in booking.live_appointments(ctx.session, sorted(members))]


@state("appointments")
class Appointments:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        options = [(f"{_first_name(m.name)}: {_session_words(ctx, a.session_id)}",
                    [a.booking_id, m.reference_id, a.session_id]) for a, m in _live(ctx)]
        if not options:
            return Screen(_("No appointments booked."), [(_("Main menu"), "main")])
        return Screen(_("Appointments:"), options)

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        picked = _pick(data, answer)
        if picked is _MISSING:
            return Go("appointments", _wrong())
        if picked == "main":
            data.clear()
            return Go("main")
        data["booking"], data["ref"], data["current"] = picked
        return Go("appointment")


@state("appointment")
class Appointment_:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_session_words(ctx, data["current"]),
                      [(_("Move it"), "move"), (_("Cancel it"), "cancel")])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        picked = _pick(data, answer)
        if picked is _MISSING:
            return Go("appointment", _wrong())
        if picked == "cancel":
            return _need_pin(ctx, data, "cancel_confirm")
        data["mode"] = "move"
        return _start_search(ctx, data)


@state("cancel_confirm")
class CancelConfirm:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Cancel %(name)s: %(where)s?", name=_member_name(ctx, data["ref"]),
                        where=_session_words(ctx, data["current"])),
                      [(_("Yes"), True), (_("No"), False)])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        yes = _pick(data, answer)
        if yes is _MISSING:
            return Go("cancel_confirm", _wrong())
        if not yes:
            data.clear()
            return Go("main")
        try:
            booking.cancel(ctx.session, ctx.account(), booking_id=data["booking"],
                           reference_ids=[data["ref"]])
        except DomainError as exc:
            ctx.session.rollback()
            data.clear()
            return Go("main", _error(exc))
        return Screen(_("Cancelled."), end=True)


@state("move_confirm")
class MoveConfirm:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Move to %(where)s %(slot)s?", where=_session_words(ctx, data["session"]),
                        slot=data["slot"]), [(_("Yes"), True), (_("No"), False)])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        yes = _pick(data, answer)
        if yes is _MISSING:
            return Go("move_confirm", _wrong())
        if not yes:
            data.clear()
            return Go("main")
        try:
            booking.reschedule(ctx.session, ctx.pack, ctx.account(), booking_id=data["booking"],
                               session_id=data["session"], slot=data["slot"])
        except DomainError as exc:
            ctx.session.rollback()
            data.clear()
            return Go("main", _error(exc))
        return Screen(_("Moved: %(where)s %(slot)s.", where=_session_words(ctx, data["session"]),
                        slot=data["slot"]), end=True)


# --- the booking PIN --------------------------------------------------------------------------

def _need_pin(ctx: Context, data: dict, then: str) -> Go:
    """Go to ``then`` once the caller has given their PIN in this session; first set one
    (after an SMS OTP) if the account has none."""
    data["after_pin"] = then
    if data.get("pin_ok"):
        return Go(then)
    account = ctx.account(create=True)
    if pins.has_pin(ctx.session, account):
        return Go("pin")
    try:
        data["otp_txn"] = registration.request_otp(ctx.session, ctx.pack, ctx.mobile,
                                                   locale=ctx.locale).id
    except DomainError as exc:
        ctx.session.rollback()
        data.clear()
        return Go("main", _error(exc))
    return Go("pin_otp")


@state("pin")
class Pin:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Your PIN:"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        try:
            pins.check_pin(ctx.session, ctx.account(), answer.strip())
        except DomainError as exc:
            ctx.session.rollback()
            if exc.code == "pin_paused":
                data.clear()
                return Go("main", _error(exc))
            return Go("pin", _error(exc))
        data["pin_ok"] = True
        return Go(data["after_pin"])


@state("pin_otp")
class PinOtp:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("To set your PIN, type the code we sent by SMS:"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        try:
            registration.confirm_otp(ctx.session, data["otp_txn"], answer.strip(),
                                     locale=ctx.locale)
        except DomainError as exc:
            ctx.session.rollback()
            if exc.code == "otp_invalid":
                return Go("pin_otp", _error(exc))
            data.clear()
            return Go("main", _error(exc))
        data.pop("otp_txn")
        data["otp_ok"] = True
        return Go("pin_new")


@state("pin_new")
class PinNew:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Choose a 4-digit PIN:"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        pin = answer.strip()
        if not rules.is_pin(pin) or rules.weak_pin(pin):
            return Go("pin_new", _("Choose 4 digits, not 1111 or 1234."))
        data["new_pin"] = pins.pending_hash(ctx.mobile, pin)
        return Go("pin_repeat")


@state("pin_repeat")
class PinRepeat:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Type the PIN again:"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        if not data.get("otp_ok") or pins.pending_hash(ctx.mobile, answer.strip()) \
                != data.get("new_pin"):
            data.pop("new_pin", None)
            return Go("pin_new", _("The two PINs differ."))
        pins.set_pin(ctx.session, ctx.account(), answer.strip())
        data.pop("new_pin")
        data["pin_ok"] = True
        return Go(data["after_pin"], _("PIN saved."))


# --- what is due, certificates, language -----------------------------------------------------

DUE_SHOWN = (due_rules.OVERDUE, due_rules.DUE, due_rules.UPCOMING, due_rules.MISSED)


@state("due")
class Due:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        try:
            result = duelists.person_due(ctx.session, ctx.pack, data["ref"], ctx.today(),
                                         account=ctx.account())
        except DomainError as exc:
            return Screen(_error(exc), [(_("Main menu"), "main")])
        lines = []
        for status in result.doses:
            if status.status not in DUE_SHOWN:
                continue
            name = result.routine.schedule_name(status.schedule, ctx.locale)
            when = _day(status.due) if status.due else ""
            lines.append(f"{_first_name(name)} {status.dose}: "
                         f"{duelists.status_label(status.status)} {when}".rstrip())
        person = _member_name(ctx, data["ref"])
        text = "\n".join([person, *lines]) if lines else \
            _("%(name)s: nothing is due.", name=person)
        return Screen(text, [(_("Main menu"), "main")])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        if _pick(data, answer) is _MISSING:
            return Go("due", _wrong())
        data.clear()
        return Go("main")


@state("certificate")
class Certificate_:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Send the certificate code of %(name)s by SMS?",
                        name=_member_name(ctx, data["ref"])),
                      [(_("Yes"), True), (_("No"), False)])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        yes = _pick(data, answer)
        if yes is _MISSING:
            return Go("certificate", _wrong())
        if not yes:
            data.clear()
            return Go("main")
        account = ctx.account()
        person = ctx.session.scalars(select(Beneficiary).where(
            Beneficiary.reference_id == data["ref"],
            Beneficiary.account_id == (account.id if account else None))).first()
        try:
            if person is None:
                raise NotFound(_("No such person in this account."),
                               code="beneficiary_not_found")
            found = certificates.current_certificate(ctx.session, person)
        except DomainError as exc:
            data.clear()
            return Go("main", _error(exc))
        queue(ctx.session, ctx.mobile, "certificate_code", ctx.locale, name=person.name,
              certificate_id=found.id, reference_id=person.reference_id)
        # the citizen's own request on their phone: their account's, no area's
        record(ctx.session, "certificate.code_sent", "certificate", found.id, place=NATIONAL)
        ctx.session.commit()
        return Screen(_("Sent by SMS."), end=True)


@state("language")
class Language:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen("", [(_language_name(code), code) for code in ctx.pack.locales])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        code = _pick(data, answer)
        if code is _MISSING:
            return Go("language", _wrong())
        account = ctx.account()
        if account is not None:
            registration.set_account_locale(ctx.session, account, code, ctx.pack)
        ctx.locale = code
        data.clear()
        return Go("main")


def _language_name(code: str) -> str:
    try:
        return Locale.parse(code).get_display_name(code) or code
    except (ValueError, TypeError):
        return code
