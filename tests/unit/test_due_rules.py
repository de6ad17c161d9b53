"""cowin_kit.programme.due, table by table: the status and dates of every dose of a small
India-like routine schedule for children of various histories, and pregnancy schedules.

The schedule is built here (not read from a pack). Ages and intervals follow India's
Universal Immunization Programme (MoHFW, National Immunization Schedule for infants,
children and pregnant women): birth doses (BCG up to 1 year, OPV-0 within 15 days, HepB
within 24 hours), pentavalent/OPV/rotavirus at 6, 10 and 14 weeks, MR at 9 and 16
months, DPT boosters at 16 months and 5 years, Td in pregnancy (dose 1 early, dose 2
four weeks later, a booster when two doses were given in a pregnancy within 3 years).
The Hib single-dose rule when started late and the 4-day grace follow WHO's Hib position
and ACIP's general best-practice guidance; they are here to exercise the rules."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from cowin_kit.core.durations import Duration, parse
from cowin_kit.programme.due import (
    STATUSES, DoseRule, DoseStatus, Given, Pregnancy, ScheduleRule, evaluate, is_zero_dose,
    next_due, schedule_rule, summary, urgent_first,
)


def row(code, products, doses, **extra):
    """A schedule row as the installer stores it (duck-typed)."""
    return SimpleNamespace(code=code, products=products, doses=doses, routine=True,
                           timed_from=extra.pop("timed_from", "birth"),
                           options=extra.pop("options", {}), **extra)


PENTA_DOSES = [
    {"number": 1, "age": "6w"},
    {"number": 2, "age": "10w", "min_interval": "4w"},
    {"number": 3, "age": "14w", "min_interval": "4w"},
]
ROWS = [
    row("BCG", ["BCG"], [{"number": 1, "age": "0d", "max_age": "1y"}]),
    row("OPV", ["OPV"], [
        {"number": 1, "age": "0d", "max_age": "15d"},            # OPV-0
        {"number": 2, "age": "6w"},
        {"number": 3, "age": "10w", "min_interval": "4w"},
        {"number": 4, "age": "14w", "min_interval": "4w"},
        {"number": 5, "age": "16m", "min_interval": "6m", "booster": True}]),
    row("HepB", ["HepB", "PENTA"], [
        {"number": 1, "age": "0d", "max_age": "1d", "products": ["HepB"]},  # within 24 h
        *[dict(d, number=d["number"] + 1, products=["PENTA"]) for d in PENTA_DOSES]]),
    row("DTP", ["PENTA", "DPT"], [
        *[dict(d, products=["PENTA"]) for d in PENTA_DOSES],
        {"number": 4, "age": "16m", "min_interval": "6m", "products": ["DPT"], "booster": True},
        {"number": 5, "age": "5y", "max_age": "7y", "min_interval": "6m", "products": ["DPT"],
         "booster": True}]),
    row("Hib", ["PENTA"], [
        {"number": 1, "age": "6w"},
        {"number": 2, "age": "10w", "min_interval": "4w", "not_needed_if_started_after": "12m"},
        {"number": 3, "age": "14w", "min_interval": "4w", "not_needed_if_started_after": "12m"}]),
    row("ROTA", ["ROTAVAC", "ROTASIIL"], [dict(d) for d in PENTA_DOSES],
        options={"start_max_age": "1y"}),
    row("MR", ["MR"], [
        {"number": 1, "age": "9m", "max_age": "5y"},
        {"number": 2, "age": "16m", "min_interval": "4w", "max_age": "5y"}]),
    row("Td-PW", ["Td", "TT"], [
        {"number": 1, "age": "0d"},
        {"number": 2, "min_interval": "4w"},
        {"number": 3, "booster": True}],
        timed_from="pregnancy", options={"prior_series_within": "3y"}),
]
UIP = [schedule_rule(r) for r in ROWS]
CHILD = [s for s in UIP if s.timed_from == "birth"]
TD = [s for s in UIP if s.code == "Td-PW"]

BIRTH = date(2024, 1, 1)
W4 = parse("4w")
GRACE = parse("4d")


def at(text: str, birth: date = BIRTH) -> date:
    """The day a child born on ``birth`` reaches an age ("6w", "9m"; "6w-5d", "6w+2d")."""
    days = 0
    for sign in ("-", "+"):
        if sign in text:
            text, extra = text.split(sign)
            days = int(extra.rstrip("d")) * (1 if sign == "+" else -1)
    return parse(text).after(birth) + timedelta(days=days)


def given(*pairs, birth: date = BIRTH) -> list[Given]:
    """Records: ("PENTA", "6w"), ... (ages) or (product, date)."""
    return [Given(product, when if isinstance(when, date) else at(when, birth), ref=n)
            for n, (product, when) in enumerate(pairs)]


def run(history, on, schedules=CHILD, birth=BIRTH, pregnancies=()) -> list[DoseStatus]:
    return evaluate(schedules, birth_date=birth, history=history, on=on, overdue_after=W4,
                    pregnancies=pregnancies, default_grace=GRACE)


def table(statuses) -> dict[str, str]:
    """{"DTP-1": "done", ...}: the final status of every dose (not_counted records apart)."""
    return {f"{s.schedule}-{s.dose}": s.status for s in statuses if s.status != "not_counted"}


def one(statuses, key) -> DoseStatus:
    schedule, dose = key.rsplit("-", 1)
    [found] = [s for s in statuses if s.schedule == schedule and s.dose == int(dose)
               and s.status != "not_counted"]
    return found


def rejected(statuses) -> list[tuple[str, str]]:
    return [(f"{s.schedule}-{s.dose}", s.given.product) for s in statuses
            if s.status == "not_counted"]


def assert_subset(actual: dict, expected: dict):
    assert {k: actual[k] for k in expected} == expected


BIRTH_DOSES = [("BCG", "0d"), ("OPV", "0d"), ("HepB", "0d")]
AT_6W = [("OPV", "6w"), ("PENTA", "6w"), ("ROTAVAC", "6w")]
AT_10W = [("OPV", "10w"), ("PENTA", "10w"), ("ROTAVAC", "10w")]
AT_14W = [("OPV", "14w"), ("PENTA", "14w"), ("ROTAVAC", "14w")]
AT_9M = [("MR", "9m")]
AT_16M = [("MR", "16m"), ("OPV", "16m"), ("DPT", "16m")]


# --- an on-time child at the visits of the schedule ------------------------------------

@pytest.mark.parametrize("on, history, expected", [
    pytest.param("0d", [], {"BCG-1": "due", "OPV-1": "due", "HepB-1": "due",
                            "DTP-1": "upcoming", "MR-1": "upcoming"}, id="birth-before-doses"),
    pytest.param("0d", BIRTH_DOSES, {"BCG-1": "done", "OPV-1": "done", "HepB-1": "done",
                                     "OPV-2": "upcoming", "DTP-1": "upcoming"},
                 id="birth-doses-given"),
    pytest.param("6w", BIRTH_DOSES, {"OPV-2": "due", "HepB-2": "due", "DTP-1": "due",
                                     "Hib-1": "due", "ROTA-1": "due", "DTP-2": "upcoming",
                                     "MR-1": "upcoming"}, id="6w-visit"),
    pytest.param("6w", BIRTH_DOSES + AT_6W,
                 {"OPV-2": "done", "HepB-2": "done", "DTP-1": "done", "Hib-1": "done",
                  "ROTA-1": "done", "DTP-2": "upcoming", "ROTA-2": "upcoming"},
                 id="6w-after-visit"),
    pytest.param("10w", BIRTH_DOSES + AT_6W, {"OPV-3": "due", "DTP-2": "due", "HepB-3": "due",
                                              "Hib-2": "due", "ROTA-2": "due",
                                              "DTP-3": "upcoming"}, id="10w-visit"),
    pytest.param("14w", BIRTH_DOSES + AT_6W + AT_10W,
                 {"OPV-4": "due", "DTP-3": "due", "HepB-4": "due", "Hib-3": "due",
                  "ROTA-3": "due", "DTP-2": "done", "MR-1": "upcoming"}, id="14w-visit"),
    pytest.param("9m", BIRTH_DOSES + AT_6W + AT_10W + AT_14W,
                 {"MR-1": "due", "DTP-3": "done", "ROTA-3": "done", "OPV-5": "upcoming",
                  "DTP-4": "upcoming"}, id="9m-visit"),
    pytest.param("16m", BIRTH_DOSES + AT_6W + AT_10W + AT_14W + AT_9M,
                 {"MR-1": "done", "MR-2": "due", "OPV-5": "due", "DTP-4": "due",
                  "DTP-5": "upcoming", "BCG-1": "done"}, id="16m-visit"),
    pytest.param("16m", BIRTH_DOSES + AT_6W + AT_10W + AT_14W + AT_9M + AT_16M,
                 {"MR-2": "done", "OPV-5": "done", "DTP-4": "done", "DTP-5": "upcoming"},
                 id="16m-after-visit"),
])
def test_on_time_child(on, history, expected):
    statuses = run(given(*history), at(on))
    assert_subset(table(statuses), expected)
    assert rejected(statuses) == []


def test_on_time_child_dates():
    statuses = run(given(*BIRTH_DOSES, *AT_6W), at("6w"))
    dtp2 = one(statuses, "DTP-2")
    assert (dtp2.earliest, dtp2.due, dtp2.latest) == (at("10w"), at("10w"), None)
    assert one(statuses, "DTP-1").given == Given("PENTA", at("6w"), ref=4)
    mr2 = one(statuses, "MR-2")   # projected after the pending MR-1; no min_age: its age
    assert (mr2.earliest, mr2.due, mr2.latest) == (at("16m"), at("16m"), at("5y"))


# --- late starts, catch-up limits, ages passed -----------------------------------------

def test_late_start_at_six_months():
    on = at("6m")
    statuses = run([], on)
    assert_subset(table(statuses), {
        "BCG-1": "overdue",       # until the first birthday
        "OPV-1": "missed",        # OPV-0 only within 15 days
        "HepB-1": "missed",       # HepB birth dose only within 24 hours
        "OPV-2": "overdue", "DTP-1": "overdue", "ROTA-1": "overdue",
        "DTP-2": "upcoming", "DTP-3": "upcoming", "MR-1": "upcoming",
    })
    dtp2, dtp3 = one(statuses, "DTP-2"), one(statuses, "DTP-3")
    # projected from today (DTP-1 is given today at the earliest), not from its past due date
    assert (dtp2.earliest, dtp2.due) == (on + timedelta(weeks=4), on + timedelta(weeks=4))
    assert dtp3.due == on + timedelta(weeks=8)
    assert [s.schedule + "-" + str(s.dose) for s in next_due(statuses)] == [
        "BCG-1", "OPV-2", "HepB-2", "DTP-1", "Hib-1", "ROTA-1"]


def test_late_start_then_catch_up_visits():
    history = given(("OPV", "6m"), ("PENTA", "6m"), ("ROTAVAC", "6m"), ("BCG", "6m"))
    statuses = run(history, at("6m+28d"))
    assert_subset(table(statuses), {"BCG-1": "done", "OPV-1": "missed", "OPV-2": "done",
                                    "HepB-1": "missed", "HepB-2": "done", "DTP-1": "done",
                                    "DTP-2": "due", "ROTA-2": "due", "OPV-3": "due"})
    assert one(statuses, "DTP-2").due == at("6m+28d")


@pytest.mark.parametrize("on, history, expected, not_counted", [
    pytest.param("1y-1d", [], {"ROTA-1": "overdue", "ROTA-2": "upcoming", "ROTA-3": "upcoming"},
                 [], id="last-day-to-start"),
    pytest.param("1y", [], {"ROTA-1": "missed", "ROTA-2": "missed", "ROTA-3": "missed"},
                 [], id="not-started-by-limit-all-missed"),
    pytest.param("1y+10d", [("ROTAVAC", "1y+2d")],
                 {"ROTA-1": "missed", "ROTA-2": "missed", "ROTA-3": "missed"},
                 [("ROTA-1", "ROTAVAC")], id="started-after-limit-not-counted"),
    pytest.param("14m", [("ROTAVAC", "11m"), ("ROTAVAC", "12m+5d")],
                 {"ROTA-1": "done", "ROTA-2": "done", "ROTA-3": "due"},
                 [], id="only-the-start-is-limited"),
])
def test_catch_up_limit(on, history, expected, not_counted):
    statuses = run(given(*history), at(on))
    assert_subset(table(statuses), expected)
    assert rejected(statuses) == not_counted


@pytest.mark.parametrize("on, history, expected", [
    pytest.param("5y", [], {"MR-1": "overdue", "MR-2": "missed"},  # no time left for MR-2
                 id="mr-last-day"),
    pytest.param("5y+1d", [], {"MR-1": "missed", "MR-2": "missed"}, id="mr-after-max-age"),
    pytest.param("1y", [], {"BCG-1": "overdue"}, id="bcg-first-birthday"),
    pytest.param("1y+1d", [], {"BCG-1": "missed"}, id="bcg-after-first-birthday"),
    pytest.param("13m", [("BCG", "1y+20d")], {"BCG-1": "done"}, id="late-dose-still-counts"),
    pytest.param("7y+1d", [("DPT", "16m")], {"DTP-5": "missed"}, id="booster-age-passed"),
])
def test_max_age_passed(on, history, expected):
    assert_subset(table(run(given(*history), at(on))), expected)


@pytest.mark.parametrize("on, history, expected", [
    pytest.param("0d", [], {"HepB-1": "due"}, id="birth-day"),
    pytest.param("1d", [], {"HepB-1": "due"}, id="within-24h"),
    pytest.param("2d", [], {"HepB-1": "missed"}, id="after-24h-missed"),
    pytest.param("2d", [("HepB", "1d")], {"HepB-1": "done"}, id="given-next-day"),
    pytest.param("6w", [("PENTA", "6w")], {"HepB-1": "missed", "HepB-2": "done"},
                 id="birth-dose-never-given-penta-counts"),
    pytest.param("6w", [("OPV", "6w")], {"OPV-1": "missed", "OPV-2": "done"},
                 id="opv0-past-15-days-opv-is-opv1"),
    pytest.param("6w", [("OPV", "12d"), ("OPV", "6w")], {"OPV-1": "done", "OPV-2": "done"},
                 id="opv0-within-15-days"),
])
def test_birth_doses(on, history, expected):
    statuses = run(given(*history), at(on))
    assert_subset(table(statuses), expected)
    assert rejected(statuses) == []


# --- grace and intervals ----------------------------------------------------------------

@pytest.mark.parametrize("history, on, expected, not_counted", [
    pytest.param([("PENTA", "6w-4d")], "6w", {"DTP-1": "done", "Hib-1": "done"}, [],
                 id="4-days-early-counts"),
    pytest.param([("PENTA", "6w-5d")], "6w", {"DTP-1": "due", "Hib-1": "due", "HepB-2": "due"},
                 [("HepB-2", "PENTA"), ("DTP-1", "PENTA"), ("Hib-1", "PENTA")],
                 id="5-days-early-not-counted-due-again"),
    pytest.param([("PENTA", "6w"), ("PENTA", "10w-4d")], "10w",
                 {"DTP-2": "done", "DTP-3": "upcoming"}, [], id="interval-within-grace"),
    pytest.param([("PENTA", "6w"), ("PENTA", "10w-5d")], "10w",
                 {"DTP-2": "due", "DTP-3": "upcoming"},
                 [("HepB-3", "PENTA"), ("DTP-2", "PENTA"), ("Hib-2", "PENTA")],
                 id="interval-outside-grace"),
    pytest.param([("PENTA", "6w"), ("PENTA", "7w")], "10w", {"DTP-1": "done", "DTP-2": "due"},
                 [("HepB-3", "PENTA"), ("DTP-2", "PENTA"), ("Hib-2", "PENTA")],
                 id="too-short-interval"),
    pytest.param([("PENTA", "6w"), ("PENTA", "6w")], "6w", {"DTP-1": "done",
                                                            "DTP-2": "upcoming"},
                 [("HepB-3", "PENTA"), ("DTP-2", "PENTA"), ("Hib-2", "PENTA")],
                 id="same-day-duplicate"),
])
def test_grace_and_intervals(history, on, expected, not_counted):
    statuses = run(given(*history), at(on))
    assert_subset(table(statuses), expected)
    assert rejected(statuses) == not_counted


def test_not_counted_dose_stays_pending_with_its_record():
    statuses = [s for s in run(given(("PENTA", "6w-5d")), at("6w")) if s.schedule == "DTP"]
    assert [(s.dose, s.status) for s in statuses[:2]] == [(1, "not_counted"), (1, "due")]
    assert statuses[0].given.day == at("6w-5d")
    assert statuses[1].given is None
    assert (statuses[1].earliest, statuses[1].due) == (at("6w"), at("6w"))


def test_interval_counts_from_the_previous_counted_dose():
    # PENTA-2 too early at 7w: DTP-2's window still counts from DTP-1 at 6w.
    statuses = run(given(("PENTA", "6w"), ("PENTA", "7w")), at("9w"))
    dtp2 = one(statuses, "DTP-2")
    assert (dtp2.earliest, dtp2.due, dtp2.status) == (at("10w"), at("10w"), "upcoming")


@pytest.mark.parametrize("on, status", [
    pytest.param("6w-1d", "upcoming", id="day-before-earliest"),
    pytest.param("6w", "due", id="due-day"),
    pytest.param("10w-1d", "due", id="last-day-before-overdue"),
    pytest.param("10w", "overdue", id="overdue-after-4w"),
])
def test_overdue_after_boundary(on, status):
    assert one(run([], at(on)), "DTP-1").status == status


# --- products ----------------------------------------------------------------------------

def test_interchangeable_products_count_in_one_series():
    history = given(("ROTAVAC", "6w"), ("ROTASIIL", "10w"), ("ROTAVAC", "14w"))
    assert_subset(table(run(history, at("15w"))),
                  {"ROTA-1": "done", "ROTA-2": "done", "ROTA-3": "done"})


def test_one_combination_dose_counts_in_every_series_it_covers():
    penta = Given("PENTA", at("6w"), ref="dose-17")
    statuses = run([penta], at("6w"))
    counted = {f"{s.schedule}-{s.dose}" for s in statuses if s.given is penta}
    assert counted == {"HepB-2", "DTP-1", "Hib-1"}
    assert all(s.status == "done" for s in statuses if s.given is penta)
    assert one(statuses, "OPV-2").status == "due"          # not an OPV dose


@pytest.mark.parametrize("history, on, expected, not_counted", [
    pytest.param([("PENTA", "6w"), ("PENTA", "10w"), ("PENTA", "14w"), ("DPT", "16m")], "16m",
                 {"DTP-3": "done", "DTP-4": "done", "DTP-5": "upcoming"}, [],
                 id="booster-with-its-own-product"),
    pytest.param([("PENTA", "6w"), ("PENTA", "10w"), ("PENTA", "14w"), ("PENTA", "16m")],
                 "16m", {"DTP-4": "due"}, [("DTP-4", "PENTA")],
                 id="booster-with-primary-product-not-counted"),
    pytest.param([("DPT", "6w")], "6w", {"DTP-1": "due", "DTP-4": "upcoming"},
                 [("DTP-1", "DPT")], id="booster-product-too-early-for-primary"),
])
def test_dose_specific_products(history, on, expected, not_counted):
    statuses = run(given(*history), at(on))
    assert_subset(table(statuses), expected)
    assert [r for r in rejected(statuses) if r[0].startswith("DTP")] == not_counted


# --- doses a late start makes unnecessary ------------------------------------------------

@pytest.mark.parametrize("history, on, expected", [
    pytest.param([("PENTA", "11m")], "11m", {"Hib-1": "done", "Hib-2": "upcoming",
                                             "Hib-3": "upcoming"}, id="started-before-12m"),
    pytest.param([("PENTA", "12m")], "12m", {"Hib-1": "done", "Hib-2": "not_needed",
                                             "Hib-3": "not_needed"}, id="started-at-12m"),
    pytest.param([], "13m", {"Hib-1": "overdue", "Hib-2": "not_needed",
                             "Hib-3": "not_needed"}, id="not-started-by-13m"),
    pytest.param([], "11m", {"Hib-1": "overdue", "Hib-2": "upcoming"}, id="not-started-11m"),
])
def test_not_needed_if_started_after(history, on, expected):
    statuses = run(given(*history), at(on))
    assert_subset(table(statuses), expected)
    hib2 = one(statuses, "Hib-2")
    if hib2.status == "not_needed":
        assert (hib2.earliest, hib2.due, hib2.latest) == (None, None, None)


# --- pregnancy schedules -----------------------------------------------------------------

MOTHER = date(1998, 7, 15)
P1 = Pregnancy(date(2024, 3, 1), end=date(2024, 10, 20), ref="p1")
P2_SOON = Pregnancy(date(2026, 1, 10), ref="p2")       # within 3 years of P1's doses
P2_LATE = Pregnancy(date(2027, 4, 1), ref="p2")        # more than 3 years after them
TD1, TD2 = Given("Td", date(2024, 3, 1)), Given("Td", date(2024, 3, 29))


def td(history, on, pregnancies):
    statuses = run(history, on, schedules=TD, birth=MOTHER, pregnancies=pregnancies)
    return [(s.pregnancy.ref, s.dose, s.status) for s in statuses]


@pytest.mark.parametrize("history, on, pregnancies, expected", [
    pytest.param([], date(2024, 3, 1), [P1],
                 [("p1", 1, "due"), ("p1", 2, "upcoming"), ("p1", 3, "not_needed")],
                 id="td1-at-registration"),
    pytest.param([TD1], date(2024, 3, 28), [P1],
                 [("p1", 1, "done"), ("p1", 2, "upcoming"), ("p1", 3, "not_needed")],
                 id="td2-not-before-4-weeks"),
    pytest.param([TD1], date(2024, 3, 29), [P1],
                 [("p1", 1, "done"), ("p1", 2, "due"), ("p1", 3, "not_needed")],
                 id="td2-4-weeks-later"),
    pytest.param([TD1], date(2024, 11, 1), [P1],
                 [("p1", 1, "done"), ("p1", 2, "missed"), ("p1", 3, "not_needed")],
                 id="pregnancy-ended-without-td2"),
    pytest.param([TD1, TD2], date(2026, 1, 10), [P1, P2_SOON],
                 [("p1", 1, "done"), ("p1", 2, "done"), ("p1", 3, "not_needed"),
                  ("p2", 1, "not_needed"), ("p2", 2, "not_needed"), ("p2", 3, "due")],
                 id="booster-only-within-3-years"),
    pytest.param([TD1, TD2, Given("Td", date(2026, 2, 1))], date(2026, 2, 1), [P1, P2_SOON],
                 [("p1", 1, "done"), ("p1", 2, "done"), ("p1", 3, "not_needed"),
                  ("p2", 1, "not_needed"), ("p2", 2, "not_needed"), ("p2", 3, "done")],
                 id="booster-given"),
    pytest.param([TD1, TD2], date(2027, 4, 1), [P1, P2_LATE],
                 [("p1", 1, "done"), ("p1", 2, "done"), ("p1", 3, "not_needed"),
                  ("p2", 1, "due"), ("p2", 2, "upcoming"), ("p2", 3, "not_needed")],
                 id="second-pregnancy-after-3-years-full-series"),
    pytest.param([TD1], date(2026, 1, 10), [P1, P2_SOON],
                 [("p1", 1, "done"), ("p1", 2, "missed"), ("p1", 3, "not_needed"),
                  ("p2", 1, "due"), ("p2", 2, "upcoming"), ("p2", 3, "not_needed")],
                 id="incomplete-prior-series-full-series"),
    pytest.param([], date(2024, 2, 1), [P1], [], id="pregnancy-after-the-day-ignored"),
])
def test_pregnancy_schedules(history, on, pregnancies, expected):
    assert td(history, on, pregnancies) == expected


def test_pregnancy_doses_are_timed_from_the_pregnancy():
    statuses = run([TD1], date(2024, 3, 10), schedules=TD, birth=MOTHER, pregnancies=[P1])
    td1, td2 = statuses[0], statuses[1]
    assert td1.pregnancy is P1 and td1.given is TD1
    assert (td1.earliest, td1.due) == (P1.start, P1.start)
    assert (td2.earliest, td2.due, td2.latest) == (date(2024, 3, 29), date(2024, 3, 29), P1.end)


def test_open_pregnancy_ends_when_the_next_begins():
    first = Pregnancy(date(2020, 1, 1), ref="a")              # outcome never recorded
    second = Pregnancy(date(2024, 6, 1), ref="b")
    statuses = run([Given("TT", date(2024, 6, 2))], date(2024, 6, 2), schedules=TD,
                   birth=MOTHER, pregnancies=[second, first])
    assert [(s.pregnancy.ref, s.dose, s.status) for s in statuses] == [
        ("a", 1, "missed"), ("a", 2, "missed"), ("a", 3, "not_needed"),
        ("b", 1, "done"), ("b", 2, "upcoming"), ("b", 3, "not_needed")]
    assert statuses[0].latest == date(2024, 5, 31)


def test_no_pregnancy_no_pregnancy_doses():
    assert run([Given("Td", date(2024, 1, 1))], date(2024, 6, 1), schedules=UIP,
               birth=MOTHER) == run([Given("Td", date(2024, 1, 1))], date(2024, 6, 1),
                                    schedules=CHILD, birth=MOTHER)


# --- calendar arithmetic -----------------------------------------------------------------

@pytest.mark.parametrize("birth, key, history, expected_due", [
    pytest.param(date(2023, 5, 31), "MR-1", [], date(2024, 2, 29), id="9m-from-31-may-leap"),
    pytest.param(date(2024, 5, 31), "MR-1", [], date(2025, 2, 28), id="9m-from-31-may"),
    pytest.param(date(2024, 1, 31), "DTP-4", [], date(2025, 5, 31), id="16m-from-31-jan"),
    pytest.param(date(2024, 2, 29), "BCG-1", [], date(2024, 2, 29), id="birth-dose-leap-day"),
])
def test_month_end_calendar(birth, key, history, expected_due):
    statuses = run(given(*history, birth=birth), date(2024, 9, 1), birth=birth)
    assert one(statuses, key).due == expected_due


@pytest.mark.parametrize("first, expected", [
    pytest.param(date(2024, 8, 31), date(2025, 2, 28), id="31-aug-to-28-feb"),
    pytest.param(date(2023, 8, 31), date(2024, 2, 29), id="31-aug-to-29-feb-leap"),
    pytest.param(date(2024, 3, 31), date(2024, 9, 30), id="31-mar-to-30-sep"),
])
def test_month_interval_is_calendar(first, expected):
    rule = schedule_rule(row("HPV", ["HPV"], [{"number": 1, "age": "9y"},
                                              {"number": 2, "min_interval": "6m"}]))
    statuses = run([Given("HPV", first)], first, schedules=[rule], birth=date(2014, 1, 1))
    assert (statuses[1].earliest, statuses[1].due) == (expected, expected)


def test_max_age_in_years_is_calendar():
    birth = date(2020, 2, 29)
    statuses = run([], date(2025, 3, 1), birth=birth)
    assert one(statuses, "MR-1").latest == date(2025, 2, 28)
    assert one(statuses, "MR-1").status == "missed"


# --- reading schedule rows ---------------------------------------------------------------

def test_schedule_rule_reads_pack_durations():
    rule = next(s for s in UIP if s.code == "DTP")
    assert rule.products == ("PENTA", "DPT") and rule.timed_from == "birth"
    assert rule.doses[3] == DoseRule(4, age=Duration(16, "m"), min_age=None,
                                     min_interval=Duration(6, "m"), products=("DPT",),
                                     booster=True)
    rota = next(s for s in UIP if s.code == "ROTA")
    assert rota.start_max_age == Duration(1, "y")
    td_rule = TD[0]
    assert (td_rule.timed_from, td_rule.prior_series_within) == ("pregnancy", Duration(3, "y"))


@pytest.mark.parametrize("source, expected", [
    pytest.param(
        SimpleNamespace(code="COVISHIELD-COVAXIN", products=["COVISHIELD", "COVAXIN"],
                        doses=[{}, {"min_interval_days": 28, "max_interval_days": 112},
                               {"booster": True}], min_age=18, max_age=None),
        ScheduleRule("COVISHIELD-COVAXIN", ("COVISHIELD", "COVAXIN"), doses=(
            DoseRule(1, min_age=Duration(18, "y")),
            DoseRule(2, min_age=Duration(18, "y"), min_interval=Duration(28, "d"),
                     max_interval=Duration(112, "d")),
            DoseRule(3, min_age=Duration(18, "y"), booster=True))),
        id="old-covid-schedule"),
    pytest.param(
        SimpleNamespace(code="CORBEVAX", products=["CORBEVAX"], doses=[{}], min_age=12,
                        max_age=17),
        ScheduleRule("CORBEVAX", ("CORBEVAX",), start_max_age=Duration(18, "y"),
                     doses=(DoseRule(1, min_age=Duration(12, "y")),)),
        id="old-whole-year-max-age"),
    pytest.param(
        # as the installer stores it: the duration and its approximate days for old flows
        SimpleNamespace(code="X", products=["X"], routine=True, timed_from=None,
                        options=None, min_age=0, max_age=5,
                        doses=[{"number": 2, "min_interval": "6m", "min_interval_days": 183},
                               {"number": 1, "age": "9m", "grace": "2d"}]),
        ScheduleRule("X", ("X",), doses=(
            DoseRule(1, age=Duration(9, "m"), grace=Duration(2, "d")),
            DoseRule(2, min_interval=Duration(6, "m")))),
        id="routine-durations-win-sorted-by-number"),
    pytest.param(SimpleNamespace(code="BARE"), ScheduleRule("BARE", ()), id="bare-row"),
    pytest.param({"code": "M", "products": ["M"], "doses": [{"age": 1}],
                  "options": {"grace": "4d", "min_age": "6w"}},
                 ScheduleRule("M", ("M",), grace=Duration(4, "d"),
                              doses=(DoseRule(1, age=Duration(1, "y")),)),
                 id="mapping-row"),
])
def test_schedule_rule_rows(source, expected):
    assert schedule_rule(source) == expected


def test_evaluate_reads_rows_too():
    assert run([], at("6w"), schedules=ROWS[:4]) == run([], at("6w"), schedules=UIP[:4])


def test_old_covid_schedule_evaluates():
    covid = schedule_rule(SimpleNamespace(
        code="C", products=["COVISHIELD"], min_age=18, max_age=None,
        doses=[{}, {"min_interval_days": 84, "max_interval_days": 112}]))
    born = date(1990, 6, 1)
    history = [Given("COVISHIELD", date(2021, 5, 1))]
    statuses = evaluate([covid], birth_date=born, history=history, on=date(2021, 8, 1),
                        overdue_after=W4)
    assert [(s.dose, s.status) for s in statuses] == [(1, "done"), (2, "due")]
    assert (statuses[1].earliest, statuses[1].latest) == (date(2021, 7, 24), date(2021, 8, 21))


# --- order, records after the day, helpers -----------------------------------------------

def test_order_is_schedule_then_dose():
    statuses = run(given(("PENTA", "6w-6d")), at("6w"), schedules=UIP)
    keys = [(s.schedule, s.dose) for s in statuses]
    order = [s.code for s in CHILD]
    assert keys == sorted(keys, key=lambda k: (order.index(k[0]), k[1]))
    assert [s.status for s in statuses if s.schedule == "Hib"][:2] == ["not_counted", "due"]


def test_records_after_the_day_are_ignored():
    assert run(given(("BCG", "3d")), at("1d")) == run([], at("1d"))


def test_extra_doses_after_the_series_are_ignored():
    statuses = run(given(("BCG", "0d"), ("BCG", "2m")), at("3m"))
    assert [(s.dose, s.status) for s in statuses if s.schedule == "BCG"] == [(1, "done")]


@pytest.mark.parametrize("birth_offset, history, expected", [
    pytest.param("10w", [], True, id="10w-nothing-given"),
    pytest.param("10w-1d", [], False, id="younger-than-10w"),
    pytest.param("6m", [("BCG", "0d")], False, id="birth-dose-given"),
    pytest.param("6m", [("PENTA", "2m")], False, id="any-dose-even-not-counted"),
    pytest.param("6m", [("BCG", "7m")], True, id="later-record-ignored"),
])
def test_zero_dose(birth_offset, history, expected):
    on = at(birth_offset)
    records = given(*history)
    assert is_zero_dose(records, BIRTH, on, parse("10w")) is expected
    statuses = run(records, on)
    assert is_zero_dose(statuses, BIRTH, on, parse("10w")) is expected


def test_next_due_summary_and_urgency():
    statuses = run(given(*BIRTH_DOSES, ("PENTA", "6w-9d")), at("10w+2d"))
    due = next_due(statuses)
    assert {s.status for s in due} <= {"due", "overdue"} and due
    counts = summary(statuses)
    assert list(counts) == list(STATUSES)
    assert sum(counts.values()) == len(statuses)
    assert counts["not_counted"] == 3 and counts["done"] == 3
    ordered = urgent_first(statuses)
    assert sorted(map(id, ordered)) == sorted(map(id, statuses))
    ranks = [("overdue", "due", "upcoming", "not_counted", "missed", "done",
              "not_needed").index(s.status) for s in ordered]
    assert ranks == sorted(ranks)
    overdue = [s for s in ordered if s.status == "overdue"]
    assert [s.due for s in overdue] == sorted(s.due for s in overdue)


# --- whom a schedule is for: sex and areas -----------------------------------------------
# HPV for girls only (India's HPV programme: one dose for girls of 14) and JE in endemic
# districts only; the area codes are a person's location and its ancestors.

SCOPED = [schedule_rule(r) for r in (
    row("HPV", ["HPV"], [{"number": 1, "age": "14y", "max_age": "15y"}],
        options={"sex": ["F"]}),
    row("JE", ["JE"], [{"number": 1, "age": "9m"},
                       {"number": 2, "age": "16m", "min_interval": "4w"}],
        options={"areas": ["IN-AS", "IN-KL-ALP"]}),
    row("JE-F", ["JE"], [{"number": 1, "age": "9m"}],
        options={"sex": ["F", "T"], "areas": ["IN-KL"]}),
    row("MR", ["MR"], [{"number": 1, "age": "9m"}]),
)]


@pytest.mark.parametrize("sex, area_codes, expected", [
    pytest.param(None, None, {"HPV", "JE", "JE-F", "MR"}, id="not-given-no-filter"),
    pytest.param("F", None, {"HPV", "JE", "JE-F", "MR"}, id="girl-area-unknown"),
    pytest.param("M", None, {"JE", "MR"}, id="boy-area-unknown"),
    pytest.param("T", None, {"JE", "JE-F", "MR"}, id="other-gender-listed"),
    pytest.param(None, ("IN-AS-DIB", "IN-AS"), {"HPV", "JE", "MR"}, id="within-a-state"),
    pytest.param(None, ("IN-KL-ALP", "IN-KL"), {"HPV", "JE", "JE-F", "MR"},
                 id="listed-district"),
    pytest.param(None, ("IN-KL-TVM", "IN-KL"), {"HPV", "JE-F", "MR"},
                 id="other-district-same-state"),
    pytest.param(None, ("IN-DL-ND", "IN-DL"), {"HPV", "MR"}, id="outside-every-area"),
    pytest.param(None, (), {"HPV", "MR"}, id="no-location"),
    pytest.param("M", ("IN-KL-ALP", "IN-KL"), {"JE", "MR"}, id="boy-in-a-listed-district"),
    pytest.param("F", ("IN-KL-ALP", "IN-KL"), {"HPV", "JE", "JE-F", "MR"}, id="girl-there"),
    pytest.param("", ("IN-DL",), {"MR"}, id="empty-sex-is-a-value"),
])
def test_schedules_limited_to_a_sex_or_areas(sex, area_codes, expected):
    statuses = evaluate(SCOPED, birth_date=BIRTH, history=[], on=at("14y"),
                        overdue_after=W4, sex=sex, area_codes=area_codes)
    assert {s.schedule for s in statuses} == expected


def test_a_skipped_schedule_leaves_the_others_unchanged():
    """A JE dose of a child outside the JE areas is not shown; the MR series and its
    statuses are what they are without the filter."""
    history = given(("JE", "9m"), ("MR", "9m"))
    everywhere = evaluate(SCOPED, birth_date=BIRTH, history=history, on=at("10m"),
                          overdue_after=W4)
    elsewhere = evaluate(SCOPED, birth_date=BIRTH, history=history, on=at("10m"),
                         overdue_after=W4, sex="M", area_codes=["IN-DL"])
    assert [s for s in everywhere if s.schedule == "MR"] == elsewhere
    assert table(elsewhere) == {"MR-1": "done"}
    assert table(everywhere)["JE-1"] == "done"


@pytest.mark.parametrize("options, expected", [
    ({}, ((), ())),
    ({"sex": ["F"]}, (("F",), ())),
    ({"areas": ["IN-AS", "IN-KL-ALP"], "start_max_age": "1y"},
     ((), ("IN-AS", "IN-KL-ALP"))),
])
def test_schedule_rule_reads_sex_and_areas(options, expected):
    rule = schedule_rule(row("X", ["X"], [{"number": 1, "age": "0d"}], options=options))
    assert (rule.sex, rule.areas) == expected
