"""cowin_kit.vaccination.rules: which dose a product given on a day would be, and why one
is not recorded; how many doses a primary series has."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cowin_kit.scheduling.rules import BookingRefused, GivenDose
from cowin_kit.testing import vaccine_schedule
from cowin_kit.vaccination.rules import check_dose, total_doses

TWO_DOSES = vaccine_schedule(["COVISHIELD", "COVAXIN"], [
    {}, {"min_interval_days": 28, "max_interval_days": 112}, {"booster": True}])
CHILDREN = vaccine_schedule(["CORBEVAX"], [{}, {"min_interval_days": 28}],
                            min_age=12, max_age=17)
BOOSTER_ANY = vaccine_schedule(["ZYCOV"], [
    {}, {"min_interval_days": 21, "products": ["ZYCOV", "COVAXIN"]}])
SCHEDULES = [TWO_DOSES, CHILDREN, BOOSTER_ANY]
DAY = date(2026, 5, 10)


def earlier(*doses: tuple[str, int]) -> list[GivenDose]:
    """Doses 1, 2... of (product, days before DAY)."""
    return [GivenDose(n, product, DAY - timedelta(days=ago))
            for n, (product, ago) in enumerate(doses, start=1)]


@pytest.mark.parametrize("given, product, age, dose_number, expected", [
    ([], "COVISHIELD", 30, None, 1),
    ([], "COVISHIELD", 30, 1, 1),
    (earlier(("COVISHIELD", 28)), "COVISHIELD", 30, None, 2),
    (earlier(("COVISHIELD", 400)), "COVISHIELD", 30, None, 2),   # late still counts
    (earlier(("COVISHIELD", 200), ("COVISHIELD", 100)), "COVISHIELD", 30, None, 3),  # booster
    ([], "CORBEVAX", 12, None, 1),
    ([], "CORBEVAX", 17, None, 1),
    (earlier(("ZYCOV", 21)), "COVAXIN", 40, None, 2),    # the dose's own product list
])
def test_the_dose_number_a_dose_would_get(given, product, age, dose_number, expected):
    assert check_dose(given=given, product_code=product, day=DAY, age=age,
                      schedules=SCHEDULES, dose_number=dose_number) == expected


@pytest.mark.parametrize("given, product, age, dose_number, code", [
    (earlier(("COVISHIELD", 40)), "COVISHIELD", 30, 1, "dose_already_given"),
    ([], "COVISHIELD", 30, 2, "dose_order"),
    ([], "UNKNOWN", 30, None, "no_schedule"),
    ([], "COVISHIELD", 17, None, "age_not_eligible"),
    ([], "CORBEVAX", 11, None, "age_not_eligible"),
    ([], "CORBEVAX", 18, None, "age_not_eligible"),
    (earlier(("CORBEVAX", 90), ("CORBEVAX", 60)), "CORBEVAX", 15, None, "schedule_complete"),
    (earlier(("COVISHIELD", 40)), "COVAXIN", 30, None, "product_mismatch"),
    (earlier(("ZYCOV", 30)), "COVISHIELD", 30, None, "product_mismatch"),
    (earlier(("COVISHIELD", 27)), "COVISHIELD", 30, None, "too_early"),
    (earlier(("ZYCOV", 20)), "ZYCOV", 30, None, "too_early"),
])
def test_a_dose_that_is_not_recorded(given, product, age, dose_number, code):
    with pytest.raises(BookingRefused) as caught:
        check_dose(given=given, product_code=product, day=DAY, age=age, schedules=SCHEDULES,
                   dose_number=dose_number)
    assert caught.value.code == code


@pytest.mark.parametrize("schedule, expected", [
    (TWO_DOSES, 2),             # the booster does not count
    (CHILDREN, 2),
    (vaccine_schedule(["J"], [{}]), 1),
    (vaccine_schedule(["X"], [{}, {"booster": True}, {"booster": True}]), 1),
])
def test_total_doses_of_the_primary_series(schedule, expected):
    assert total_doses(schedule) == expected
