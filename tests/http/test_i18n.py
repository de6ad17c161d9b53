"""Translations: the catalogs are complete and current, the API answers in the request's
language (API errors, marshmallow's field messages, the OTP SMS), and the `cowin-kit
i18n` commands work on a catalog folder of their own."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po
from babel.support import Translations
from click.testing import CliRunner
from marshmallow import Schema, ValidationError, fields, validate

from cowin_kit.cli import main
from cowin_kit.cli.i18n_cmd import (LOCALES_DIR, SOURCE_LOCALE, STATUSES,
                                    catalog_locales, compile_catalogs, extract_messages,
                                    po_path, pot_path, translation_status, update_catalogs)
from cowin_kit.core.i18n import lazy_gettext


# Every catalog in cowin_kit/locales: a new language is checked as soon as its folder exists.
CATALOGS = catalog_locales(LOCALES_DIR)
# The example packs' and issue 18's languages, so that a catalog deleted by mistake is noticed.
SHIPPED = {"en", "hi", "fr", "uk", "ar", "es", "vi", "az", "ckb"}

PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +-]*(?:\d+|\*)?(?:\.\d+)?([diouxXeEfFgGcrsa%])")
# HTML elements a message could carry, with quoted attributes. Anything else in angle
# brackets is words to translate, such as the SMS help's "<postal code>" ("<code postal>").
HTML_TAG = re.compile(r"</?(?:a|abbr|b|br|code|em|i|kbd|li|ol|p|small|span|strong|sub|sup|u|ul)"
                      r"""(?:\s+[\w:-]+=(?:"[^"]*"|'[^']*'))*\s*/?>""", re.IGNORECASE)
HTML_ENTITY = re.compile(r"&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")


def placeholders(text: str) -> set[str]:
    """The printf-style placeholders of a text: {'%(name)s', '%d', ...}, without '%%'."""
    return {match.group(0) for match in PLACEHOLDER.finditer(text) if match.group(2) != "%"}


def markup(text: str) -> list[str]:
    """The HTML tags (attributes included) and character entities of a text, sorted."""
    return sorted(HTML_TAG.findall(text) + HTML_ENTITY.findall(text))


def expected_plural_forms(locale: str) -> tuple[int, str]:
    """(nplurals, plural expression) that `i18n init` and `update` write: CLDR's rule
    through Babel."""
    from babel.messages.plurals import get_plural

    rule = get_plural(locale)
    return rule.num_plurals, rule.plural_expr


def read_catalog(path: Path, locale: str | None = None):
    with path.open("rb") as stream:
        return read_po(stream, locale=locale)


def translations(locale: str) -> dict[str, str]:
    """msgid -> msgstr of the repository's catalog of ``locale``."""
    catalog = read_catalog(po_path(LOCALES_DIR, locale), locale)
    return {m.id: m.string for m in catalog if m.id and isinstance(m.id, str)}


# --- (a) complete catalogs -------------------------------------------------------------------

def test_every_shipped_language_has_a_catalog():
    assert SHIPPED <= set(CATALOGS), f"missing catalogs: {sorted(SHIPPED - set(CATALOGS))}"


def translation_problems(key, message, nplurals: int) -> list[str]:
    """What is wrong with one translated entry: empty or missing plural forms, other
    placeholders than the English text, HTML tags or entities lost or added, the OTP
    code moved from the first word."""
    if message.pluralizable:
        singular, plural = message.id
        strings = list(message.string)
        if len(strings) != nplurals or not all(strings):
            return [f"needs {nplurals} plural forms: {key!r}"]
        problems = []
        allowed = placeholders(singular) | placeholders(plural)
        for form in strings:
            if not placeholders(form) <= allowed:
                problems.append(f"placeholders differ: {key!r} -> {form!r}")
            if markup(form) != markup(plural):
                problems.append(f"HTML differs: {key!r} -> {form!r}")
        # The last form serves the largest counts: it must show the number.
        if placeholders(strings[-1]) != placeholders(plural):
            problems.append(f"placeholders differ: {key!r} -> {strings[-1]!r}")
        return problems
    if not message.string:
        return [f"empty: {key!r}"]
    problems = []
    if placeholders(message.string) != placeholders(message.id):
        problems.append(f"placeholders differ: {key!r} -> {message.string!r}")
    if markup(message.string) != markup(message.id):
        problems.append(f"HTML differs: {key!r} -> {message.string!r}")
    if message.id.startswith("%(otp)s") and not message.string.startswith("%(otp)s"):
        problems.append(f"the OTP must stay the first word: {key!r} -> {message.string!r}")
    return problems


@pytest.mark.parametrize("locale", CATALOGS)
def test_catalog_is_complete_and_keeps_the_placeholders(locale):
    template = read_catalog(pot_path(LOCALES_DIR))
    catalog = read_catalog(po_path(LOCALES_DIR, locale), locale)
    wanted = {m.id if isinstance(m.id, str) else tuple(m.id) for m in template if m.id}
    have = {(m.id if isinstance(m.id, str) else tuple(m.id)): m for m in catalog if m.id}
    assert (catalog.num_plurals, catalog.plural_expr) == expected_plural_forms(locale), \
        catalog.plural_forms

    problems = [f"missing: {key!r}" for key in sorted(wanted - set(have), key=str)]
    for key, message in have.items():
        if key not in wanted:
            continue  # obsolete entries are harmless; `update` drops them
        if message.fuzzy:
            problems.append(f"fuzzy: {key!r}")
        problems += translation_problems(key, message, catalog.num_plurals)
    assert not problems, f"{po_path(LOCALES_DIR, locale)}:\n  " + "\n  ".join(problems)


STATUS_IN_DOCS = {"source": "source", "reviewed": "reviewed", "needs-review": "needs review"}


def documented_statuses() -> dict[str, str]:
    """Language code -> status, from the table of languages in docs/translating.md."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "translating.md"
    if not docs.is_file():
        pytest.skip("not a checkout: no docs/translating.md")
    rows = re.findall(r"^\|[^|\n]*\|\s*`([\w-]+)`\s*\|(?:[^|\n]*\|){3}\s*([a-z ]+?)\s*\|\s*$",
                      docs.read_text(encoding="utf-8"), re.MULTILINE)
    return dict(rows)


@pytest.mark.parametrize("locale", CATALOGS)
def test_each_catalog_says_who_checked_it_as_the_docs_do(locale):
    catalog = read_catalog(po_path(LOCALES_DIR, locale), locale)
    status = translation_status(catalog)
    assert status in STATUSES, (
        f"{po_path(LOCALES_DIR, locale)}: its header needs a line "
        f"'# Translation-Status: <{'|'.join(STATUSES)}>' (docs/translating.md)")
    assert (status == "source") is (locale == SOURCE_LOCALE)
    documented = documented_statuses()
    assert documented.get(locale) == STATUS_IN_DOCS[status], (
        f"docs/translating.md's table of languages should say {STATUS_IN_DOCS[status]!r} "
        f"for {locale}")


def test_the_docs_list_no_language_without_a_catalog():
    assert set(documented_statuses()) == set(CATALOGS)


@pytest.mark.parametrize("msgid,msgstr,wrong", [
    ("Send %(status)s <reference ID>.", "Envíe %(status)s <ID de referencia>.", False),
    ("Read <a href=\"/x\">the guide</a>.", "Lea <a href=\"/x\">la guía</a>.", False),
    ("Read <a href=\"/x\">the guide</a>.", "Lea la guía.", True),
    ("Read <b>this</b>.", "Lea <strong>esto</strong>.", True),
    ("Send CENTRE <postal code>.", "Envoyez CENTRE <code postal>.", False),
    ("Line<br>break", "Salto<br/>de línea", True),
    ("A&nbsp;B", "A B", True),
    ("%(otp)s is your code.", "%(otp)s es su código.", False),
    ("%(otp)s is your code.", "Su código: %(otp)s.", True),
    ("%(n)d left", "quedan %(count)d", True),
])
def test_the_translation_check_finds_lost_markup_and_placeholders(msgid, msgstr, wrong):
    message = Catalog(locale="es").add(msgid, msgstr)
    assert bool(translation_problems(msgid, message, 3)) is wrong


@pytest.mark.parametrize("locale", catalog_locales(LOCALES_DIR))
def test_catalog_plural_rules_are_cldrs(locale):
    """Each catalog's Plural-Forms header is the rule CLDR gives the language (Babel's
    plural data), so that "3 دقائق" and "11 دقيقة" come out right."""
    from babel.messages.plurals import get_plural

    catalog = read_catalog(po_path(LOCALES_DIR, locale), locale)
    cldr = get_plural(locale)
    assert (catalog.num_plurals, catalog.plural_expr) == (cldr.num_plurals, cldr.plural_expr)


# Placeholders of numbers that are not counts of something: ordinals (dose 2, line 7,
# page 1 of 3), identifiers, bounds of a range, ages ("from the age of 18").
NOT_COUNTS = {"line", "id", "dose", "number", "page", "pages", "low", "high", "age", "min",
              "max", "year", "added", "updated", "unchanged"}
ORDINAL = re.compile(r"(?i)\b(dose|lot|line|report) %\((n)\)[ds]")


def test_every_message_with_a_count_has_plural_forms():
    """A message that says how many of something there are is an ngettext message (with
    its count as %(num)d): a single form cannot be right in Arabic, Ukrainian or Hindi.
    Numbers that are not counts (NOT_COUNTS, "Dose %(n)d") may stay in singular
    messages; "added/updated/unchanged" stand alone, without a counted noun."""
    template = read_catalog(pot_path(LOCALES_DIR))
    offending = []
    for message in template:
        if not message.id or not isinstance(message.id, str):
            continue
        names = set(re.findall(r"%\((\w+)\)d", message.id))
        names |= {"n"} if re.search(r"%\(n\)s", message.id) else set()
        if ORDINAL.search(message.id):
            names.discard("n")
        if names - NOT_COUNTS:
            offending.append(message.id)
    assert not offending, "use ngettext for:\n  " + "\n  ".join(offending)
    plural = [m for m in template if m.id and not isinstance(m.id, str)]
    assert len(plural) >= 60


def test_the_arabic_otp_sms_uses_the_plural_of_its_count():
    from cowin_kit import create_app
    from cowin_kit.notifications import render

    app = create_app({"ENV": "test", "DATABASE_URL": "sqlite://"})
    with app.app_context():
        three = render("otp", "ar", otp="123456", minutes=3)
        eleven = render("otp", "ar", otp="123456", minutes=11)
        one_uk = render("otp", "uk", otp="123456", minutes=1)
        five_uk = render("otp", "uk", otp="123456", minutes=5)
    assert "3 دقائق" in three and "11 دقيقةً" in eleven
    assert "1 хвилину" in one_uk and "5 хвилин" in five_uk


def test_placeholders_are_recognised():
    assert placeholders("%(otp)s is valid for %(minutes)d minutes, 100%% %s %d") == {
        "%(otp)s", "%(minutes)d", "%s", "%d"}


# --- (b) the template is current -------------------------------------------------------------

def without_dates(data: bytes) -> bytes:
    return b"".join(line for line in data.splitlines(keepends=True)
                    if not line.startswith((b'"POT-Creation-Date:', b'"PO-Revision-Date:')))


def test_the_template_is_up_to_date_with_the_code(tmp_path):
    """No text of the code or templates escapes the committed messages.pot: extracting now
    gives the same file (its date aside), so every `_()` / `{% trans %}` is in it."""
    fresh, _count, _written = extract_messages(pot_file=tmp_path / "messages.pot")
    current = {m.id if isinstance(m.id, str) else tuple(m.id)
               for m in read_catalog(pot_path(LOCALES_DIR)) if m.id}
    extracted = {m.id if isinstance(m.id, str) else tuple(m.id)
                 for m in read_catalog(fresh) if m.id}
    assert extracted == current, (
        "cowin_kit/locales/messages.pot is stale; run `cowin-kit i18n extract` and "
        f"`cowin-kit i18n update`. New: {sorted(extracted - current, key=str)}; "
        f"gone: {sorted(current - extracted, key=str)}")
    assert without_dates(fresh.read_bytes()) == without_dates(
        pot_path(LOCALES_DIR).read_bytes()), (
        "cowin_kit/locales/messages.pot differs from a fresh extraction (locations or "
        "translator comments); run `cowin-kit i18n extract`")


REPOSITORY = Path(__file__).resolve().parents[2]


def pybabel(*args: str) -> None:
    """Babel's own command line, run from the repository root (where pyproject.toml's
    [tool.babel.*] tables and babel.cfg give it the project's options)."""
    from babel.messages.frontend import CommandLineInterface

    if not (REPOSITORY / "babel.cfg").is_file():
        pytest.skip("not a checkout: no babel.cfg")
    previous = Path.cwd()
    os.chdir(REPOSITORY)
    try:
        CommandLineInterface().run(["pybabel", "-q", *args])
    finally:
        os.chdir(previous)


@pytest.mark.slow
def test_pybabel_writes_what_the_kit_writes(tmp_path):
    """`pybabel extract|update|compile` with the repository's configuration produce the
    kit's files, so translators and tools may use either."""
    kit_pot, _count, _written = extract_messages(pot_file=tmp_path / "kit.pot")
    pybabel("extract", "-o", str(tmp_path / "pybabel.pot"))
    assert without_dates((tmp_path / "pybabel.pot").read_bytes()) == without_dates(
        kit_pot.read_bytes())

    # A template with a text added and one gone, merged into copies of every catalog.
    template = read_catalog(pot_path(LOCALES_DIR))
    gone = next(m.id for m in template if m.id and isinstance(m.id, str))
    template.delete(gone)
    template.add("A text only this test has", locations=[("cowin_kit/x.py", None)])
    folders = {}
    for tool in ("kit", "pybabel"):
        folders[tool] = tmp_path / tool
        shutil.copytree(LOCALES_DIR, folders[tool], ignore=shutil.ignore_patterns("*.mo"))
        with pot_path(folders[tool]).open("wb") as stream:
            write_po(stream, template, width=79, include_lineno=False)
    update_catalogs(folders["kit"])
    pybabel("update", "-i", str(pot_path(folders["pybabel"])), "-d", str(folders["pybabel"]))
    compile_catalogs(folders["kit"])
    pybabel("compile", "-d", str(folders["pybabel"]))
    for locale in CATALOGS:
        kit_po, other_po = po_path(folders["kit"], locale), po_path(folders["pybabel"], locale)
        if locale == SOURCE_LOCALE:
            # The kit also fills the English catalog (msgstr = msgid); pybabel leaves the
            # new entry empty, which shows the same English text.
            assert read_catalog(other_po, locale).get("A text only this test has").string == ""
            continue
        assert without_dates(other_po.read_bytes()) == without_dates(kit_po.read_bytes()), locale
        assert other_po.with_suffix(".mo").read_bytes() == kit_po.with_suffix(".mo").read_bytes()
        assert read_catalog(kit_po, locale).get(gone) is None


# --- (c) API errors in the request's language -------------------------------------------------

INVALID_MOBILES = [
    # (mobile, detail msgid, field msgid, values of the field message)
    ("12", "Some fields are missing or not valid.",
     "Length must be between %(min)s and %(max)s.", {"min": 4, "max": 20}),
    ("12345", "This is not a valid phone number.", "This is not a valid phone number.", {}),
]


@pytest.mark.parametrize("mobile,detail,field,values", INVALID_MOBILES)
@pytest.mark.parametrize("how", ["accept-language", "query"])
def test_api_errors_come_in_the_requested_language(reg_app, how, mobile, detail, field, values):
    hindi = translations("hi")
    if how == "accept-language":
        response = reg_app.test_client().post("/api/v1/auth/otp", json={"mobile": mobile},
                                              headers={"Accept-Language": "hi, en;q=0.5"})
    else:
        response = reg_app.test_client().post("/api/v1/auth/otp?lang=hi", json={"mobile": mobile},
                                              headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["detail"] == hindi[detail]
    assert body["title"] == hindi["The request has invalid data"]
    assert body["errors"] == {"mobile": [hindi[field] % values]}
    assert body["detail"] != detail  # really translated, not the English fallback


@pytest.mark.parametrize("mobile,detail,field,values", INVALID_MOBILES)
def test_a_language_the_pack_does_not_offer_falls_back_to_english(reg_app, mobile, detail,
                                                                   field, values):
    response = reg_app.test_client().post("/api/v1/auth/otp", json={"mobile": mobile},
                                          headers={"Accept-Language": "de"})
    body = response.get_json()
    assert response.status_code == 422
    assert body["detail"] == detail
    assert body["errors"] == {"mobile": [field % values]}


def test_marshmallow_messages_of_several_fields_are_translated(reg_app):
    hindi = translations("hi")
    response = reg_app.test_client().post(
        "/api/v1/auth/otp/confirm?lang=hi",
        json={"txn_id": "not-a-uuid", "otp": "12", "surprise": 1})
    body = response.get_json()
    assert response.status_code == 422
    assert body["errors"] == {
        "txn_id": [hindi["Not a valid UUID."]],
        "otp": [hindi["String does not match expected pattern."]],
        "surprise": [hindi["Unknown field."]],
    }
    missing = reg_app.test_client().post("/api/v1/auth/otp?lang=hi", json={})
    assert missing.get_json()["errors"] == {"mobile": [hindi["Missing data for required field."]]}


# --- the marshmallow message table -----------------------------------------------------------

class _Everything(Schema):
    name = fields.String(validate=validate.Length(min=2, max=4))
    code = fields.String(validate=validate.Length(equal=3))
    count = fields.Integer(validate=validate.Range(min=1, max=9))
    above = fields.Integer(validate=validate.Range(min=1, min_inclusive=False))
    below = fields.Integer(validate=validate.Range(max=9, max_inclusive=False))
    open_range = fields.Integer(validate=validate.Range(min=1, max=9, min_inclusive=False,
                                                        max_inclusive=False))
    kind = fields.String(validate=validate.OneOf(["a", "b"]))
    pin = fields.String(validate=validate.Regexp(r"^\d+$"))
    flag = fields.Boolean()
    day = fields.Date()
    ident = fields.UUID()
    items = fields.List(fields.String())
    extra = fields.Dict()
    needed = fields.String(required=True)
    not_null = fields.String(allow_none=False)


def test_every_default_message_our_schemas_can_produce_is_translated():
    from flask import Flask
    from flask_babel import Babel, force_locale

    from cowin_kit.core.validation import translate_messages

    app = Flask(__name__)
    Babel(app, default_translation_directories=str(LOCALES_DIR))
    bad = {"name": "x", "code": "abcd", "count": 10, "above": 1, "below": 9, "open_range": 9,
           "kind": "c", "pin": "x", "flag": "maybe", "day": "31-31-2020", "ident": "x",
           "items": "x", "extra": [], "not_null": None, "unknown": 1}
    with pytest.raises(ValidationError) as caught:
        _Everything().load(bad)
    english = caught.value.normalized_messages()
    french = translations("fr")
    with app.app_context(), force_locale("fr"):
        translated = translate_messages(english)
    expected = {
        "name": french["Length must be between %(min)s and %(max)s."] % {"min": 2, "max": 4},
        "code": french["Length must be %(equal)s."] % {"equal": 3},
        "count": french["Must be greater than or equal to %(min)s and less than or equal to "
                        "%(max)s."] % {"min": 1, "max": 9},
        "above": french["Must be greater than %(min)s."] % {"min": 1},
        "below": french["Must be less than %(max)s."] % {"max": 9},
        "open_range": french["Must be greater than %(min)s and less than %(max)s."]
        % {"min": 1, "max": 9},
        "kind": french["Must be one of: %(choices)s."] % {"choices": "a, b"},
        "pin": french["String does not match expected pattern."],
        "flag": french["Not a valid boolean."],
        "day": french["Not a valid date."],
        "ident": french["Not a valid UUID."],
        "items": french["Not a valid list."],
        "extra": french["Not a valid mapping type."],
        "needed": french["Missing data for required field."],
        "not_null": french["Field may not be null."],
        "unknown": french["Unknown field."],
    }
    assert translated == {key: [text] for key, text in expected.items()}
    assert translate_messages({"x": ["Our own message, already translated."]}) == {
        "x": ["Our own message, already translated."]}


def test_the_table_follows_marshmallow_s_own_texts():
    """If marshmallow rewords a default message, this fails instead of users silently
    getting English."""
    from marshmallow import Schema as MSchema

    from cowin_kit.core.validation import MESSAGES

    defaults = [MSchema._default_error_messages["unknown"],
                MSchema._default_error_messages["type"],
                validate.Length.message_min, validate.Length.message_max,
                validate.Length.message_all, validate.Length.message_equal,
                validate.OneOf.default_message, validate.Regexp.default_message]
    for field_class in (fields.Field, fields.String, fields.Integer, fields.Number,
                        fields.Boolean, fields.Date, fields.UUID, fields.List, fields.Dict):
        defaults.extend(m for m in field_class.default_error_messages.values()
                        if "{input}" not in m)  # "format" messages are for dumping only
    missing = [m for m in defaults if m not in MESSAGES]
    assert not missing


# --- (d) the OTP SMS in the account's language --------------------------------------------------

def test_the_otp_sms_is_in_the_language_the_request_asked_for(reg_app):
    client = reg_app.test_client()
    response = client.post("/api/v1/auth/otp", json={"mobile": "9876543210"},
                           headers={"Accept-Language": "hi"})
    assert response.status_code == 200
    message = json.loads(reg_app.outbox.read_text(encoding="utf-8").splitlines()[-1])
    assert message["locale"] == "hi"
    otp = message["text"].split()[0]
    minutes = max(1, reg_app.config["COWIN_KIT"]["OTP_TTL_SECONDS"] // 60)
    catalog = read_catalog(po_path(LOCALES_DIR, "hi"), "hi")
    found = next(m for m in catalog if isinstance(m.id, tuple) and m.id[0].startswith(
        "%(otp)s is your one-time password for vaccination registration."))
    form = found.string[0 if minutes <= 1 else 1]  # Hindi (CLDR): n > 1 takes the second
    assert message["text"] == form % {"otp": otp, "num": minutes}
    # The account created by this sign-in keeps Hindi as its language.
    confirmed = client.post("/api/v1/auth/otp/confirm?lang=hi",
                            json={"txn_id": response.get_json()["txn_id"], "otp": otp})
    assert confirmed.status_code == 200
    from cowin_kit.core.db import get_database
    from cowin_kit.registration.models import CitizenAccount

    with reg_app.app_context(), get_database(reg_app).session() as session:
        account = session.query(CitizenAccount).one()
        assert account.locale == "hi"


# --- (e) the commands, on a copy -------------------------------------------------------------

@pytest.fixture
def locales_copy(tmp_path) -> Path:
    target = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, target, ignore=shutil.ignore_patterns("*.mo"))
    return target


def invoke(*args: str):
    return CliRunner().invoke(main, ["i18n", *args], catch_exceptions=False)


@pytest.mark.slow
def test_extract_update_compile_on_a_copy_of_the_catalogs(locales_copy):
    repository = {p: p.read_bytes() for p in LOCALES_DIR.rglob("*.po*")}
    for command in ("extract", "update", "compile"):
        result = invoke(command, "--locales-dir", str(locales_copy))
        assert result.exit_code == 0, result.output
    lines = {line.split(": ")[1]: line for line in result.output.splitlines()}
    assert sorted(lines) == sorted(CATALOGS)
    for locale in CATALOGS:
        assert po_path(locales_copy, locale).with_suffix(".mo").is_file()
    hindi = Translations.load(str(locales_copy), ["hi"])
    assert hindi.gettext("Not found") == translations("hi")["Not found"]
    # The repository's own catalogs were left alone.
    assert {p: p.read_bytes() for p in LOCALES_DIR.rglob("*.po*")} == repository
    # Run again: nothing changes any more.
    before = {p: p.read_bytes() for p in locales_copy.rglob("*") if p.is_file()}
    assert "unchanged" in invoke("extract", "--locales-dir", str(locales_copy)).output
    assert invoke("update", "--locales-dir", str(locales_copy)).output.count("unchanged") == len(CATALOGS)
    invoke("compile", "--locales-dir", str(locales_copy))
    assert {p: p.read_bytes() for p in locales_copy.rglob("*") if p.is_file()} == before


def test_a_new_message_goes_through_extract_update_compile(tmp_path):
    source = tmp_path / "pkg"
    source.mkdir()
    (source / "mod.py").write_text(
        'from cowin_kit.core.i18n import gettext as _, lazy_gettext, ngettext\n'
        'A = lazy_gettext("Hello %(name)s")\n'
        'def f(n):\n'
        '    return _("Bye"), ngettext("%(num)d dose", "%(num)d doses", n)\n',
        encoding="utf-8")
    (source / "templates").mkdir()
    (source / "templates" / "page.html").write_text(
        "<p>{{ _('On the page') }}</p>{% trans %}Block text{% endtrans %}", encoding="utf-8")
    locales = tmp_path / "locales"

    missing = invoke("init", "hi", "--locales-dir", str(locales))
    assert missing.exit_code != 0 and "run `cowin-kit i18n extract` first" in missing.output

    result = invoke("extract", "--locales-dir", str(locales), "--source-dir", str(source))
    assert result.exit_code == 0 and "(5 messages)" in result.output, result.output
    for locale in ("en", "hi", "ar"):
        assert invoke("init", locale, "--locales-dir", str(locales)).exit_code == 0
    assert po_path(locales, "hi").stat().st_mode & 0o777 == 0o644  # readable by the server
    again = invoke("init", "hi", "--locales-dir", str(locales))
    assert again.exit_code != 0 and "already exists" in again.output

    en = read_catalog(po_path(locales, "en"), "en")
    assert en.get("Bye").string == "Bye"  # the source language mirrors the msgids
    assert en.get(("%(num)d dose", "%(num)d doses")).string == ("%(num)d dose", "%(num)d doses")
    assert read_catalog(po_path(locales, "ar"), "ar").num_plurals == 6
    hi = read_catalog(po_path(locales, "hi"), "hi")
    assert hi.get("Hello %(name)s").string == ""
    assert {m.id for m in hi if m.id} >= {"Hello %(name)s", "Bye", "On the page", "Block text"}

    # Translate, change the code, update: the new text arrives empty, the old stays.
    text = po_path(locales, "hi").read_text(encoding="utf-8").replace(
        'msgid "Bye"\nmsgstr ""', 'msgid "Bye"\nmsgstr "अलविदा"')
    po_path(locales, "hi").write_text(text, encoding="utf-8")
    (source / "mod.py").write_text(
        (source / "mod.py").read_text(encoding="utf-8") + 'B = lazy_gettext("Welcome")\n',
        encoding="utf-8")
    assert "wrote" in invoke("extract", "--locales-dir", str(locales),
                             "--source-dir", str(source)).output
    result = invoke("update", "--locales-dir", str(locales))
    assert result.exit_code == 0, result.output
    hi = read_catalog(po_path(locales, "hi"), "hi")
    assert hi.get("Bye").string == "अलविदा" and hi.get("Welcome").string == ""
    assert read_catalog(po_path(locales, "en"), "en").get("Welcome").string == "Welcome"

    result = invoke("compile", "hi", "--locales-dir", str(locales))
    assert result.exit_code == 0, result.output
    assert "hi: 6 messages, 5 untranslated, 0 fuzzy" in result.output
    compiled = Translations.load(str(locales), ["hi"])
    assert compiled.gettext("Bye") == "अलविदा"
    assert compiled.gettext("Welcome") == "Welcome"  # untranslated: falls back to English


def test_compile_refuses_a_translation_with_other_placeholders(locales_copy):
    path = po_path(locales_copy, "fr")
    text = path.read_text(encoding="utf-8")
    msgid = 'msgid "No vaccine with code %(code)s."\n'
    start = text.index(msgid) + len(msgid)
    end = text.index("\n", start)
    path.write_text(text[:start] + 'msgstr "Aucun vaccin avec le code %(kode)s."'
                    + text[end:], encoding="utf-8")
    result = CliRunner().invoke(main, ["i18n", "compile", "--locales-dir", str(locales_copy)])
    assert result.exit_code == 1
    assert "%(code)s" in result.output or "kode" in result.output


def test_lazy_strings_are_not_evaluated_at_import():
    # Module-level texts (problem titles, SMS templates, marshmallow messages) must be lazy,
    # or they would be frozen in whatever language was active at import.
    from cowin_kit.notifications import TEMPLATES, PluralText
    from cowin_kit.core.problems import TITLES
    from cowin_kit.core.validation import MESSAGES

    lazy_type = type(lazy_gettext("x"))
    for text in [*TEMPLATES.values(), *TITLES.values(), *MESSAGES.values()]:
        assert isinstance(text, (lazy_type, PluralText))


def test_nested_field_errors_are_flattened_and_translated(reg_app):
    from cowin_kit.core.validation import load
    from cowin_kit.core.errors import InvalidInput

    class Item(Schema):
        code = fields.String(required=True)

    class Order(Schema):
        items = fields.List(fields.Nested(Item), required=True)

    hindi = translations("hi")
    with reg_app.test_request_context("/?lang=hi"):
        with pytest.raises(InvalidInput) as caught:
            load(Order(), {"items": [{"code": "a"}, {"code": 1}, {}]})
    assert caught.value.fields == {"items.1.code": [hindi["Not a valid string."]],
                                   "items.2.code": [hindi["Missing data for required field."]]}


def test_a_pack_can_reword_the_kits_messages(tmp_path, database_url):
    """A pack's locales/<lang>.po overrides the kit's catalog for that language."""
    import shutil

    from cowin_kit import create_app
    from cowin_kit.provision.installer import install_pack
    from cowin_kit.config.packs import load_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.testing import empty_tables as _empty_tables
    from conftest import EXAMPLES

    pack_dir = tmp_path / "in"
    shutil.copytree(EXAMPLES / "in", pack_dir)
    (pack_dir / "locales").mkdir()
    (pack_dir / "locales" / "hi.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Not found"\nmsgstr "यहाँ कुछ नहीं मिला"\n', encoding="utf-8")
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "i"),
                      "DATABASE_URL": database_url})
    with app.app_context(), get_database(app).session() as session:
        install_pack(session, load_pack(pack_dir))
    client = app.test_client()
    url = "/api/v1/sessions?location=NOWHERE&date=2030-01-01"
    hindi = client.get(url, headers={"Accept-Language": "hi"}).get_json()
    english = client.get(url, headers={"Accept-Language": "en"}).get_json()
    assert hindi["title"] == "यहाँ कुछ नहीं मिला"   # the pack's wording
    assert english["title"] == "Not found"          # no override for English
    _empty_tables(get_database(app).engine)
    get_database(app).dispose()
