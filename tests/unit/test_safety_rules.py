"""The pure rules of vaccine safety (table-driven) and the pack's ``safety:`` section
(validated with FILE:LINE)."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cowin_kit.config.packs import load_pack, validate_pack
from cowin_kit.config.runtime import SafetySettings
from cowin_kit.config.schemas import STAGE_ROLES
from cowin_kit.identity.access import ROLE_ACTIONS
from cowin_kit.safety import rules

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "countries"
GIVEN = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def _check(**changes):
    values = dict(seriousness="non_serious", criteria=[], outcome="recovered",
                  reactions=["fever_38"], symptoms=[], onset_at=GIVEN + timedelta(hours=2),
                  vaccinated_at=GIVEN, now=NOW, died_on=None)
    values.update(changes)
    return rules.check_report(**values)


@pytest.mark.parametrize("changes, stored", [
    ({}, []),
    ({"seriousness": "serious", "criteria": ["hospitalization"]}, ["hospitalization"]),
    ({"seriousness": "serious"}, []),  # serious without a criterion (older apps)
    ({"seriousness": "death", "outcome": "fatal"}, ["death"]),
    ({"seriousness": "serious", "criteria": ["death", "death"], "outcome": "fatal",
      "died_on": date(2026, 3, 2)}, ["death"]),
    ({"reactions": [], "symptoms": ["rash"]}, []),
    ({"onset_at": NOW + timedelta(minutes=9)}, []),  # a device clock a little ahead
    ({"onset_at": GIVEN}, []),
])
def test_accepted_reports(changes, stored):
    assert _check(**changes) == stored


@pytest.mark.parametrize("changes, code, field", [
    ({"seriousness": "mild"}, "invalid_seriousness", "seriousness"),
    ({"outcome": "better"}, "invalid_outcome", "outcome"),
    ({"seriousness": "serious", "criteria": ["bad luck"]}, "invalid_criteria",
     "serious_criteria"),
    ({"reactions": ["hiccups"]}, "invalid_reaction", "reactions"),
    ({"reactions": [], "symptoms": []}, "reaction_required", "reactions"),
    ({"criteria": ["disability"]}, "criteria_not_serious", "serious_criteria"),
    ({"outcome": "fatal"}, "fatal_needs_death", "outcome"),
    ({"seriousness": "serious", "criteria": ["hospitalization"], "outcome": "fatal"},
     "fatal_needs_death", "outcome"),
    ({"died_on": date(2026, 3, 2)}, "died_on_not_fatal", "died_on"),
    ({"onset_at": GIVEN - timedelta(minutes=1)}, "invalid_onset", "onset_at"),
    ({"onset_at": NOW + timedelta(minutes=11)}, "onset_in_future", "onset_at"),
    ({"seriousness": "death", "outcome": "fatal", "died_on": date(2026, 2, 1)},
     "invalid_died_on", "died_on"),
])
def test_refused_reports(changes, code, field):
    with pytest.raises(rules.SafetyRuleError) as caught:
        _check(**changes)
    assert (caught.value.code, caught.value.field) == (code, field)


STAGES = (rules.Stage("district", {"en": "District"}, "district_admin"),
          rules.Stage("state", {"en": "State"}, "state_admin"),
          rules.Stage("national", {"en": "National"}, "national_admin"))


@pytest.mark.parametrize("current, causality, close, expected", [
    ("district", None, False, ("state", "open")),
    ("district", "B1", False, ("state", "open")),       # a provisional category
    ("district", "A4", True, ("district", "closed")),   # closed early, classified
    ("state", None, False, ("national", "open")),
    ("national", "C", False, ("national", "closed")),
    ("", None, False, ("district", "open")),            # not yet in a stage: the first
])
def test_steps_move_through_the_stages(current, causality, close, expected):
    assert rules.check_step(STAGES, current, causality=causality, close=close) == expected


@pytest.mark.parametrize("current, causality, close, code", [
    ("national", None, False, "causality_required"),
    ("district", None, True, "causality_required"),
    ("district", "E", False, "invalid_causality"),
])
def test_refused_steps(current, causality, close, code):
    with pytest.raises(rules.SafetyRuleError) as caught:
        rules.check_step(STAGES, current, causality=causality, close=close)
    assert caught.value.code == code


def test_the_who_causality_categories():
    assert rules.CAUSALITY == ("A1", "A2", "A3", "A4", "B1", "B2", "C", "D")
    assert {rules.CAUSALITY_GROUPS[c] for c in rules.CAUSALITY} == {
        "consistent", "indeterminate", "inconsistent", "unclassifiable"}


@pytest.mark.parametrize("reports, doses, threshold, minimum, rate, flagged", [
    (3, 3000, 10.0, 3, 10.0, False),      # exactly at the threshold: not above it
    (4, 3000, 10.0, 3, 13.333, True),
    (2, 10, 10.0, 3, 2000.0, False),      # too few reports, however high the rate
    (3, 0, 10.0, 3, None, True),          # reports but no dose in the scope
    (0, 0, 10.0, 1, None, False),
    (1, 100000, 0.05, 1, 0.1, True),
])
def test_signal_rate_and_flag(reports, doses, threshold, minimum, rate, flagged):
    found = rules.rate_per_10000(reports, doses)
    assert (found if found is None else round(found, 3)) == rate
    assert rules.is_signal(reports, doses, threshold=threshold,
                           min_reports=minimum) is flagged


def test_stage_roles_of_packs_are_roles_that_may_investigate():
    for role in STAGE_ROLES:
        assert "aefi.investigate" in ROLE_ACTIONS[role], role


def _pack(tmp_path, section: str) -> Path:
    target = tmp_path / "in"
    shutil.copytree(EXAMPLES / "in", target)
    text = (target / "pack.yaml").read_text(encoding="utf-8")
    start = text.index("safety:\n")
    end = text.index("\nhierarchy:")
    (target / "pack.yaml").write_text(text[:start] + section + text[end:], encoding="utf-8")
    return target


def _line_of(path: Path, marker: str) -> int:
    lines = (path / "pack.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if marker in line)


def test_the_india_pack_declares_three_stages():
    settings = SafetySettings.from_document(load_pack(EXAMPLES / "in").document)
    assert [s.code for s in rules.stages_of(settings.stages)] == [
        "district_investigation", "state_review", "national_causality"]
    assert (settings.signal_per_10000_doses, settings.signal_min_reports,
            settings.alert_level) == (10.0, 3, "district")


def test_without_a_safety_section_the_defaults_hold(tmp_path):
    target = _pack(tmp_path, "")
    settings = SafetySettings.from_document(load_pack(target).document)
    assert settings == SafetySettings()
    assert [(s.code, s.role) for s in rules.stages_of(settings.stages)] == [
        ("district_investigation", "district_admin"), ("national_causality", "national_admin")]


BAD_SECTIONS = [
    ("safety:\n  stages:\n    - code: district\n      name: {en: District, hi: ज़िला}\n"
     "      role: vaccinator\n", "role: vaccinator", "safety.stages[0].role",
     "must be one of: national_admin, state_admin, district_admin"),
    ("safety:\n  stages:\n    - code: district\n      name: {en: District}\n"
     "      role: district_admin\n", "name: {en: District}", "safety.stages[0].name",
     "missing text for locale hi"),
    ("safety:\n  stages:\n    - code: one\n      name: {en: A, hi: A}\n      role: district_admin\n"
     "    - code: one\n      name: {en: B, hi: B}\n      role: national_admin\n",
     "    - code: one\n      name: {en: B", "safety.stages[1].code",
     "'one' is used twice (also safety.stages[0])"),
    ("safety:\n  alert_level: block\n", "alert_level: block", "safety.alert_level",
     "'block' is not a key of hierarchy"),
    ("safety:\n  signal_per_10000_doses: 0\n", "signal_per_10000_doses", 
     "safety.signal_per_10000_doses", None),
    ("safety:\n  stages: []\n", "stages: []", "safety.stages", "1 to 8 stages"),
    ("safety:\n  threshold: 3\n", "threshold: 3", "safety.threshold", "unknown field"),
]


@pytest.mark.parametrize("section, marker, field, message", BAD_SECTIONS)
def test_safety_section_problems_name_file_line_and_field(tmp_path, section, marker, field,
                                                          message):
    target = _pack(tmp_path, section)
    problems = validate_pack(target)
    wanted = _line_of(target, marker.split("\n")[-1] if "\n" in marker else marker)
    if "\n" in marker:  # the second of two identical code lines
        lines = (target / "pack.yaml").read_text(encoding="utf-8").splitlines()
        wanted = [i for i, line in enumerate(lines, 1) if line == "    - code: one"][1]
    found = [(p.file, p.line, p.field) for p in problems]
    assert ("pack.yaml", wanted, field) in found, [str(p) for p in problems]
    if message is not None:
        assert any(p.field == field and p.message == message for p in problems), \
            [str(p) for p in problems]
