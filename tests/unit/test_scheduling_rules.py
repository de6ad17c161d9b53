"""cowin_kit.scheduling.rules, table by table: slots, seats per slot, and every rule a
booking or a reschedule must pass (the error code each case is refused with)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

import pytest

from cowin_kit.scheduling.rules import (
    BookingRefused, GivenDose, SessionFacts, check_booking, check_reschedule, next_dose_number,
    parse_slots, postal_code_rank, schedule_for, split_capacity,
)
from cowin_kit.testing import vaccine_schedule

TWO_DOSES = vaccine_schedule(["COVISHIELD", "COVAXIN"], [
    {}, {"min_interval_days": 28, "max_interval_days": 112}, {"booster": True}])
CHILDREN = vaccine_schedule(["CORBEVAX"], [{}, {"min_interval_days": 28}],
                            min_age=12, max_age=17)
MIXED = vaccine_schedule(["SPUTNIK", "ZYCOV"], [{}, {"min_interval_days": 21}],
                         interchangeable=True)
SCHEDULES = [TWO_DOSES, CHILDREN, MIXED]

TODAY = date(2026, 5, 10)
MORNING = datetime(2026, 5, 10, 9, 0)


@pytest.mark.parametrize("text, expected", [
    ("09:00-11:00", [(time(9), time(11))]),
    ("11:00-13:00;09:00-11:00", [(time(9), time(11)), (time(11), time(13))]),  # sorted
    (" 09:00-10:30 ; ;10:30-12:00 ", [(time(9), time(10, 30)), (time(10, 30), time(12))]),
    ("00:00-23:59", [(time(0), time(23, 59))]),
])
def test_slots_are_parsed_and_ordered(text, expected):
    assert parse_slots(text) == expected


@pytest.mark.parametrize("text", [
    "", " ; ",             # no slot
    "9:00-11:00",          # hours need two digits
    "24:00-25:00",         # no such hour
    "09:60-10:00",         # no such minute
    "11:00-09:00",         # ends before it starts
    "09:00-09:00",         # empty
    "09:00-11:00;10:59-12:00",  # overlap by a minute
    "09:00-11:00,11:00-12:00",  # wrong separator
])
def test_bad_slots_are_refused(text):
    with pytest.raises(ValueError):
        parse_slots(text)


@pytest.mark.parametrize("total, parts, expected", [
    (10, 2, [5, 5]),
    (11, 2, [6, 5]),        # the extra seat goes to the earliest slot
    (10, 3, [4, 3, 3]),
    (2, 4, [1, 1, 0, 0]),
    (0, 3, [0, 0, 0]),
])
def test_seats_are_spread_over_the_slots_earliest_first(total, parts, expected):
    assert split_capacity(total, parts) == expected
    assert sum(expected) == total


@pytest.mark.parametrize("given, expected", [
    ([], 1),
    ([GivenDose(1, "COVISHIELD", TODAY)], 2),
    ([GivenDose(2, "COVISHIELD", TODAY), GivenDose(1, "COVISHIELD", TODAY)], 3),
])
def test_next_dose_number(given, expected):
    assert next_dose_number(given) == expected


@pytest.mark.parametrize("product, expected", [
    ("COVAXIN", TWO_DOSES), ("CORBEVAX", CHILDREN), ("ZYCOV", MIXED), ("UNKNOWN", None)])
def test_a_product_belongs_to_the_first_schedule_listing_it(product, expected):
    assert schedule_for(product, SCHEDULES) is expected


def session(**changes) -> SessionFacts:
    base = SessionFacts(day=TODAY + timedelta(days=1), product_code="COVISHIELD", min_age=18,
                        max_age=None, status="published", doses_offered=(1, 2, 3))
    return replace(base, **changes)


def dose_1(days_before_session: int, product="COVISHIELD") -> list[GivenDose]:
    return [GivenDose(1, product, TODAY + timedelta(days=1 - days_before_session))]


@dataclass
class Case:
    age: int = 30
    session: SessionFacts = field(default_factory=session)
    dose_number: int = 1
    given: list = field(default_factory=list)
    now: datetime = MORNING
    cutoff: tuple[int, int] = (17, 0)


BOOKINGS = {
    # name: (case, None when accepted or the code it is refused with)
    "first dose": (Case(), None),
    "cancelled session": (Case(session=session(status="cancelled")), "session_cancelled"),
    "session yesterday": (Case(session=session(day=TODAY - timedelta(days=1))),
                          "session_in_past"),
    "today before the cut-off": (Case(session=session(day=TODAY),
                                      now=datetime(2026, 5, 10, 16, 59)), None),
    "today at the cut-off": (Case(session=session(day=TODAY),
                                  now=datetime(2026, 5, 10, 17, 0)), "same_day_cutoff"),
    "today, cut-off with minutes": (Case(session=session(day=TODAY), cutoff=(16, 30),
                                         now=datetime(2026, 5, 10, 16, 30)), "same_day_cutoff"),
    "tomorrow, late in the evening": (Case(now=datetime(2026, 5, 10, 23, 0)), None),
    "dose not offered": (Case(session=session(doses_offered=(2,))), "dose_not_offered"),
    "dose already given": (Case(dose_number=1, given=dose_1(40)), "dose_already_given"),
    "dose 2 before dose 1": (Case(dose_number=2), "dose_order"),
    "dose 3 after dose 1": (Case(dose_number=3, given=dose_1(40)), "dose_order"),
    "17 for an 18+ session": (Case(age=17), "age_not_eligible"),
    "18 for an 18+ session": (Case(age=18), None),
    "over the session's max age": (Case(age=46, session=session(max_age=45)),
                                   "age_not_eligible"),
    "at the session's max age": (Case(age=45, session=session(max_age=45)), None),
    "no schedule for the product": (Case(session=session(product_code="UNKNOWN")),
                                    "no_schedule"),
    "schedule's lower age": (Case(age=11, session=session(product_code="CORBEVAX", min_age=0)),
                             "age_not_eligible"),
    "schedule's upper age": (Case(age=18, session=session(product_code="CORBEVAX", min_age=0)),
                             "age_not_eligible"),
    "child in the schedule": (Case(age=12, session=session(product_code="CORBEVAX", min_age=0)),
                              None),
    "dose 2, interval 28 days": (Case(dose_number=2, given=dose_1(28)), None),
    "dose 2, a day too early": (Case(dose_number=2, given=dose_1(27)), "too_early"),
    "dose 2, last day": (Case(dose_number=2, given=dose_1(112)), None),
    "dose 2, a day too late": (Case(dose_number=2, given=dose_1(113)), "too_late"),
    "dose 2, other vaccine": (Case(dose_number=2, given=dose_1(30, "COVAXIN")),
                              "product_mismatch"),
    "dose 2, interchangeable": (Case(dose_number=2, given=dose_1(21, "SPUTNIK"),
                                     session=session(product_code="ZYCOV")), None),
    "grown out of the children's schedule": (
        Case(age=20, dose_number=3, session=session(product_code="CORBEVAX", min_age=0),
             given=[GivenDose(1, "CORBEVAX", TODAY - timedelta(days=90)),
                    GivenDose(2, "CORBEVAX", TODAY - timedelta(days=60))]),
        "age_not_eligible"),
    "every dose had": (Case(age=15, dose_number=3, session=session(product_code="CORBEVAX",
                                                                    min_age=0),
                            given=[GivenDose(1, "CORBEVAX", TODAY - timedelta(days=90)),
                                   GivenDose(2, "CORBEVAX", TODAY - timedelta(days=60))]),
                       "schedule_complete"),
    "booster after two doses": (Case(dose_number=3,
                                     given=[GivenDose(1, "COVISHIELD", TODAY - timedelta(200)),
                                            GivenDose(2, "COVISHIELD", TODAY - timedelta(100))]),
                                None),
}


def refusal(check, **arguments) -> str | None:
    """The code ``check`` refuses with, or None when it accepts."""
    try:
        check(**arguments)
    except BookingRefused as refused:
        return refused.code
    return None


@pytest.mark.parametrize("name", BOOKINGS)
def test_booking_rules(name):
    case, refused = BOOKINGS[name]
    assert refusal(check_booking, age=case.age, session=case.session,
                   dose_number=case.dose_number, given=case.given, schedules=SCHEDULES,
                   today=TODAY, now_local=case.now, cutoff_hour=case.cutoff[0],
                   cutoff_minute=case.cutoff[1]) == refused


@pytest.mark.parametrize("days_ahead, count, limit, refused", [
    (1, 0, 2, None),
    (1, 1, 2, None),
    (1, 2, 2, "reschedule_limit"),
    (0, 0, 2, "reschedule_too_late"),      # on the day itself
    (-1, 0, 2, "reschedule_too_late"),
    (5, 0, 0, "reschedule_limit"),
])
def test_reschedule_rules(days_ahead, count, limit, refused):
    assert refusal(check_reschedule, appointment_day=TODAY + timedelta(days=days_ahead),
                   today=TODAY, reschedule_count=count, max_reschedules=limit) == refused


@pytest.mark.parametrize("facility_code, searched, rank", [
    ("695001", "695001", 0),     # the facility is at the searched PIN
    ("695002", "695001", 1),     # elsewhere in the PIN's district
    (None, "695001", 1),         # no postal code of its own
    ("", "695001", 1),
    ("K1A 0B1", "K1A 0B1", 0),   # codes are compared as written
    ("K1A0B1", "K1A 0B1", 1),
])
def test_facilities_at_the_searched_postal_code_come_first(facility_code, searched, rank):
    assert postal_code_rank(facility_code, searched) == rank
