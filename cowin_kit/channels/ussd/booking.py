"""Finding a session (by postal code or place), booking a seat, and moving or cancelling
an appointment: the same availability and booking services as the web and the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from cowin_kit.channels.ussd.base import (
    MISSING, Context, Go, Screen, day, error, label, main_menu_option, member_name, members,
    pick, session_words, short_name, state, wrong, yes_no,
)
from cowin_kit.channels.ussd.pin import need_pin
from cowin_kit.core.errors import DomainError
from cowin_kit.core.i18n import gettext as _, pgettext
from cowin_kit.geography.models import Location
from cowin_kit.scheduling import availability, booking, rules
from cowin_kit.scheduling.models import Appointment, SessionSlot

SEARCH_DAYS = 7


def _has_postal_codes(ctx: Context) -> bool:
    return bool(ctx.pack.document.get("postal_code"))


def start_search(ctx: Context, data: dict) -> Go:
    return Go("find_how") if _has_postal_codes(ctx) else Go("find_place")


@state("find_how")
class FindHow:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Find a session by:"), [(pgettext("ussd", "Postal code"), "pin"),
                                                (pgettext("ussd", "Place"), "place")])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        how = pick(data, answer)
        if how is MISSING:
            return Go("find_how", wrong())
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
            options.append((pgettext("ussd", "All of this place"), -parent))
        options += [(label(loc.names, ctx.locale, loc.name), loc.id) for loc in rows]
        return Screen(_("Place:"), options)

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        picked = pick(data, answer)
        if picked is MISSING:
            return Go("find_place", wrong())
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
        name = label(centre.facility.names, ctx.locale, centre.facility.name)
        # A PIN search covers the PIN's district: the centres at the PIN itself first.
        rank = (rules.postal_code_rank(centre.facility.postal_code, search["pin"])
                if "pin" in search else 0)
        for item in centre.sessions:
            seats = item.available_total
            if seats <= 0:
                continue
            found.append((rank, item.session.session_date, name, seats, item.session.id))
    found.sort(key=lambda row: row[:3])
    return [(f"{day(when)} {short_name(name)} ({seats})", session_id)
            for _rank, when, name, seats, session_id in found]


@state("sessions")
class Sessions:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        options = _found_sessions(ctx, data)
        if not options:
            return Screen(_("No free seats in the next 7 days here."), main_menu_option())
        return Screen(_("Sessions (free seats):"), options)

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        picked = pick(data, answer)
        if picked is MISSING:
            return Go("sessions", wrong())
        if picked == "main":
            data.clear()
            return Go("main")
        data["session"] = picked
        return Go("slots")


@state("slots", writes=True)
class Slots:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        slots = ctx.session.scalars(select(SessionSlot).where(
            SessionSlot.session_id == data["session"]).order_by(SessionSlot.starts_at))
        return Screen(_("Time:"), [(f"{s.label} ({s.capacity - s.booked})", s.label)
                                   for s in slots if s.capacity > s.booked])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        picked = pick(data, answer)
        if picked is MISSING:
            return Go("slots", wrong())
        data["slot"] = picked
        if data.get("mode") == "move":
            return need_pin(ctx, data, "move_confirm")
        people = members(ctx)
        if not people:
            data.clear()
            return Go("main", _("Register first: nobody is registered on this number."))
        if len(people) == 1:
            data["ref"] = people[0].reference_id
            return need_pin(ctx, data, "book_confirm")
        return Go("book_member")


@state("book_member", writes=True)
class BookMember:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Book for whom?"), [(short_name(m.name), m.reference_id)
                                            for m in members(ctx)])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        ref = pick(data, answer)
        if ref is MISSING:
            return Go("book_member", wrong())
        data["ref"] = ref
        return need_pin(ctx, data, "book_confirm")


def _fail(ctx: Context, data: dict, exc: DomainError) -> Go:
    ctx.session.rollback()
    data.clear()
    return Go("main", error(exc))


@state("book_confirm", writes=True)
class BookConfirm:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Book %(name)s: %(where)s %(slot)s?", name=member_name(ctx, data["ref"]),
                        where=session_words(ctx, data["session"]), slot=data["slot"]),
                      yes_no())

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        yes = pick(data, answer)
        if yes is MISSING:
            return Go("book_confirm", wrong())
        if not yes:
            data.clear()
            return Go("main")
        try:
            booking.book_seats(ctx.session, ctx.pack, ctx.account(), session_id=data["session"],
                               slot=data["slot"], reference_ids=[data["ref"]])
        except DomainError as exc:
            return _fail(ctx, data, exc)
        return Screen(_("Booked: %(where)s %(slot)s.", where=session_words(ctx, data["session"]),
                        slot=data["slot"]), end=True)


def _live(ctx: Context) -> list[tuple[Appointment, Any]]:
    people = {m.id: m for m in members(ctx)}
    return [(a, people[a.beneficiary_id])
            for a in booking.live_appointments(ctx.session, sorted(people))]


@state("appointments")
class Appointments:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        options = [(f"{short_name(m.name)}: {session_words(ctx, a.session_id)}",
                    [a.booking_id, m.reference_id, a.session_id]) for a, m in _live(ctx)]
        if not options:
            return Screen(_("No appointments booked."), main_menu_option())
        return Screen(_("Appointments:"), options)

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        picked = pick(data, answer)
        if picked is MISSING:
            return Go("appointments", wrong())
        if picked == "main":
            data.clear()
            return Go("main")
        data["booking"], data["ref"], data["current"] = picked
        return Go("appointment")


@state("appointment", writes=True)
class Appointment_:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(session_words(ctx, data["current"]),
                      [(pgettext("ussd", "Move it"), "move"),
                       (pgettext("ussd", "Cancel it"), "cancel")])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        picked = pick(data, answer)
        if picked is MISSING:
            return Go("appointment", wrong())
        if picked == "cancel":
            return need_pin(ctx, data, "cancel_confirm")
        data["mode"] = "move"
        return start_search(ctx, data)


@state("cancel_confirm", writes=True)
class CancelConfirm:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Cancel %(name)s: %(where)s?", name=member_name(ctx, data["ref"]),
                        where=session_words(ctx, data["current"])), yes_no())

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        yes = pick(data, answer)
        if yes is MISSING:
            return Go("cancel_confirm", wrong())
        if not yes:
            data.clear()
            return Go("main")
        try:
            booking.cancel(ctx.session, ctx.account(), booking_id=data["booking"],
                           reference_ids=[data["ref"]])
        except DomainError as exc:
            return _fail(ctx, data, exc)
        return Screen(_("Cancelled."), end=True)


@state("move_confirm", writes=True)
class MoveConfirm:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Move to %(where)s %(slot)s?", where=session_words(ctx, data["session"]),
                        slot=data["slot"]), yes_no())

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        yes = pick(data, answer)
        if yes is MISSING:
            return Go("move_confirm", wrong())
        if not yes:
            data.clear()
            return Go("main")
        try:
            booking.reschedule(ctx.session, ctx.pack, ctx.account(), booking_id=data["booking"],
                               session_id=data["session"], slot=data["slot"])
        except DomainError as exc:
            return _fail(ctx, data, exc)
        return Screen(_("Moved: %(where)s %(slot)s.", where=session_words(ctx, data["session"]),
                        slot=data["slot"]), end=True)
