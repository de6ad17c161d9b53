"""pack.yaml ``field: {wipe_after_days: N}`` (the field app's local data limit) and the
field sync's pure rules."""

from __future__ import annotations

import hashlib
import hmac
import shutil
from datetime import datetime, timezone

import pytest

from cowin_kit.config.packs import load_pack, validate_pack
from cowin_kit.config.runtime import ActivePack
from cowin_kit.fieldsync import rules
from cowin_kit.fieldsync.prepare import wipe_after_days
from cowin_kit.testing import example_pack


def _pack(tmp_path, section: str):
    target = tmp_path / "pack"
    shutil.copytree(example_pack("IN"), target)
    pack_yaml = target / "pack.yaml"
    pack_yaml.write_text(pack_yaml.read_text(encoding="utf-8") + "\n" + section + "\n",
                         encoding="utf-8")
    return target


@pytest.mark.parametrize("section, field, message", [
    ("field:\n  wipe_after_days: 0", "field.wipe_after_days", "greater than or equal to 1"),
    ("field:\n  wipe_after_days: 365", "field.wipe_after_days", "less than or equal to 90"),
    ("field:\n  wipe_after_days: soon", "field.wipe_after_days", "Not a valid integer"),
    ("field:\n  wipe_after: 3", "field.wipe_after", "nknown field"),
])
def test_pack_field_section_problems(tmp_path, section, field, message):
    problems = validate_pack(_pack(tmp_path, section))
    assert any(p.file == "pack.yaml" and p.field == field and message in p.message
               for p in problems), problems


def _active(document: dict) -> ActivePack:
    return ActivePack("IN", "1", "hash", document)


def test_wipe_after_days_defaults_to_seven_and_follows_the_pack(tmp_path):
    target = _pack(tmp_path, "field:\n  wipe_after_days: 3")
    assert validate_pack(target) == []
    loaded = load_pack(target)
    assert wipe_after_days(_active(loaded.document)) == 3
    assert wipe_after_days(_active({})) == rules.DEFAULT_WIPE_AFTER_DAYS == 7
    assert wipe_after_days(_active({"field": {}})) == 7


@pytest.mark.parametrize("code, conflict, retryable", [
    ("same_dose_other_device", True, False),
    ("dose_already_given", True, False),
    ("too_early", True, False),
    ("dose_too_early", True, False),
    ("person_registered_twice", True, False),
    ("id_already_registered", True, False),
    ("person_in_review", True, False),
    ("vaccine_not_found", False, False),
    ("invalid_input", False, False),
    ("forbidden", False, False),
    ("person_unknown", False, True),
    (None, False, False),
])
def test_which_refusals_go_to_review_and_which_may_be_sent_again(code, conflict, retryable):
    assert rules.is_conflict(code) is conflict
    assert rules.is_retryable(code) is retryable


def test_mobile_hash_is_hmac_sha256_of_the_e164_number_keyed_by_the_salt():
    salt = rules.new_salt()
    assert len(salt) >= 20 and salt != rules.new_salt()
    expected = hmac.new(salt.encode(), b"+919876543210", hashlib.sha256).hexdigest()
    assert rules.mobile_hash(salt, "+919876543210") == expected
    assert rules.mobile_hash(salt, "+919876543211") != expected
    assert rules.mobile_last4("+919876543210") == "3210"


@pytest.mark.parametrize("value, expected", [
    ("client:4f0c-11aa", "4f0c-11aa"), ("client:", None), ("ABCD1234", None),
    ("", None), (None, None), ("client: x ", "x"),
])
def test_client_references(value, expected):
    assert rules.client_reference(value) == expected


def test_masked_payload_keeps_no_id_number():
    kept, number = rules.masked_payload("register_person", {"name": "A",
                                                            "id_number": "234567890124"})
    assert number == "234567890124" and "id_number" not in kept
    assert kept["id_number_masked"] == "XXXXXXXX0124"
    kept, number = rules.masked_payload("record_dose", {"lot": "L1"})
    assert number is None and kept == {"lot": "L1"}


def test_cursors_round_trip_and_refuse_garbage():
    moment = datetime(2026, 5, 1, 10, 30, tzinfo=timezone.utc)
    assert rules.decode_cursor(rules.encode_cursor(moment, 42)) == (moment, 42)
    assert rules.decode_cursor(None) is None and rules.decode_cursor("") is None
    for bad in ("garbage!", rules.encode_cursor(moment, 1)[:-3] + "zzz"):
        with pytest.raises(ValueError):
            rules.decode_cursor(bad)
