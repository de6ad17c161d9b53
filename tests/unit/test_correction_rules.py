"""The pure rules of corrections: names in any script, sound-alike skeletons, Jaro-Winkler
against published values, blocking keys that let near-duplicates meet, the score, a
merge's dose plan, service-level ages."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from cowin_kit.corrections import rules


@pytest.mark.parametrize("name, tokens", [
    ("Asha  Devi", ("asha", "devi")),
    ("Dr. Ravi-Kumar", ("kumar", "ravi")),
    ("Baby of Meena", ("meena",)),
    ("Baby", ("baby",)),                       # only noise words: kept
    ("आशा देवी", ("asa", "devi")),                # Devanagari, transliterated
    ("Ｒａｊ", ("raj",)),                          # full-width letters
])
def test_name_tokens(name, tokens):
    assert rules.name_tokens(name) == tokens


@pytest.mark.parametrize("a, b", [
    ("mohammed", "muhamad"), ("priya", "pria"), ("lakshmi", "laxmi"), ("philip", "filip"),
])
def test_sound_alike_words_share_a_skeleton(a, b):
    assert rules.skeleton(a) == rules.skeleton(b)


@pytest.mark.parametrize("a, b", [("asha", "usha"), ("ravi", "rani"), ("john", "jack")])
def test_different_words_keep_different_skeletons(a, b):
    assert rules.skeleton(a) != rules.skeleton(b)


@pytest.mark.parametrize("a, b, expected", [
    # Winkler (1990) / the values usually quoted for his examples
    ("martha", "marhta", 0.961), ("dwayne", "duane", 0.840), ("dixon", "dicksonx", 0.813),
    ("abc", "abc", 1.0), ("abc", "xyz", 0.0), ("", "", 0.0),
])
def test_jaro_winkler(a, b, expected):
    assert rules.jaro_winkler(a, b) == pytest.approx(expected, abs=0.001)


@pytest.mark.parametrize("a, b, low, high", [
    ("Priya Sharma", "Sharma Priya", 0.99, 1.0),       # order does not matter
    ("Mohammed Rafi", "Muhamad Rafi", 0.85, 0.95),
    ("Lakshmi Priya", "Laxmi Priyaa", 0.85, 0.95),
    ("Asha Devi", "Asha", 0.85, 0.97),                  # a word missing
    ("Anjali Menon", "Mohammed Rafi", 0.0, 0.65),
])
def test_name_similarity(a, b, low, high):
    value = rules.name_similarity(rules.name_tokens(a), rules.name_tokens(b))
    assert low <= value <= high


def facts(pid, name, year=1990, day=None, gender=1, account=None, guardian=None,
          id_type=None, id_hash=None):
    return rules.PersonFacts(pid, name, year, day, gender, account, guardian, id_type, id_hash)


@pytest.mark.parametrize("a, b, meet", [
    (facts(1, "Mohammed Rafi", 1990), facts(2, "Muhamad Rafi", 1990), True),
    (facts(1, "Mohammed Rafi", 1990), facts(2, "Rafi Muhamad", 1991), True),   # a year apart
    (facts(1, "Mohammed Rafi", 1990), facts(2, "Muhamad Rafi", 1992), False),
    (facts(1, "Lakshmi P", 2021, date(2021, 3, 4)), facts(2, "Lashmi Priya", 2021,
                                                           date(2021, 3, 4)), True),
    (facts(1, "Asha Devi", 1980), facts(2, "Usha Rani", 1980), False),
])
def test_blocking_keys_let_near_duplicates_meet(a, b, meet):
    assert bool(rules.match_keys(a) & rules.match_keys(b)) is meet


def test_score_and_reasons():
    day = date(2022, 5, 1)
    same = rules.score(facts(1, "Laxmi Priya", 2022, day, account=7, guardian="Meena K"),
                       facts(2, "Lakshmi Priya", 2022, day, account=7, guardian="Meena Kumari"))
    assert same.score >= 0.9
    assert {"similar_name", "same_birth_date", "same_sex", "same_mobile"} <= set(same.reasons)
    siblings = rules.score(facts(1, "Anjali Menon", 2022, day, account=7, guardian="Meena"),
                           facts(2, "Arun Menon", 2022, day, account=7, guardian="Meena"))
    assert siblings.score < rules.THRESHOLD
    two_documents = rules.score(facts(1, "Asha Devi", id_type=1, id_hash="a"),
                                facts(2, "Asha Devi", id_type=1, id_hash="b"))
    assert two_documents == rules.Match(0.0, ("different_id",))
    year_typed_wrong = rules.score(facts(1, "Asha Devi", 1990, date(1990, 3, 4)),
                                   facts(2, "Asha Devi", 1991, date(1991, 3, 4)))
    assert "birth_date_year_off" in year_typed_wrong.reasons
    assert year_typed_wrong.score >= rules.THRESHOLD
    swapped = rules.score(facts(1, "Asha Devi", 1990, date(1990, 3, 4)),
                          facts(2, "Asha Devi", 1990, date(1990, 4, 3)))
    assert "birth_date_day_month_swapped" in swapped.reasons
    # a common name and a year of birth, with different full dates: not enough
    namesakes = rules.score(facts(1, "Rahul Kumar", 1990, date(1990, 3, 4)),
                            facts(2, "Rahul Kumar", 1990, date(1990, 9, 21)))
    assert namesakes.score < rules.THRESHOLD
    assert rules.score(facts(1, "Rahul Kumar", 1990, date(1990, 3, 4), account=3),
                       facts(2, "Rahul Kumar", 1990, date(1990, 9, 21), account=3)
                       ).score >= rules.THRESHOLD   # ... but with the same mobile it is
    day_typed_wrong = rules.score(facts(1, "Asha Devi", 1990, date(1990, 3, 14)),
                                  facts(2, "Asha Devi", 1990, date(1990, 3, 17)))
    assert "close_birth_date" in day_typed_wrong.reasons
    assert day_typed_wrong.score >= rules.THRESHOLD
    other_sex = rules.score(facts(1, "Asha Devi", gender=1), facts(2, "Asha Devi", gender=2))
    assert other_sex.score < rules.score(facts(1, "Asha Devi"), facts(2, "Asha Devi")).score


def at(days):
    return datetime(2024, 1, 1, 10, tzinfo=timezone.utc) + timedelta(days=days)


def dose(did, number, days, series="", product=1):
    return rules.DoseRow(did, series, number, product, at(days))


@pytest.mark.parametrize("kept, merged, numbers, aside", [
    # the same dose on both records: kept once; the other record's dose 2 follows
    ([dose(1, 1, 0)], [dose(2, 1, 0), dose(3, 2, 90)], {1: 1, 3: 2}, (2,)),
    # doses interleave by date; each series numbered on its own
    ([dose(1, 1, 0), dose(4, 1, 5, "BCG", 2)], [dose(2, 1, 30)], {1: 1, 2: 2, 4: 1}, ()),
    # the same day but another product is another dose
    ([dose(1, 1, 0)], [dose(2, 1, 0, product=9)], {1: 1, 2: 2}, ()),
    ([], [dose(2, 2, 10), dose(3, 1, 0)], {3: 1, 2: 2}, ()),
])
def test_plan_merge_keeps_every_dose_once(kept, merged, numbers, aside):
    plan = rules.plan_merge(kept, merged)
    assert plan.numbers == numbers and plan.set_aside == aside
    every = {d.id for d in kept + merged}
    assert set(plan.numbers) | set(plan.set_aside) == every
    assert not set(plan.numbers) & set(plan.set_aside)


@pytest.mark.parametrize("hours, within, days, overdue", [
    (1, 7, 0, False), (24 * 7, 7, 7, False), (24 * 8 + 1, 7, 8, True),
    (24 * 3 + 1, 2, 3, True), (24 * 3 + 1, 3, 3, False), (24 * 20, 30, 20, False)])
def test_ages(hours, within, days, overdue):
    since = at(0)
    now = since + timedelta(hours=hours)
    assert rules.age_days(since, now) == days
    assert rules.overdue(since, now, within) is overdue
