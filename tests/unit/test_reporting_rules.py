"""cowin_kit.reporting.rules: age bands, percentages, local days in UTC (23- and 25-hour
days), the dose that completes a schedule, and the CSV form of the reports."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from cowin_kit.reporting import rules
from cowin_kit.testing import vaccine_schedule


@pytest.mark.parametrize("label, low, high", [
    ("18-44", 18, 44), (" 45-59 ", 45, 59), ("60+", 60, None), ("0-0", 0, 0), ("5-5", 5, 5)])
def test_age_bands_are_parsed(label, low, high):
    band = rules.parse_age_band(label)
    assert (band.label, band.low, band.high) == (label.strip(), low, high)


@pytest.mark.parametrize("label", ["44-18", "18", "18-", "-44", "60-", "+60", "a-b", "1000+"])
def test_bad_age_bands_are_refused(label):
    with pytest.raises(ValueError):
        rules.parse_age_band(label)


def test_bands_are_distinct_and_youngest_first_with_the_defaults_when_none():
    assert [b.label for b in rules.age_bands(["60+", "18-44", "45-59", "18-44", "0-17"])] == [
        "0-17", "18-44", "45-59", "60+"]
    assert [b.label for b in rules.age_bands([])] == list(rules.DEFAULT_AGE_BANDS)


BANDS = rules.age_bands(["12-17", "18-44", "45-59", "60+"])


@pytest.mark.parametrize("age, label", [
    (11, rules.OTHER_BAND), (12, "12-17"), (17, "12-17"), (18, "18-44"), (44, "18-44"),
    (45, "45-59"), (59, "45-59"), (60, "60+"), (120, "60+")])
def test_band_of_an_age(age, label):
    assert rules.band_of(age, BANDS) == label


@pytest.mark.parametrize("part, whole, expected", [
    (1, 3, 33.3), (2, 3, 66.7), (0, 10, 0.0), (10, 10, 100.0), (3, 2, 150.0),
    (1, 0, None), (1, None, None)])
def test_percentages_with_one_decimal(part, whole, expected):
    assert rules.percent(part, whole) == expected


@pytest.mark.parametrize("last_day, tz, hours", [
    (date(2026, 5, 10), "Asia/Kolkata", 24),
    (date(2026, 3, 29), "Europe/Kyiv", 23),        # clocks go forward
    (date(2026, 10, 25), "Europe/Kyiv", 25),       # clocks go back
    (date(2026, 3, 8), "America/Toronto", 23),
])
def test_a_local_day_in_utc(last_day, tz, hours):
    ((day, start, end),) = rules.day_bounds(last_day, 1, tz)
    assert day == last_day and end - start == timedelta(hours=hours)
    assert start.tzinfo == timezone.utc


def test_days_run_oldest_first_and_meet_without_gaps():
    days = rules.day_bounds(date(2026, 5, 10), 7, "Asia/Kolkata")
    assert [d for d, _s, _e in days] == [date(2026, 5, 4) + timedelta(days=n) for n in range(7)]
    assert days[0][1] == datetime(2026, 5, 3, 18, 30, tzinfo=timezone.utc)  # IST is +05:30
    assert all(days[i][2] == days[i + 1][1] for i in range(6))


@pytest.mark.parametrize("days", [0, -1, rules.MAX_DAYS + 1])
def test_the_number_of_days_is_bounded(days):
    with pytest.raises(ValueError):
        rules.day_bounds(date(2026, 5, 10), days, "UTC")


@pytest.mark.parametrize("doses, expected", [
    ([{}, {}], 2), ([{}], 1), ([{}, {}, {"booster": True}], 2)])
def test_the_completing_dose_ignores_boosters(doses, expected):
    assert rules.completing_dose(vaccine_schedule(["X"], doses)) == expected


@pytest.mark.parametrize("cell, written", [
    ("=SUM(A1)", "'=SUM(A1)"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"),
    ("\tx", "'\tx"), ("ok", "ok"), ("a=b", "a=b"), (None, ""), (-1, "-1"), (2.5, "2.5")])
def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(cell, written):
    text = rules.to_csv(["h"], [[cell]])
    assert text.startswith("h\r\n")
    assert text[len("h\r\n"):].rstrip("\r\n").strip('"') == written


def test_report_csvs_have_their_columns_and_blank_missing_figures():
    daily = rules.daily_csv([rules.DailyDoses(date(2026, 5, 10), {"1": 3, "booster": 2})])
    assert daily == "date,dose_1,dose_2,booster,total\r\n2026-05-10,3,0,2,5\r\n"
    coverage = rules.coverage_csv([rules.RegionCoverage(5, 2, None, code="IN-KL",
                                                        name="Kerala")])
    assert coverage.splitlines()[1] == "IN-KL,Kerala,5,2,,,"
    dropout = rules.dropout_csv([rules.Dropout("IN-KL", "Kerala", due=8, missing=2)])
    assert dropout.splitlines()[1] == "IN-KL,Kerala,8,2,25.0"
    cells = rules.age_sex_csv([rules.AgeSexCell(1, 0, 4, age_band="60+", sex="F")])
    assert cells.splitlines() == ["age_band,sex,first_doses,completed,population,"
                                  "first_dose_percent", "60+,F,1,0,4,25.0"]
