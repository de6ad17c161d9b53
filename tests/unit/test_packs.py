import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cowin_kit.cli import main
from cowin_kit.config.packs import load_pack, validate_pack
from cowin_kit.idnumbers import InvalidIdNumber, normalize_id_number

from conftest import EXAMPLES

EXAMPLE_CODES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "pack.yaml").is_file())


def test_there_are_at_least_four_example_packs_with_rtl_and_non_latin_scripts():
    assert {"in", "ca", "ua", "ae"} <= set(EXAMPLE_CODES)
    locales = {loc for code in EXAMPLE_CODES for loc in load_pack(EXAMPLES / code).locales}
    assert {"hi", "fr", "uk", "ar"} <= locales


@pytest.mark.parametrize("code", EXAMPLE_CODES)
def test_every_example_pack_validates(code):
    assert validate_pack(EXAMPLES / code) == []
    result = CliRunner().invoke(main, ["pack", "validate", str(EXAMPLES / code)])
    assert result.exit_code == 0, result.output


def test_india_pack_has_the_facts_the_programme_needs():
    pack = load_pack(EXAMPLES / "in")
    level1 = [row for row in pack.locations if row.level == 1]
    assert len(level1) == 36
    assert all(row.code.startswith("IN-") and row.names["hi"] for row in level1)
    by_state = {}
    for row in pack.locations:
        if row.level == 2:
            by_state.setdefault(row.parent_code, []).append(row)
    assert sum(1 for rows in by_state.values() if len(rows) >= 2) >= 3
    id_types = {t["code"]: t for t in pack.document["id_types"]}
    assert len(id_types) == 7
    assert id_types["aadhaar"]["validator"] == "stdnum:in_.aadhaar"
    schedules = {s["code"]: s for s in pack.vaccines["schedules"] if not s["routine"]}
    intervals = {s["products"][0]: s["doses"][1]["min_interval_days"] for s in schedules.values()}
    assert intervals["COVISHIELD"] == 84 and intervals["COVAXIN"] == 28
    assert "CORBEVAX" in intervals


def test_india_districts_are_lgds_current_ones_under_the_documented_codes():
    """pack.yaml's scheme: the 49 older districts of Delhi, Goa, Kerala and Punjab keep
    their letter codes, every other district is IN-<state>-D<LGD code>, one LGD code per
    district; the districts created up to 2026 are in, Rajasthan's nine abolished in
    Dec 2024 and Delhi's former Shahdara district are not."""
    import re

    pack = load_pack(EXAMPLES / "in")
    districts = [row for row in pack.locations if row.level == 2]
    assert len(districts) == 786
    assert all(row.names["hi"] for row in districts)
    lgd_codes, letter_codes = [], []
    for row in districts:
        match = re.fullmatch(rf"{re.escape(row.parent_code)}-D([0-9]+)", row.code)
        (lgd_codes if match else letter_codes).append(match.group(1) if match else row.code)
    assert len(lgd_codes) == len(set(lgd_codes)) == 786 - 49
    assert {code[:5] for code in letter_codes} == {"IN-DL", "IN-GA", "IN-KL", "IN-PB"}
    names = {row.name: row.code for row in districts}
    assert names["Mauganj"] == "IN-MP-D766" and names["Vav-Tharad"] == "IN-GJ-D789"
    assert names["Kotputli-Behror"] == "IN-RJ-D782" and names["Old Delhi"] == "IN-DL-D795"
    assert not {"Dudu", "Kekri", "Shahpura", "Neem Ka Thana", "Gangapur City",
                "Jaipur Rural", "Jodhpur Rural", "Anupgarh", "Sanchore", "Shahdara"} & set(names)


def test_india_pack_carries_the_uip_routine_schedule():
    pack = load_pack(EXAMPLES / "in")
    routine = {s["code"]: s for s in pack.vaccines["schedules"] if s["routine"]}
    assert {"bcg", "hepb-birth", "opv", "fipv", "dtp", "rotavirus", "pcv", "mr", "je",
            "td-adolescent", "td-pregnancy"} <= set(routine)
    assert routine["hepb-birth"]["doses"][0]["max_age"] == "1d"          # within 24 hours
    assert [d["age"] for d in routine["dtp"]["doses"]] == ["6w", "10w", "14w", "16m", "5y"]
    assert [d["age"] for d in routine["td-adolescent"]["doses"]] == ["10y", "16y"]
    pregnancy = routine["td-pregnancy"]
    assert pregnancy["timed_from"] == "pregnancy" and pregnancy["prior_series_within"] == "3y"
    assert pregnancy["doses"][1]["min_interval"] == "4w"
    antigens = {p["code"]: p["antigens"] for p in pack.vaccines["products"]}
    assert antigens["PENTA"] == ["DTP", "HepB", "Hib"] and "MCV" in antigens["MR"]
    # JE only in the example's JE districts (Kerala), HPV for girls
    assert routine["je"]["areas"] == ["IN-KL-TVM", "IN-KL-ALP", "IN-KL-KKD", "IN-KL-MLP"]
    assert routine["hpv"]["sex"] == ["F"] and "sex" not in routine["mr"]
    assert pack.document["routine"]["overdue_after"] == "4w"


def test_ukraine_pack_carries_the_national_calendar():
    pack = load_pack(EXAMPLES / "ua")
    routine = {s["code"]: s for s in pack.vaccines["schedules"] if s["routine"]}
    assert {"bcg", "hepb", "dtp", "hib", "polio", "mmr", "td", "hpv"} <= set(routine)
    ages = {code: [d["age"] for d in s["doses"]] for code, s in routine.items()}
    assert ages["dtp"] == ["2m", "4m", "6m", "18m", "6y"]
    assert ages["polio"] == ["2m", "4m", "6m", "18m", "6y"]
    assert ages["mmr"] == ["1y", "4y"]
    assert ages["td"][:2] == ["16y", "26y"]
    assert routine["hpv"]["sex"] == ["F"]
    antigens = {p["code"]: p["antigens"] for p in pack.vaccines["products"]}
    assert set(antigens["HEXA"]) == {"DTP", "Polio", "Hib", "HepB"}


def test_aadhaar_validator_checks_the_verhoeff_digit():
    assert normalize_id_number("stdnum:in_.aadhaar", "2341 2341 2346") == "234123412346"
    with pytest.raises(InvalidIdNumber):
        normalize_id_number("stdnum:in_.aadhaar", "2341 2341 2347")


def test_regex_validator_strips_separators_and_upper_cases():
    assert normalize_id_number("regex:^[A-Z][0-9]{7}$", "j-123 4567") == "J1234567"
    with pytest.raises(InvalidIdNumber):
        normalize_id_number("regex:^[A-Z][0-9]{7}$", "12345678")


def _broken_copy(tmp_path: Path) -> Path:
    target = tmp_path / "broken"
    shutil.copytree(EXAMPLES / "in", target)
    pack_yaml = target / "pack.yaml"
    text = pack_yaml.read_text(encoding="utf-8")
    text = text.replace("timezone: Asia/Kolkata", "timezone: Asia/Atlantis")          # 1
    text = text.replace("validator: stdnum:in_.aadhaar", "validator: stdnum:in_.nothing")  # 2
    text = text.replace("phone_region: IN", "phone_region: QQ")                        # 3
    pack_yaml.write_text(text, encoding="utf-8")
    vaccines = target / "vaccines.yaml"
    text = vaccines.read_text(encoding="utf-8")
    text = text.replace("max_interval_days: 112", "max_interval_days: 10", 1)  # 4
    vaccines.write_text(text, encoding="utf-8")
    locations = (target / "locations.csv").read_text(encoding="utf-8").splitlines()
    header = locations[0].split(",")
    row = dict(zip(header, [""] * len(header)))

    def line(**values):
        data = {**row, **values}
        return ",".join(data[c] for c in header)

    locations += [
        line(code="X-1", parent_code="IN-NOPE", level="2", name="Orphan", name_hi="अनाथ"),  # 5
        line(code="X-2", parent_code="", level="7", name="Too deep", name_hi="गहरा"),      # 6
        line(code="X-3", parent_code="IN-DL", level="2", name="No Hindi", name_hi=""),     # 7
        line(code="X-4", parent_code="IN-DL", level="2", name="Bad lat", name_hi="अ",
             lat="123", long="10"),                                                         # 8
        line(code="X-4", parent_code="IN-DL", level="2", name="Duplicate", name_hi="अ"),  # 9
        line(code="X-5", parent_code="IN-DL", level="2", name="Bad PIN", name_hi="अ",
             postal_codes="ABC"),                                                           # 10
    ]
    (target / "locations.csv").write_text("\n".join(locations) + "\n", encoding="utf-8")
    return target


def test_a_pack_with_ten_problems_reports_all_ten(tmp_path):
    problems = validate_pack(_broken_copy(tmp_path))
    rendered = [str(p) for p in problems]
    assert len(problems) == 10, "\n".join(rendered)
    fields = {(p.file, p.field) for p in problems}
    assert ("pack.yaml", "timezone") in fields
    assert ("pack.yaml", "phone_region") in fields
    assert ("pack.yaml", "id_types[0].validator") in fields
    assert ("vaccines.yaml", "schedules[0].doses[1].max_interval_days") in fields
    for field in ("parent_code", "level", "name_hi", "lat", "code", "postal_codes"):
        assert ("locations.csv", field) in fields
    pack_lines = (tmp_path / "broken" / "pack.yaml").read_text(encoding="utf-8").splitlines()
    timezone = next(p for p in problems if p.field == "timezone")
    assert pack_lines[timezone.line - 1].startswith("timezone:")


def test_cli_prints_file_line_field_message_and_exits_1(tmp_path):
    broken = _broken_copy(tmp_path)
    result = CliRunner().invoke(main, ["pack", "validate", str(broken)])
    assert result.exit_code == 1
    lines = [l for l in result.stdout.splitlines() if l]
    assert len(lines) == 10
    for text in lines:
        path, line, field, message = text.split(":", 3)
        assert path.startswith(str(broken)) and int(line) > 0 and field.strip() and message.strip()


def test_schema_problems_carry_lines_and_unknown_keys_are_reported(tmp_path):
    target = tmp_path / "pack"
    shutil.copytree(EXAMPLES / "ca", target)
    text = (target / "pack.yaml").read_text(encoding="utf-8")
    (target / "pack.yaml").write_text(text + "colour: blue\n", encoding="utf-8")
    problems = validate_pack(target)
    assert [(p.field, p.message) for p in problems] == [("colour", "unknown field")]
    assert problems[0].line == len(text.splitlines()) + 1


def test_missing_files_and_locales_are_reported(tmp_path):
    target = tmp_path / "pack"
    shutil.copytree(EXAMPLES / "ua", target)
    (target / "vaccines.yaml").unlink()
    text = (target / "pack.yaml").read_text(encoding="utf-8")
    (target / "pack.yaml").write_text(text.replace("locales: [uk, en]", "locales: [uk, en, fr]"),
                                      encoding="utf-8")
    problems = validate_pack(target)
    assert any(p.file == "vaccines.yaml" and "missing" in p.message for p in problems)
    assert any(p.file == "locations.csv" and p.field == "name_fr" for p in problems)
    assert any(p.file == "pack.yaml" and "fr" in p.message for p in problems)


def test_certificate_logo_must_be_a_small_png_or_jpeg_in_the_pack(tmp_path):
    folder = tmp_path / "in"
    shutil.copytree(EXAMPLES / "in", folder)
    pack = load_pack(folder)
    assert pack.document["certificates"]["logo"].startswith("data:image/png;base64,")
    (folder / "logo.png").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    problems = validate_pack(folder)
    assert [(p.field, p.message) for p in problems] == [
        ("certificates.logo", "file 'logo.png' is neither PNG nor JPEG")]
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 300 * 1024)
    assert [p.message for p in validate_pack(folder)] == [
        "file 'logo.png' is 300 KiB; at most 256 KiB"]
    (folder / "logo.png").unlink()
    assert [p.message for p in validate_pack(folder)] == ["file 'logo.png' is not in the pack"]


@pytest.mark.parametrize("file, text, line", [
    # a "billion laughs" (five levels of ten aliases each here; nine took ~10 GB)
    ("vaccines.yaml", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n"
        for i in range(5)), 1),
    ("pack.yaml", "code: in\nself: &loop [*loop]\n", 2),
    ("pack.yaml", "code: in\nnested: " + "[" * 5_000 + "]" * 5_000 + "\n", 2),
])
def test_yaml_aliases_and_deep_nesting_are_refused_as_pack_problems(tmp_path, file, text, line):
    pack = tmp_path / "in"
    shutil.copytree(EXAMPLES / "in", pack)
    (pack / file).write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["pack", "validate", str(pack)])
    assert result.exit_code == 1 and result.exception is None or \
        isinstance(result.exception, SystemExit), result.exception
    first = result.stdout.splitlines()[0]
    path, number, field, message = first.split(":", 3)
    assert path == str(pack / file) and int(number) == line, first
    assert field.strip() == "(yaml)" and message.strip(), first


def test_currency_and_site_section_are_checked(tmp_path):
    pack = tmp_path / "in"
    shutil.copytree(EXAMPLES / "in", pack)
    text = (pack / "pack.yaml").read_text(encoding="utf-8")
    text = text.replace("    - kind: faq\n", "    - kind: help\n      url: https://example.org/help\n"
                        "      title: {en: Help, hi: सहायता}\n    - kind: faq\n", 1)
    text = text.replace("  helpline_hours: {en: \"Toll-free, every day\", hi: \"निःशुल्क, हर दिन\"}",
                        "  helpline_hours: {en: \"Toll-free\"}")
    (pack / "pack.yaml").write_text(text, encoding="utf-8")
    found = {(p.field, p.message) for p in validate_pack(pack)}
    assert ("site.pages[1].kind", "'help' is used twice (also site.pages[0])") in found
    assert ("site.helpline_hours", "missing text for locale hi") in found
    bad_currency = text.replace("currency: INR", "currency: XYZ")
    (pack / "pack.yaml").write_text(bad_currency, encoding="utf-8")
    found = {(p.field, p.message) for p in validate_pack(pack)}
    assert ("currency", "'XYZ' is not an ISO 4217 currency code Babel knows") in found


def test_a_locale_without_a_kit_catalog_is_a_warning_not_a_problem(tmp_path):
    from cowin_kit.config.packs import pack_warnings

    pack = tmp_path / "ca"
    shutil.copytree(EXAMPLES / "ca", pack)
    assert pack_warnings(pack) == []  # en and fr are translated
    (pack / "pack.yaml").write_text((pack / "pack.yaml").read_text(encoding="utf-8").replace(
        "locales: [en, fr]", "locales: [en, fr, fr_CA, de]"), encoding="utf-8")
    warnings = pack_warnings(pack)
    assert [(w.field, w.line) for w in warnings] == [("locales[3]", 6)]  # fr_CA uses fr
    assert "no catalog for 'de'" in warnings[0].message
