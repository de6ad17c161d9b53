"""Pure rules about facilities and sessions."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Sequence

from cowin_kit.core.i18n import gettext as _, ngettext

FEE_TYPES = ("Free", "Paid")
FACILITY_TYPES = ("public", "private")
_SLOT = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def parse_slots(text: str) -> list[tuple[time, time]]:
    """'09:00-11:00;11:00-13:00' -> ordered, non-overlapping (start, end) pairs."""
    slots: list[tuple[time, time]] = []
    for part in (p.strip() for p in text.split(";") if p.strip()):
        match = _SLOT.match(part)
        if not match:
            raise ValueError(_("%(slot)s is not a slot like 09:00-11:00", slot=part))
        start = time(int(match.group(1)), int(match.group(2)))
        end = time(int(match.group(3)), int(match.group(4)))
        if end <= start:
            raise ValueError(_("slot %(slot)s ends before it starts", slot=part))
        slots.append((start, end))
    slots.sort()
    for (_s1, end1), (start2, _e2) in zip(slots, slots[1:]):
        if start2 < end1:
            raise ValueError(_("slots overlap"))
    if not slots:
        raise ValueError(_("at least one slot is needed"))
    return slots


def split_capacity(total: int, parts: int) -> list[int]:
    """Spread a session's seats over its slots as evenly as possible, earliest first."""
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def looks_like_uuid(value: Any) -> bool:
    """Whether ``value`` spells a UUID (session, booking and appointment ids)."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def cowin_slot_label(slot: Any) -> str:
    """CoWIN's spelling of a slot (anything with ``starts_at`` and ``ends_at``), e.g.
    09:00AM-11:00AM."""
    return f"{slot.starts_at:%I:%M%p}-{slot.ends_at:%I:%M%p}"


def postal_code_rank(facility_postal_code: str | None, searched: str) -> int:
    """Where a facility goes in the answer to a postal code search that covers the code's
    whole district: 0 for a facility at the searched code itself, 1 for the rest of the
    district (a stable sort keeps facility order within each)."""
    return 0 if facility_postal_code == searched else 1


# --- booking ------------------------------------------------------------------------------



class BookingRefused(ValueError):
    """A booking rule says no; ``code`` is the stable error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class GivenDose:
    number: int
    product_code: str
    day: date


@dataclass(frozen=True)
class SessionFacts:
    day: date
    product_code: str
    min_age: int
    max_age: int | None
    status: str
    doses_offered: tuple[int, ...]


def schedule_for(product_code: str, schedules: Sequence[Any]) -> Any | None:
    """The pack schedule a product belongs to (its primary series)."""
    for schedule in schedules:
        if product_code in schedule.products:
            return schedule
    return None


def next_dose_number(given: Sequence[GivenDose]) -> int:
    return max((d.number for d in given), default=0) + 1


def same_day_closed(day: date, now_local: datetime, cutoff_hour: int,
                    cutoff_minute: int = 0) -> bool:
    """Whether booking a session on ``day`` is closed for the day: it is today (in the
    programme's time zone) and the same-day cut-off has passed."""
    return day == now_local.date() and \
        (now_local.hour, now_local.minute) >= (cutoff_hour, cutoff_minute)


def check_booking(*, age: int, session: SessionFacts, dose_number: int,
                  given: Sequence[GivenDose], schedules: Sequence[Any], today: date,
                  now_local: datetime, cutoff_hour: int, cutoff_minute: int = 0) -> None:
    """Every rule a booking must pass, in the order a citizen would want to hear them."""
    if session.status != "published":
        raise BookingRefused("session_cancelled", _("This session has been cancelled."))
    if session.day < today:
        raise BookingRefused("session_in_past", _("This session is in the past."))
    if session.day == today and same_day_closed(today, now_local, cutoff_hour, cutoff_minute):
        closing = "%02d:%02d" % (cutoff_hour, cutoff_minute)
        raise BookingRefused("same_day_cutoff", _("Same-day booking closes at %(time)s.",
                                                  time=closing))
    if dose_number not in session.doses_offered:
        raise BookingRefused("dose_not_offered",
                             _("This session has no seats for dose %(n)d.", n=dose_number))
    if any(d.number == dose_number for d in given):
        raise BookingRefused("dose_already_given", _("Dose %(n)d is already recorded.",
                                                     n=dose_number))
    expected = next_dose_number(given)
    if dose_number != expected:
        raise BookingRefused("dose_order", _("The next dose for this person is dose %(n)d.",
                                             n=expected))
    if age < session.min_age or (session.max_age is not None and age > session.max_age):
        raise BookingRefused("age_not_eligible",
                             _("This session is not for people of this age."))
    first = min(given, key=lambda d: d.number) if given else None
    schedule = schedule_for(first.product_code if first else session.product_code, schedules)
    if schedule is None:
        raise BookingRefused("no_schedule", _("No vaccine schedule covers this vaccine."))
    if age < schedule.min_age or (schedule.max_age is not None and age > schedule.max_age):
        raise BookingRefused("age_not_eligible",
                             _("This vaccine is not given at this age."))
    doses = schedule.doses
    if dose_number > len(doses):
        raise BookingRefused("schedule_complete",
                             _("This person has had every dose of the schedule."))
    rule = doses[dose_number - 1]
    allowed = rule.get("products") or (
        schedule.products if schedule.interchangeable or first is None else [first.product_code])
    if session.product_code not in allowed:
        raise BookingRefused("product_mismatch", _(
            "Dose %(n)d must be of the same vaccine as the earlier doses.", n=dose_number))
    if given:
        previous = max(given, key=lambda d: d.number)
        waited = (session.day - previous.day).days
        low, high = rule.get("min_interval_days"), rule.get("max_interval_days")
        if low is not None and waited < low:
            raise BookingRefused("too_early", ngettext(
                "Dose %(n)d can be given %(num)d day after the previous dose at the "
                "earliest.", "Dose %(n)d can be given %(num)d days after the previous dose "
                "at the earliest.", low, n=dose_number))
        if high is not None and waited > high:
            raise BookingRefused("too_late", ngettext(
                "Dose %(n)d had to be given within %(num)d day of the previous dose.",
                "Dose %(n)d had to be given within %(num)d days of the previous dose.",
                high, n=dose_number))


def check_reschedule(*, appointment_day: date, today: date, reschedule_count: int,
                     max_reschedules: int) -> None:
    if appointment_day <= today:
        raise BookingRefused("reschedule_too_late",
                             _("An appointment can only be moved before its day."))
    if reschedule_count >= max_reschedules:
        raise BookingRefused("reschedule_limit", ngettext(
            "An appointment can be moved at most %(num)d time.",
            "An appointment can be moved at most %(num)d times.", max_reschedules))
