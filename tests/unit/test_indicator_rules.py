"""Table-driven tests of the WHO/UNICEF standard indicators (reporting.rules): DTP1/DTP3/
MCV1/MCV2 by 12 and 24 months, drop-out, zero-dose children, never-vaccinated children."""

from __future__ import annotations

from datetime import date

import pytest

from cowin_kit.core import durations
from cowin_kit.reporting import rules

BORN = date(2024, 3, 15)
PENTA = ("DTP", "HepB", "Hib")
MR = ("MCV", "Rubella")


def child(*doses, born=BORN):
    return rules.child_history(born, doses)


@pytest.mark.parametrize("code, antigens, expected", [
    ("PENTA", ["DTP", "HepB", "Hib"], ("DTP", "HepB", "Hib")),
    ("MR", ["MCV", "Rubella"], ("MCV", "Rubella")),
    ("BCG", [], ("BCG",)),
    ("X", None, ("X",)),
])
def test_product_antigens(code, antigens, expected):
    assert rules.product_antigens(code, antigens) == expected


D12 = durations.parse("12m")
D24 = durations.parse("24m")


@pytest.mark.parametrize("doses, antigen, number, age, given", [
    # the third DTP-containing dose, whatever the product (pentavalent then DPT)
    ([(date(2024, 4, 26), PENTA), (date(2024, 5, 24), PENTA), (date(2024, 6, 21), ("DTP",))],
     "DTP", 3, D12, True),
    # only two DTP doses
    ([(date(2024, 4, 26), PENTA), (date(2024, 5, 24), PENTA)], "DTP", 3, D12, False),
    # a dose on the first birthday is not "by 12 months"; it is by 24 months
    ([(date(2025, 3, 15), MR)], "MCV", 1, D12, False),
    ([(date(2025, 3, 14), MR)], "MCV", 1, D12, True),
    ([(date(2025, 3, 15), MR)], "MCV", 1, D24, True),
    # a HepB-only dose is no DTP dose
    ([(date(2024, 3, 15), ("HepB",))], "DTP", 1, D12, False),
    # doses given out of order in the list still count in day order
    ([(date(2025, 9, 1), MR), (date(2024, 12, 20), MR)], "MCV", 2, D24, True),
    ([(date(2026, 3, 15), MR), (date(2024, 12, 20), MR)], "MCV", 2, D24, False),
])
def test_has_dose_by(doses, antigen, number, age, given):
    history = child(*doses)
    assert rules.has_dose_by(history, antigen, number, age.after(history.birth_date)) is given


@pytest.mark.parametrize("first, later, rate", [
    (100, 80, 20.0), (3, 2, 33.3), (0, 0, None), (10, 10, 0.0), (4, 5, -25.0)])
def test_dropout_rate(first, later, rate):
    assert rules.dropout_rate(first, later) == rate


def test_cohort_figures_count_only_children_who_reached_the_age():
    on = date(2025, 6, 1)
    complete = child((date(2024, 4, 26), PENTA), (date(2024, 5, 24), PENTA),
                     (date(2024, 6, 21), PENTA), (date(2024, 12, 20), MR))
    dropped = child((date(2024, 4, 26), PENTA))
    zero = child((date(2024, 3, 16), ("BCG",)))            # BCG only: zero-dose all the same
    nothing = child()
    too_young = child((date(2024, 12, 20), PENTA), born=date(2024, 11, 1))
    figures = rules.cohort_figures([complete, dropped, zero, nothing, too_young], age=D12, on=on)
    assert (figures.registered, figures.eligible) == (5, 4)
    assert figures.counts == {"DTP1": 2, "DTP3": 1, "MCV1": 1, "MCV2": 0}
    assert figures.zero_dose == 2 and figures.zero_dose_percent == 50.0
    assert figures.coverage("DTP3") == 25.0
    assert figures.dropout("DTP1", "DTP3") == 50.0
    assert figures.dropout("MCV1", "MCV2") == 100.0
    assert figures.population_coverage("DTP1") is None
    figures.population = 8
    assert figures.population_coverage("DTP1") == 25.0
    # nobody has reached 24 months yet
    later = rules.cohort_figures([complete, dropped], age=D24, on=on)
    assert (later.registered, later.eligible, later.coverage("DTP1")) == (2, 0, None)


@pytest.mark.parametrize("doses, born, on, never", [
    ([], date(2025, 1, 1), date(2025, 3, 12), True),     # 10 weeks reached on 12 March
    ([], date(2025, 1, 1), date(2025, 3, 11), False),    # not yet 10 weeks old
    ([(date(2025, 1, 1), ("BCG",))], date(2025, 1, 1), date(2025, 6, 1), False),
])
def test_never_vaccinated(doses, born, on, never):
    history = child(*doses, born=born)
    assert rules.never_vaccinated(history, durations.parse("10w"), on) is never


@pytest.mark.parametrize("age, band", [("12m", "0-0"), ("24m", "1-1"), ("1y", "0-0")])
def test_population_band(age, band):
    assert rules.population_band(durations.parse(age)) == band


def test_indicator_record_and_csv():
    figures = rules.cohort_figures([child((date(2024, 4, 26), PENTA))], age=D12,
                                   on=date(2026, 1, 1))
    record = rules.indicator_record(rules.IndicatorRow("IN-KL", "Kerala", 2024, "12m", figures),
                                    never=0)
    assert record["dtp1"] == 1 and record["dtp1_percent"] == 100.0
    assert record["dropout_dtp1_dtp3_percent"] == 100.0
    assert record["dropout_mcv1_mcv2_percent"] is None
    text = rules.indicators_csv([record])
    header, row = text.splitlines()
    assert header.split(",") == list(rules.INDICATOR_COLUMNS)
    assert row.startswith("IN-KL,Kerala,2024,12m,1,1,,,1,100.0,0,0.0")
