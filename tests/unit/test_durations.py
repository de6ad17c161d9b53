"""The pack's durations: parsing, calendar arithmetic, and their text in each language."""

from __future__ import annotations

from datetime import date

import pytest
from flask_babel import force_locale

from cowin_kit.core.durations import Duration, DurationError, add_months, parse
from cowin_kit.core.i18n import duration_text


@pytest.mark.parametrize("text, expected", [
    ("4d", Duration(4, "d")), ("6w", Duration(6, "w")), ("9m", Duration(9, "m")),
    ("16y", Duration(16, "y")), (" 10 w ", Duration(10, "w")), (18, Duration(18, "y")),
    ("0d", Duration(0, "d")), ("12", Duration(12, "y")),
], ids=str)
def test_parse(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text", ["", "6", "w6", "6x", "-1d", "1.5y", True, None, 6.0, "6 weeks"],
                         ids=repr)
def test_parse_refuses(text):
    if text == "6":  # a bare number is years (old packs)
        assert parse(text) == Duration(6, "y")
        return
    with pytest.raises(DurationError):
        parse(text)


@pytest.mark.parametrize("start, duration, expected", [
    (date(2024, 1, 1), "6w", date(2024, 2, 12)),
    (date(2024, 1, 1), "0d", date(2024, 1, 1)),
    (date(2024, 5, 31), "9m", date(2025, 2, 28)),     # the month's last day
    (date(2023, 5, 31), "9m", date(2024, 2, 29)),     # a leap year's
    (date(2024, 2, 29), "1y", date(2025, 2, 28)),
    (date(2024, 2, 29), "4y", date(2028, 2, 29)),
    (date(2024, 12, 15), "1m", date(2025, 1, 15)),
    (date(2020, 3, 31), "16y", date(2036, 3, 31)),
], ids=str)
def test_after_counts_calendar_months(start, duration, expected):
    assert parse(duration).after(start) == expected


@pytest.mark.parametrize("end, months, expected", [
    (date(2024, 3, 31), -1, date(2024, 2, 29)), (date(2024, 1, 31), -13, date(2022, 12, 31)),
    (date(2024, 1, 31), 1, date(2024, 2, 29)),
])
def test_add_months(end, months, expected):
    assert add_months(end, months) == expected


def test_before_is_after_backwards():
    assert parse("6w").before(date(2024, 2, 12)) == date(2024, 1, 1)
    assert parse("1y").before(date(2025, 2, 28)) == date(2024, 2, 28)


@pytest.mark.parametrize("locale, duration, text", [
    ("en", "1d", "1 day"), ("en", "6w", "6 weeks"), ("en", "1y", "1 year"),
    ("fr", "2y", "2 ans"), ("fr", "1m", "1 mois"),
    ("hi", "9m", "9 महीने"),
    ("uk", "1w", "1 тиждень"), ("uk", "3w", "3 тижні"), ("uk", "5w", "5 тижнів"),
    ("ar", "2m", "شهران"), ("ar", "5y", "5 سنوات"),
], ids=str)
def test_duration_text_in_each_language(app, locale, duration, text):
    with app.test_request_context(), force_locale(locale):
        assert duration_text(parse(duration)) == text
