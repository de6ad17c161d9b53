"""Pure rules of recording a dose."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, Sequence

from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.scheduling.rules import BookingRefused, GivenDose, next_dose_number, schedule_for

# Wrong secret codes in a row that pause recording a booked dose: for the person (whoever
# types), and for the staff member (whoever's code they type); and for how long.
SECRET_CODE_FAILURES_PER_PERSON = 5
SECRET_CODE_FAILURES_PER_STAFF = 10
SECRET_CODE_PAUSE = timedelta(minutes=15)


def paused(until: datetime | None, now: datetime) -> bool:
    """Whether a pause ending at ``until`` (naive: UTC, as SQLite gives it back) holds."""
    if until is None:
        return False
    return (until if until.tzinfo else until.replace(tzinfo=timezone.utc)) > now


def check_dose(*, given: Sequence[GivenDose], product_code: str, day: date, age: int,
               schedules: Sequence[Any], dose_number: int | None = None) -> int:
    """The dose number this product on this day would be, or BookingRefused. A dose given
    late still counts (it was given); one given too early or of the wrong product does not
    get recorded without a correction of the schedule."""
    expected = next_dose_number(given)
    if dose_number is not None and dose_number != expected:
        if any(d.number == dose_number for d in given):
            raise BookingRefused("dose_already_given",
                                 _("Dose %(n)d is already recorded.", n=dose_number))
        raise BookingRefused("dose_order", _("The next dose for this person is dose %(n)d.",
                                             n=expected))
    first = min(given, key=lambda d: d.number) if given else None
    schedule = schedule_for(first.product_code if first else product_code, schedules)
    if schedule is None:
        raise BookingRefused("no_schedule", _("No vaccine schedule covers this vaccine."))
    if age < schedule.min_age or (schedule.max_age is not None and age > schedule.max_age):
        raise BookingRefused("age_not_eligible", _("This vaccine is not given at this age."))
    if expected > len(schedule.doses):
        raise BookingRefused("schedule_complete",
                             _("This person has had every dose of the schedule."))
    rule = schedule.doses[expected - 1]
    allowed = rule.get("products") or (
        schedule.products if schedule.interchangeable or first is None else [first.product_code])
    if product_code not in allowed:
        raise BookingRefused("product_mismatch", _(
            "Dose %(n)d must be of the same vaccine as the earlier doses.", n=expected))
    if given:
        previous = max(given, key=lambda d: d.number)
        low = rule.get("min_interval_days")
        if low is not None and (day - previous.day).days < low:
            raise BookingRefused("too_early", ngettext(
                "Dose %(n)d can be given %(num)d day after the previous dose at the "
                "earliest.", "Dose %(n)d can be given %(num)d days after the previous dose "
                "at the earliest.", low, n=expected))
    return expected


def total_doses(schedule: Any) -> int:
    """Doses of the primary series (boosters do not count towards totalDoses)."""
    return sum(1 for dose in schedule.doses if not dose.get("booster"))
