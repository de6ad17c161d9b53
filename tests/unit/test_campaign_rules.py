"""Table-driven tests of the campaign rules (immunization.rules)."""

from __future__ import annotations

from datetime import date

import pytest

from cowin_kit.immunization import rules


@pytest.mark.parametrize("text, born, day, inside", [
    ("9m-15y", date(2025, 1, 31), date(2025, 10, 30), False),  # 9 months on 31 Oct
    ("9m-15y", date(2025, 1, 31), date(2025, 10, 31), True),
    ("9m-15y", date(2011, 3, 1), date(2026, 2, 28), True),     # the day before 15
    ("9m-15y", date(2011, 3, 1), date(2026, 3, 1), False),     # 15 today
    ("9y-15y", date(2017, 5, 2), date(2026, 5, 1), False),
    ("6w-1y", date(2026, 1, 1), date(2026, 2, 12), True),
])
def test_age_range_holds(text, born, day, inside):
    assert rules.parse_age_range(text).holds(born, day) is inside


@pytest.mark.parametrize("text, message", [
    ("9m", "two ages"), ("9x-15y", "two ages"), ("15y-9m", "above"), ("1y-12m", "above")])
def test_age_range_refused(text, message):
    with pytest.raises(ValueError, match=message):
        rules.parse_age_range(text)


@pytest.mark.parametrize("label, span", [
    ("0-0", (0, 1)), ("1-4", (1, 5)), ("60+", (60, 100)), ("adults", None)])
def test_band_years(label, span):
    assert rules.band_years(label) == span


FIGURES = [("0-0", 1200), ("1-4", 4000), ("5-14", 10000), ("15-17", 3000), ("18-44", 50000)]


@pytest.mark.parametrize("ages, figures, target", [
    ("9m-15y", FIGURES, 300 + 4000 + 10000),       # a quarter of the infants
    ("9y-15y", FIGURES, 6000),                       # 6 of the 10 years of 5-14
    ("1y-5y", FIGURES, 4000),
    ("16y-18y", FIGURES, 2000),
    ("9m-15y", [("18-44", 50000), ("60+", 9)], None),  # no band of these ages
    ("9m-15y", [], None),
])
def test_target_from_bands(ages, figures, target):
    assert rules.target_from_bands(figures, rules.parse_age_range(ages)) == target


def test_campaign_days_and_progress():
    days = rules.campaign_days(date(2026, 3, 1), date(2026, 3, 10), date(2026, 3, 3))
    assert days == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    assert rules.campaign_days(date(2026, 3, 1), date(2026, 3, 10), date(2026, 2, 1)) == []
    rows = rules.progress(days, {date(2026, 3, 1): 5, date(2026, 3, 3): 10}, 40)
    assert [(r.doses, r.cumulative, r.percent) for r in rows] == [
        (5, 5, 12.5), (0, 5, 12.5), (10, 15, 37.5)]
    assert rules.progress(days, {}, None)[-1].percent is None
