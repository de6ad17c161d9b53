"""Validation of routine schedules in vaccines.yaml and of pack.yaml's routine section:
each broken pack reports the expected FILE:LINE: field: message, and the CLI prints it."""

import shutil

import pytest
from click.testing import CliRunner

from cowin_kit.cli import main
from cowin_kit.config.packs import load_pack, validate_pack
from cowin_kit.config.runtime import RoutineSettings
from cowin_kit.core.durations import Duration

from conftest import EXAMPLES

PRODUCTS = """products:
  - code: OPV
    name: {en: OPV, hi: ओपीवी}
    manufacturer: Example
    antigens: [Polio]
  - code: TT
    name: {en: Td, hi: टीडी}
    manufacturer: Example
    antigens: [Tetanus, Diphtheria]
schedules:
"""

GOOD = """  - code: opv
    disease: {en: Polio, hi: पोलियो}
    target_disease: "721764008"
    products: [OPV]
    routine: true
    start_max_age: 1y
    doses:
      - number: 1
        age: 6w
        min_age: 6w
        max_age: 1y
      - number: 2
        age: 10w
        max_age: 1y
        min_interval: 4w
"""


def _line_of(text, marker):
    """The line (1-based) of vaccines.yaml where ``marker`` first appears."""
    return next(n for n, line in enumerate((PRODUCTS + text).splitlines(), start=1)
                if marker in line)


def _pack(tmp_path, schedules, pack_extra=""):
    target = tmp_path / "pack"
    shutil.copytree(EXAMPLES / "in", target)
    (target / "vaccines.yaml").write_text(PRODUCTS + schedules, encoding="utf-8")
    if pack_extra:
        pack_yaml = target / "pack.yaml"
        text = pack_yaml.read_text(encoding="utf-8")
        start = text.index("routine:")
        end = text.index("\nhierarchy:")
        pack_yaml.write_text(text[:start] + pack_extra + "\n" + text[end:], encoding="utf-8")
    return target


def test_a_good_routine_schedule_validates(tmp_path):
    assert validate_pack(_pack(tmp_path, GOOD)) == []


# (replace in GOOD, with) -> (line, field, message part)
CASES = [
    ("        age: 10w\n", "        age: ten weeks\n",
     ("ten weeks", "schedules[0].doses[1].age", "must be a duration such as 4d, 6w, 9m or 16y")),
    ("        age: 10w\n", "        age: 10x\n",
     ("10x", "schedules[0].doses[1].age", "must be a duration")),
    ("        age: 6w\n", "        age: 4w\n",
     ("age: 4w", "schedules[0].doses[0].age", "is before min_age")),
    ("        age: 10w\n", "        age: 2y\n",
     ("age: 2y", "schedules[0].doses[1].age", "is after max_age")),
    ("        age: 10w\n", "        age: 5w\n",
     ("age: 5w", "schedules[0].doses[1].age", "is before dose 1's age")),
    ("        min_interval: 4w\n", "        min_interval: 8w\n",
     ("- number: 2", "schedules[0].doses[1].min_interval", "is longer than the gap between dose 1's age")),
    ("        min_interval: 4w\n", "        min_interval: 4w\n        max_interval: 2w\n",
     ("max_interval: 2w", "schedules[0].doses[1].max_interval", "is below min_interval")),
    ("        min_interval: 4w\n", "        min_interval: 4w\n        max_interval: 3w\n",
     ("- number: 2", "schedules[0].doses[1].max_interval", "is shorter than the gap")),
    ("        age: 10w\n        max_age: 1y\n        min_interval: 4w\n",
     "        age: 10w\n        max_age: 10w\n        min_interval: 5w\n",
     ("max_age: 10w", "schedules[0].doses[1].max_age", "cannot be met")),
    ("        max_age: 1y\n      - number: 2", "        max_age: 5w\n      - number: 2",
     ("max_age: 5w", "schedules[0].doses[0].max_age", "is below min_age")),
    ("        min_interval: 4w\n", "        min_interval: 4w\n        min_interval_days: 28\n",
     ("min_interval: 4w", "schedules[0].doses[1].min_interval", "give min_interval or min_interval_days")),
    ("        min_interval: 4w\n", "",
     ("- number: 2", "schedules[0].doses[1].min_interval", "required for every dose after the first")),
    ("        age: 6w\n        min_age: 6w\n", "        age: 6w\n        min_age: 6w\n        min_interval: 1w\n",
     ("- number: 1", "schedules[0].doses[0]", "the first dose has no interval")),
    ("    products: [OPV]\n", "    products: [OPV, BOPV]\n",
     ("products: [OPV, BOPV]", "schedules[0].products[1]", "unknown product 'BOPV'")),
    ("    start_max_age: 1y\n", "    start_max_age: 2y\n    max_age: 1y\n",
     ("start_max_age: 2y", "schedules[0].start_max_age", "is beyond the schedule's max_age")),
    ("    start_max_age: 1y\n", "    start_max_age: 1y\n    prior_series_within: 3y\n",
     ("prior_series_within", "schedules[0].prior_series_within", "only for schedules timed from pregnancy")),
    ("    routine: true\n", "    routine: false\n",
     ("age: 6w", "schedules[0].doses[0].age", "only for routine schedules")),
    ("    routine: true\n", "    routine: yes please\n",
     ("routine: yes", "schedules[0].routine", "Not a valid boolean")),
    ("    routine: true\n", "    routine: true\n    timed_from: conception\n",
     ("timed_from", "schedules[0].timed_from", "Must be one of")),
    ("      - number: 1\n        age: 6w\n", "      - number: 1\n",
     ("- number: 1", "schedules[0].doses[0].age", "required for the first dose of a routine schedule")),
    ("        min_interval: 4w\n", "        min_interval: 4w\n        not_needed_if_started_after: 1y\n",
     None),
    ("      - number: 1\n", "      - number: 1\n        not_needed_if_started_after: 1y\n",
     ("not_needed_if_started_after", "schedules[0].doses[0].not_needed_if_started_after", "the first dose is always needed")),
    ("        age: 6w\n", "        age: 6w\n        age: 7w\n",
     ("age: 7w", "schedules[0].doses[0].age", "duplicate key")),
    # Whom the schedule is for: gender codes of pack.yaml, location codes of locations.csv.
    ("    start_max_age: 1y\n", "    start_max_age: 1y\n    sex: [F, T]\n    areas: [IN-AS, IN-KL-ALP]\n",
     None),
    ("    start_max_age: 1y\n", "    start_max_age: 1y\n    sex: [F, X]\n",
     ("sex: [F, X]", "schedules[0].sex[1]", "'X' is not a gender code of pack.yaml genders")),
    ("    start_max_age: 1y\n", "    start_max_age: 1y\n    sex: [F, F]\n",
     ("sex: [F, F]", "schedules[0].sex[1]", "'F' is listed twice")),
    ("    start_max_age: 1y\n", "    start_max_age: 1y\n    sex: []\n",
     ("sex: []", "schedules[0].sex", "give at least one gender code")),
    ("    start_max_age: 1y\n", "    start_max_age: 1y\n    areas: [IN-AS, IN-XX]\n",
     ("areas: [IN-AS, IN-XX]", "schedules[0].areas[1]", "'IN-XX' is not a location code of locations.csv")),
    ("    start_max_age: 1y\n", "    start_max_age: 1y\n    areas: [IN-KL, IN-KL-ALP]\n",
     ("areas: [IN-KL, IN-KL-ALP]", "schedules[0].areas[1]", "'IN-KL-ALP' is inside 'IN-KL'")),
    ("    start_max_age: 1y\n", "    start_max_age: 1y\n    areas: [IN-AS, '']\n",
     ("areas: [IN-AS, '']", "schedules[0].areas[1]", "must not be empty")),
    ("    routine: true\n    start_max_age: 1y\n", "    areas: [IN-AS]\n",
     ("areas: [IN-AS]", "schedules[0].areas", "only for routine schedules")),
]


@pytest.mark.parametrize("old, new, expected", CASES)
def test_routine_schedule_problems(tmp_path, old, new, expected):
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    problems = validate_pack(_pack(tmp_path, text))
    if expected is None:
        assert problems == []
        return
    marker, field, message = expected
    line = _line_of(text, marker)
    found = [(p.file, p.line, p.field) for p in problems if message in p.message]
    assert ("vaccines.yaml", line, field) in found, problems


PREGNANCY = """  - code: td-pregnancy
    disease: {en: Tetanus, hi: टेटनस}
    target_disease: "76902006"
    products: [TT]
    routine: true
    timed_from: pregnancy
    prior_series_within: 3y
    doses:
      - number: 1
        age: 0d
      - number: 2
        age: 4w
        min_interval: 4w
      - number: 3
        booster: true
        age: 0d
"""

PREGNANCY_CASES = [
    ("    routine: true\n", "    routine: false\n",
     ("timed_from", "schedules[0].timed_from", "pregnancy schedules must be routine")),
    ("      - number: 3\n        booster: true\n        age: 0d\n", "",
     ("prior_series_within", "schedules[0].prior_series_within", "no booster dose")),
    ("        age: 4w\n", "        age: 50w\n",
     ("age: 50w", "schedules[0].doses[1].age", "later than a pregnancy lasts")),
    ("    timed_from: pregnancy\n", "",
     ("prior_series_within", "schedules[0].prior_series_within", "only for schedules timed from pregnancy")),
]


def test_a_pregnancy_schedule_validates(tmp_path):
    assert validate_pack(_pack(tmp_path, PREGNANCY)) == []


@pytest.mark.parametrize("old, new, expected", PREGNANCY_CASES)
def test_pregnancy_schedule_problems(tmp_path, old, new, expected):
    assert old in PREGNANCY
    text = PREGNANCY.replace(old, new, 1)
    problems = validate_pack(_pack(tmp_path, text))
    marker, field, message = expected
    line = _line_of(text, marker)
    found = [(p.file, p.line, p.field) for p in problems if message in p.message]
    assert ("vaccines.yaml", line, field) in found, problems


def test_old_style_year_ages_and_day_intervals_still_validate(tmp_path):
    old = """  - code: covid
    disease: {en: COVID-19, hi: कोविड-19}
    target_disease: "840539006"
    products: [OPV]
    min_age: 18
    max_age: null
    doses:
      - number: 1
      - number: 2
        min_interval_days: 84
        max_interval_days: 112
"""
    assert validate_pack(_pack(tmp_path, old)) == []
    assert validate_pack(_pack(tmp_path / "b", old.replace("min_age: 18", "min_age: -1"))) != []


@pytest.mark.parametrize("antigens, field, message", [
    ("[Polio, Polio]", "products[0].antigens[1]", "'Polio' is listed twice"),
    ("[Polio, 'Po lio']", "products[0].antigens[1]", "use 1 to 32 letters, digits, - and _"),
])
def test_product_antigens_are_codes_listed_once(tmp_path, antigens, field, message):
    target = _pack(tmp_path, GOOD)
    vaccines = target / "vaccines.yaml"
    text = vaccines.read_text(encoding="utf-8")
    vaccines.write_text(text.replace("antigens: [Polio]", f"antigens: {antigens}"),
                        encoding="utf-8")
    found = {(p.line, p.field, p.message) for p in validate_pack(target)}
    assert (5, field, message) in found, found


ROUTINE_CASES = [
    ("routine:\n  overdue_after: soon", "routine.overdue_after", "must be a duration"),
    ("routine:\n  household_limit: 0", "routine.household_limit", "greater than or equal to 1"),
    ("routine:\n  remind_every: 2d", "routine.remind_every", "unknown field"),
]


@pytest.mark.parametrize("section, field, message", ROUTINE_CASES)
def test_pack_routine_section_problems(tmp_path, section, field, message):
    problems = validate_pack(_pack(tmp_path, GOOD, pack_extra=section))
    assert any(p.file == "pack.yaml" and p.field == field and message in p.message
               for p in problems), problems


def test_routine_settings_defaults_and_pack_values(tmp_path):
    target = _pack(tmp_path, GOOD, pack_extra="routine:\n  grace: 2d")
    settings = RoutineSettings.from_document(load_pack(target).document)
    assert settings == RoutineSettings(grace=Duration(2, "d"), household_limit=4)
    assert settings.overdue_after == Duration(4, "w")
    assert settings.zero_dose_age == Duration(10, "w")
    assert settings.id_exempt_below == Duration(5, "y")
    assert (settings.remind_before, settings.remind_after_missed) == (Duration(2, "d"),
                                                                      Duration(7, "d"))
    india = RoutineSettings.from_document(load_pack(EXAMPLES / "in").document)
    assert india.household_limit == 6


def test_cli_reports_routine_problems_as_file_line_field_message(tmp_path):
    target = _pack(tmp_path, GOOD.replace("        age: 10w\n", "        age: 5w\n", 1))
    result = CliRunner().invoke(main, ["pack", "validate", str(target)])
    assert result.exit_code == 1
    assert "vaccines.yaml:23: schedules[0].doses[1].age: is before dose 1's age" in result.output
