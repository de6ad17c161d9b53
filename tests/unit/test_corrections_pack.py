"""pack.yaml ``corrections: {grievance_resolve_days: N}`` (the grievance service level):
checked when the pack is validated, 7 days when the pack says nothing."""

from __future__ import annotations

import shutil

import pytest

from cowin_kit.config.packs import load_pack, validate_pack
from cowin_kit.config.runtime import ActivePack
from cowin_kit.testing import example_pack


def _pack(tmp_path, section: str):
    target = tmp_path / "pack"
    shutil.copytree(example_pack("IN"), target)
    pack_yaml = target / "pack.yaml"
    pack_yaml.write_text(pack_yaml.read_text(encoding="utf-8") + "\n" + section + "\n",
                         encoding="utf-8")
    return target


@pytest.mark.parametrize("section, field, message", [
    ("corrections:\n  grievance_resolve_days: 0", "corrections.grievance_resolve_days",
     "greater than or equal to 1"),
    ("corrections:\n  grievance_resolve_days: 120", "corrections.grievance_resolve_days",
     "less than or equal to 90"),
    ("corrections:\n  grievance_resolve_days: soon", "corrections.grievance_resolve_days",
     "Not a valid integer"),
    ("corrections:\n  resolve_days: 3", "corrections.resolve_days", "nknown field"),
])
def test_pack_corrections_section_problems(tmp_path, section, field, message):
    problems = validate_pack(_pack(tmp_path, section))
    assert any(p.file == "pack.yaml" and p.field == field and message in p.message
               for p in problems), problems


@pytest.mark.parametrize("section, days", [
    ("", 7), ("corrections: {}", 7), ("corrections:\n  grievance_resolve_days: 14", 14),
    ("corrections:\n  grievance_resolve_days: 1", 1)])
def test_the_service_level_follows_the_pack_and_defaults_to_seven_days(tmp_path, section,
                                                                       days):
    target = _pack(tmp_path, section)
    assert validate_pack(target) == []
    document = load_pack(target).document
    assert ActivePack("IN", "1", "hash", document).corrections.grievance_resolve_days == days
