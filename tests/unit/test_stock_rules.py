"""Stock's pure rules, table-driven: whether a lot may be given, whether an open vial may
still be drawn from, days of stock, wastage rate, near expiry, lot numbers and store
codes; and the pack's product stock facts (vaccines.yaml products[].stock) validated with
FILE:LINE messages."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta, timezone

import pytest

from cowin_kit.config.packs import validate_pack
from cowin_kit.stock import rules

from conftest import EXAMPLES

DAY = date(2026, 12, 6)


@pytest.mark.parametrize("expires_on,status,vvm,day,expected", [
    (DAY, "active", None, DAY, None),                      # usable on its expiry day
    (DAY - timedelta(days=1), "active", None, DAY, "lot_expired"),
    (DAY + timedelta(days=300), "recalled", None, DAY, "lot_recalled"),
    (DAY - timedelta(days=1), "recalled", None, DAY, "lot_recalled"),  # recall first
    (DAY + timedelta(days=300), "active", 2, DAY, None),
    (DAY + timedelta(days=300), "active", 3, DAY, "lot_vvm_discard"),
    (DAY + timedelta(days=300), "active", 4, DAY, "lot_vvm_discard"),
])
def test_lot_refusal(expires_on, status, vvm, day, expected):
    assert rules.lot_refusal(expires_on=expires_on, status=status, vvm_stage=vvm,
                             day=day) == expected


OPENED = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("policy,now,day,usable", [
    (rules.VialPolicy(10, 28, False), OPENED + timedelta(days=27), DAY, True),
    (rules.VialPolicy(10, 28, False), OPENED + timedelta(days=28), DAY, False),
    (rules.VialPolicy(10, None, True), OPENED + timedelta(hours=3), date(2026, 12, 1), True),
    (rules.VialPolicy(10, None, True), OPENED + timedelta(days=1), date(2026, 12, 2), False),
    (rules.VialPolicy(10, None, False), OPENED, date(2026, 12, 1), True),  # no policy: day
    (rules.VialPolicy(10, None, False), OPENED, date(2026, 12, 2), False),
    (rules.VialPolicy(1, 28, False), OPENED, date(2026, 12, 1), False),   # single dose
])
def test_vial_usable(policy, now, day, usable):
    assert rules.vial_usable(policy, opened_at=OPENED, opened_on=date(2026, 12, 1), now=now,
                             day=day) is usable


@pytest.mark.parametrize("facts,per_lot,expected", [
    (None, None, rules.VialPolicy(1, None, False)),
    ({"doses_per_vial": 10, "open_vial_days": 28}, None, rules.VialPolicy(10, 28, False)),
    ({"doses_per_vial": 10, "discard_at_session_end": True}, 20,
     rules.VialPolicy(20, None, True)),
])
def test_policy_of_product_facts(facts, per_lot, expected):
    assert rules.VialPolicy.of(facts, per_lot) == expected


@pytest.mark.parametrize("on_hand,used,days,expected", [
    (100, 28, 28, 100.0), (0, 28, 28, 0.0), (-3, 28, 28, 0.0), (50, 0, 28, None),
    (10, 7, 28, 40.0),
])
def test_days_of_stock(on_hand, used, days, expected):
    assert rules.days_of_stock(on_hand, used, days) == expected


@pytest.mark.parametrize("given,wasted,expected", [
    (90, 10, 10.0), (0, 0, None), (0, 5, 100.0), (3, 1, 25.0)])
def test_wastage_rate(given, wasted, expected):
    assert rules.wastage_rate(given, wasted) == expected


@pytest.mark.parametrize("expires_on,expected", [
    (DAY, True), (DAY + timedelta(days=30), True), (DAY + timedelta(days=31), False),
    (DAY - timedelta(days=1), False)])
def test_near_expiry(expires_on, expected):
    assert rules.near_expiry(expires_on, DAY, 30) is expected


def test_lot_numbers_and_store_codes():
    assert rules.normalise_lot("  4121z 005 ") == "4121z 005"
    assert rules.lot_key(" 4121z   005") == "4121Z 005"
    assert rules.parse_store_code("national") == ("national", None)
    assert rules.parse_store_code("area:IN-KL") == ("area", "IN-KL")
    assert rules.parse_store_code("facility: F-1 ") == ("facility", "F-1")
    for bad in ("", "area:", "shop:X", "IN-KL"):
        with pytest.raises(ValueError):
            rules.parse_store_code(bad)
    assert rules.store_code("area", "IN-KL") == "area:IN-KL"


def _pack(tmp_path, stock_text):
    target = tmp_path / "pack"
    shutil.copytree(EXAMPLES / "in", target)
    path = target / "vaccines.yaml"
    text = path.read_text(encoding="utf-8")
    marker = "    stock: {doses_per_vial: 10, open_vial_days: 28}\n"
    index = text.index(marker)
    path.write_text(text[:index] + stock_text + text[index + len(marker):], encoding="utf-8")
    line = text[:index].count("\n") + 1
    return target, line


@pytest.mark.parametrize("stock_text,message", [
    ("    stock: {doses_per_vial: 10}\n",
     "a multi-dose vial needs its open-vial policy"),
    ("    stock: {doses_per_vial: 10, open_vial_days: 28, discard_at_session_end: true}\n",
     "give open_vial_days or discard_at_session_end, not both"),
    ("    stock: {doses_per_vial: 0, open_vial_days: 28}\n",
     "Must be greater than or equal to 1"),
    ("    stock: {doses_per_vial: 10, open_vial_days: 90}\n", "less than or equal to 28"),
])
def test_product_stock_facts_are_validated(tmp_path, stock_text, message):
    pack, line = _pack(tmp_path, stock_text)
    problems = [str(p) for p in validate_pack(pack)]
    assert any(f"vaccines.yaml:{line}:" in p and message in p for p in problems), problems


def test_single_dose_product_needs_no_policy(tmp_path):
    pack, _line = _pack(tmp_path, "    stock: {doses_per_vial: 1}\n")
    assert validate_pack(pack) == []
