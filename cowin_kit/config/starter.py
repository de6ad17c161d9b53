"""Starter country packs made from library data (``cowin-kit init --country KE --output DIR``).

A starter pack is a first draft of a country pack (see docs/country-packs.md) for any
ISO 3166-1 country, derived only from data shipped with the libraries cowin-kit already
uses:

- pycountry: the country, its level-1 ISO 3166-2 subdivisions and their translated names;
- Babel (CLDR): official languages, the country's name in each of them, its timezones;
- phonenumbers: the phone region, and (as a population proxy) which of the country's
  timezones covers most of its numbering plan;
- python-stdnum: national validators of personal identity, tax and social-security numbers.

It is meant to be reviewed: every YAML file starts with a comment listing what to check.
``write_starter_pack`` builds the pack in a temporary sibling folder and renames it into
place at the end, so a failure or Ctrl-C never leaves a partial pack behind.
"""

from __future__ import annotations

import csv
import functools
import gettext
import importlib
import logging
import os
import pkgutil
import re
import secrets
import shutil
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

log = logging.getLogger(__name__)

__all__ = ["StarterFacts", "starter_facts", "write_starter_pack"]

PACK_VERSION = "0.1.0"
PASSPORT_PATTERN = r"^[A-Z0-9]{6,12}$"
CERTIFICATE_FORMATS = ["vc", "dcc", "shc", "pdf"]
COVID19_SNOMED = "840539006"  # EU DCC disease-agent-targeted: COVID-19

# Generic COVID-19 products. EU DCC codes are those of the eHealth Network value sets
# (vaccine-medicinal-product, vaccine-mah-manf, vaccine-prophylaxis); CVX codes from CDC.
_PRODUCTS: list[dict[str, Any]] = [
    {
        "code": "COMIRNATY", "name": "Comirnaty", "manufacturer": "BioNTech / Pfizer",
        "codes": {"icd11": "XM0GQ8", "snomed": "1119349007", "eu_product": "EU/1/20/1528",
                  "eu_mah": "ORG-100030215", "eu_prophylaxis": "1119349007", "cvx": "208"},
        "schedule": {"min_age": 12, "interval": 21},
    },
    {
        "code": "SPIKEVAX", "name": "Spikevax", "manufacturer": "Moderna",
        "codes": {"icd11": "XM0GQ8", "snomed": "1119349007", "eu_product": "EU/1/20/1507",
                  "eu_mah": "ORG-100031184", "eu_prophylaxis": "1119349007", "cvx": "207"},
        "schedule": {"min_age": 12, "interval": 28},
    },
    {
        "code": "VAXZEVRIA", "name": "Vaxzevria", "manufacturer": "AstraZeneca",
        "codes": {"icd11": "XM9QW8", "snomed": "29061000087103",
                  "eu_product": "EU/1/21/1529", "eu_mah": "ORG-100001699",
                  "eu_prophylaxis": "29061000087103", "cvx": "210"},
        "schedule": {"min_age": 18, "interval": 28},
    },
]

_GENDERS = [("M", "Male"), ("F", "Female"), ("O", "Other")]

# python-stdnum modules: which ones are about persons. Judged on the first line of each
# module's docstring. A "strong" person word keeps a module even if it also mentions
# organisations (is_.kennitala, li.peid); otherwise any non-person word drops it.
_STRONG_PERSON = re.compile(
    r"\b(persons?|personal|individuals?|citizens?|physical person|birth number|"
    r"social (security|insurance)|resident|foreigners?|patient|voter)\b", re.I)
_WEAK_PERSON = re.compile(
    r"\b(identity|identification|identifier|national|tax|taxpayer|revenue|health|"
    r"passport|id)\b", re.I)
_NOT_PERSON = re.compile(
    r"\b(company|companies|business|enterprises?|entreprises?|corporate|corporation|"
    r"organi[sz]ations?|entity|entities|vat|iban|bank|postal|post ?code|postcode|trade|"
    r"securities|receipt|excise|meter|real estate|drugs?|payment|school|pupil|student|"
    r"invoices?|routing|employer|preparer|association|memorandum|establishment|"
    r"jur[ií]dica)\b|econ[oó]mic", re.I)
# Organisation-only numbers whose docstring does not say so.
_STDNUM_EXCLUDE = {"cn.uscc", "ru.ogrn"}


@dataclass(frozen=True)
class StarterFacts:
    """What the wizard shows the user before writing."""

    code: str                  # 'KE'
    name: str                  # English name
    locales: list[str]         # Babel identifiers, default first
    phone_region: str
    timezone: str
    id_validators: list[str]   # e.g. ['stdnum:ke.pin'] ; may be empty
    subdivision_count: int


# --------------------------------------------------------------------------- country


def _country(country_code: str):
    import pycountry

    code = country_code.strip().upper() if isinstance(country_code, str) else ""
    country = (pycountry.countries.get(alpha_2=code)
               if re.fullmatch(r"[A-Z]{2}", code) else None)
    if country is None:
        raise ValueError(f"unknown country code {country_code!r}")
    return country


def _english_name(country) -> str:
    from babel import Locale

    name = Locale("en").territories.get(country.alpha_2)
    # CLDR's English short names use "&" ("Bosnia & Herzegovina"): spell it out.
    return name.replace(" & ", " and ") if name else country.name


def _level1_subdivisions(cc: str) -> list:
    import pycountry

    try:
        subs = pycountry.subdivisions.get(country_code=cc) or []
    except KeyError:
        subs = []
    return sorted((s for s in subs if s.parent_code is None), key=lambda s: s.code)


# --------------------------------------------------------------------------- locales


def _parse_locale(identifier: str):
    from babel import Locale, UnknownLocaleError

    if not isinstance(identifier, str) or not identifier.strip():
        raise ValueError(f"unknown locale {identifier!r}")
    try:
        return Locale.parse(identifier.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError, LookupError) as exc:
        raise ValueError(f"unknown locale {identifier!r}") from exc


def _official_locales(cc: str) -> list[str]:
    from babel.languages import get_official_languages

    result: list[str] = []
    for lang in get_official_languages(cc, de_facto=True):
        try:
            ident = str(_parse_locale(lang))
        except ValueError:
            continue  # a language CLDR names but Babel ships no locale data for
        if ident not in result:
            result.append(ident)
    return result or ["en"]


def _normalise_locales(locales: Iterable[str]) -> list[str]:
    if isinstance(locales, str):
        locales = [locales]
    result: list[str] = []
    for item in locales:
        ident = str(_parse_locale(item))
        if ident not in result:
            result.append(ident)
    if not result:
        raise ValueError("at least one locale is required")
    return result


_SCRIPT_MODIFIERS = {"latin": "Latn", "cyrillic": "Cyrl"}


def _script_of(tag: str) -> str | None:
    """The script of a locale tag (``sr_Latn``, ``pa_PK``, ``sr@latin``) per CLDR."""
    from babel.core import get_global

    likely = get_global("likely_subtags")
    tag, _, modifier = tag.partition("@")
    if modifier:
        return _SCRIPT_MODIFIERS.get(modifier)
    parts = tag.split("_")
    if len(parts) > 1 and len(parts[1]) == 4:
        return parts[1]
    full = likely.get(tag)
    if full is None and len(parts) > 1:
        default = likely.get(parts[0], "").split("_")
        full = "_".join(default) if default[-1:] == parts[-1:] else None
    if full is None:  # pt_PT, fr_CA: the language's usual script
        full = likely.get(parts[0], "")
    found = full.split("_")
    return found[1] if len(found) == 3 else None


@functools.lru_cache(maxsize=None)
def _catalog(domain: str, locale_id: str) -> gettext.NullTranslations | None:
    """pycountry's gettext catalog of ``domain`` for a Babel locale, or None.

    The catalog folder is chosen here, not by gettext, whose fallback from ``sr_Latn`` to
    ``sr`` (Cyrillic) would pick the wrong script: a folder is used only when it is written
    in the locale's script. Preference: the exact tag, language_TERRITORY, the language
    alone, then a territory of the language (zh -> zh_CN, bn -> bn_BD, nb -> nb_NO),
    CLDR's likeliest first."""
    import pycountry
    from babel.core import get_global

    loc = _parse_locale(locale_id)
    lang = loc.language
    own = _script_of(str(loc))
    base = Path(pycountry.LOCALES_DIR)
    try:
        folders = [f.name for f in base.iterdir()
                   if re.split(r"[_@]", f.name)[0] == lang
                   and (f / "LC_MESSAGES" / f"{domain}.mo").is_file()]
    except OSError:  # pragma: no cover - pycountry without locales
        return None
    folders = [name for name in folders if own is None or _script_of(name) in (own, None)]
    likely = get_global("likely_subtags").get(f"{lang}_{own}" if own else lang, "")
    likely_territory = likely.split("_")[-1] if likely.count("_") == 2 else ""
    ranked = [str(loc), f"{lang}_{loc.territory}" if loc.territory else "", lang,
              f"{lang}_{likely_territory}" if likely_territory else ""]

    def rank(name: str) -> tuple[int, str]:
        return (ranked.index(name) if name in ranked else len(ranked), name)

    if not folders:
        return None
    mo = base / min(folders, key=rank) / "LC_MESSAGES" / f"{domain}.mo"
    try:
        with open(mo, "rb") as fh:
            return gettext.GNUTranslations(fh)
    except (OSError, gettext.error):  # pragma: no cover - a broken install
        return None


def _translate(domain: str, locale_id: str, text: str) -> str:
    catalog = _catalog(domain, locale_id)
    if catalog is None:
        return text
    return catalog.gettext(text) or text


def _country_name(country, locale_id: str) -> str:
    loc = _parse_locale(locale_id)
    if loc.language == "en" and not loc.territory and not loc.script:
        return _english_name(country)
    name = loc.territories.get(country.alpha_2)
    if name:
        return name
    translated = _translate("iso3166-1", locale_id, country.name)
    if translated != country.name:
        return translated
    return _english_name(country)


# --------------------------------------------------------------------------- timezone


@functools.lru_cache(maxsize=None)
def _zones(cc: str) -> tuple[str, ...]:
    """CLDR's zones of the territory (Babel ``territory_zones``) that the tz database knows."""
    from babel.core import get_global

    zones = list(get_global("territory_zones").get(cc) or [])
    try:
        import zoneinfo

        known = zoneinfo.available_timezones()
    except Exception:  # pragma: no cover - no tz database at all
        known = set()
    if known:
        zones = [z for z in zones if z in known]
    return tuple(zones)


@functools.lru_cache(maxsize=None)
def _timezone(cc: str) -> str:
    """The country's main IANA zone.

    Candidates are CLDR's zones of the territory (Babel ``territory_zones``). CLDR has no
    population data, so when there are several the one covering the largest share of the
    country's phone numbering plan (libphonenumber's prefix -> zone data) wins: a fair
    proxy for "most populous" (US -> America/New_York, RU -> Europe/Moscow,
    BR -> America/Sao_Paulo, AU -> Australia/Sydney). Ties keep CLDR's order."""
    from babel.core import get_global

    zones = list(_zones(cc))
    if not zones:
        return "UTC"
    if len(zones) == 1:
        return zones[0]
    weight: Counter[str] = Counter()
    try:
        import phonenumbers
        from phonenumbers.tzdata import TIMEZONE_DATA

        calling_code = str(phonenumbers.country_code_for_region(cc))
        aliases = get_global("zone_aliases")
        if calling_code != "0":
            for prefix, prefix_zones in TIMEZONE_DATA.items():
                if not prefix.startswith(calling_code):
                    continue
                mine = [aliases.get(z, z) for z in prefix_zones]
                mine = [z for z in mine if z in zones]
                for zone in mine:
                    # a shorter prefix stands for more numbers
                    weight[zone] += 10.0 ** -len(prefix) / len(mine)
    except Exception:  # pragma: no cover - phonenumbers without its timezone data
        log.debug("no phonenumbers timezone data", exc_info=True)
    return max(zones, key=lambda z: (weight[z], -zones.index(z)))


def _phone_region(cc: str) -> tuple[str, bool]:
    import phonenumbers

    return cc, cc in phonenumbers.SUPPORTED_REGIONS


# --------------------------------------------------------------------------- ID types


def _stdnum_package(cc: str) -> str | None:
    import stdnum

    names = {m.name for m in pkgutil.iter_modules(stdnum.__path__) if m.ispkg}
    low = cc.lower()
    for name in (low, f"{low}_"):  # stdnum.in_, stdnum.is_: Python keywords
        if name in names:
            return name
    return None


def _doc_first_line(module) -> str:
    for line in (module.__doc__ or "").strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _is_person_number(first_line: str) -> bool:
    if _STRONG_PERSON.search(first_line):
        return True
    return bool(_WEAK_PERSON.search(first_line)) and not _NOT_PERSON.search(first_line)


def _label(first_line: str, fallback: str) -> str:
    head, paren, _ = first_line.partition("(")
    label = head.strip().rstrip(",;:").strip()
    if not paren:  # a whole sentence: drop its full stop, keep abbreviations ("No.")
        label = re.sub(r"(?<=\w{3})\.$", "", label)
    return label or fallback.upper()


@functools.lru_cache(maxsize=None)
def _stdnum_id_types(cc: str) -> tuple[tuple[str, str, str], ...]:
    """(code, label, validator) of python-stdnum's person numbers for the country."""
    package = _stdnum_package(cc)
    if package is None:
        return ()
    pkg = importlib.import_module(f"stdnum.{package}")
    found = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.ispkg or info.name.startswith("_"):
            continue
        dotted = f"{package}.{info.name}"
        if dotted in _STDNUM_EXCLUDE:
            continue
        try:
            module = importlib.import_module(f"stdnum.{dotted}")
        except Exception:  # pragma: no cover - a module needing an optional dependency
            log.debug("cannot import stdnum.%s", dotted, exc_info=True)
            continue
        if not (callable(getattr(module, "validate", None))
                and callable(getattr(module, "compact", None))):
            continue
        first = _doc_first_line(module)
        if not _is_person_number(first):
            continue
        code = re.sub(r"[^a-z0-9_]+", "_", info.name.lower()).strip("_") or "id"
        found.append((code, _label(first, code), f"stdnum:{dotted}"))
    return tuple(found)


# --------------------------------------------------------------------------- facts


def starter_facts(country_code: str) -> StarterFacts:
    """The facts a starter pack for ``country_code`` (ISO 3166-1 alpha-2) would hold."""
    country = _country(country_code)
    cc = country.alpha_2
    return StarterFacts(
        code=cc,
        name=_english_name(country),
        locales=_official_locales(cc),
        phone_region=_phone_region(cc)[0],
        timezone=_timezone(cc),
        id_validators=[validator for _, _, validator in _stdnum_id_types(cc)],
        subdivision_count=len(_level1_subdivisions(cc)),
    )


def _library_versions() -> str:
    from importlib import metadata

    parts = []
    for dist in ("pycountry", "babel", "phonenumbers", "python-stdnum"):
        try:
            parts.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:  # pragma: no cover
            parts.append(dist)
    return ", ".join(parts)


def _snake(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")


def _localised(locales: list[str], text_for) -> dict[str, str]:
    return {loc: text_for(loc) for loc in locales}


def _build(country, locales: list[str], chosen_locales: bool = False,
           ) -> tuple[dict, list[str], list[dict], dict, list[str]]:
    """pack.yaml data, its review notes, location rows, vaccines.yaml data, CSV header."""
    cc = country.alpha_2
    english = _english_name(country)
    default = locales[0]
    timezone = _timezone(cc)
    phone_region, phone_ok = _phone_region(cc)
    subdivisions = _level1_subdivisions(cc)
    zone_count = len(_zones(cc))
    if zone_count > 1:
        zone_note = (f"- timezone {timezone}: chosen among CLDR's {zone_count} zones of {cc} "
                     "by share of the phone numbering plan; check it is the zone of most of "
                     "the population.")
    elif zone_count == 1:
        zone_note = f"- timezone {timezone}: the only CLDR zone of {cc}."
    else:
        zone_note = f"- timezone {timezone}: CLDR lists no zone for {cc}; set the real one."
    notes = [
        f"Starter pack for {english} ({cc}), generated by `cowin-kit init` from library "
        f"data ({_library_versions()}).",
        "It is a draft: REVIEW every item below before using it.",
        f"- locales {locales}: " + ("chosen at generation" if chosen_locales else
                                    "official languages per CLDR")
        + f"; add or remove as needed (default_locale is the first, {default}).",
        "- name: country names from CLDR; check each locale.",
        zone_note,
    ]
    if not phone_ok:
        notes.append(
            f"- phone_region {phone_region}: NOT a phonenumbers region, so `pack validate` "
            "rejects it; set the region whose mobile numbers are used there.")
    else:
        notes.append(f"- phone_region {phone_region}: checked against phonenumbers.")
    if subdivisions:
        types = Counter(s.type for s in subdivisions)
        level_name = sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        notes.append(
            f"- hierarchy: one level, {len(subdivisions)} ISO 3166-2 subdivisions of {cc} "
            f"(types: {', '.join(sorted(types))}) in locations.csv; the level name is in "
            "English for every locale: translate it, and add lower levels (districts, ...) "
            "with their rows in locations.csv.")
    else:
        level_name = "Country"
        notes.append(
            f"- hierarchy: ISO 3166-2 lists no subdivisions of {cc}; locations.csv holds the "
            "country itself as the only level-1 place. Add real levels and places.")
    notes.append(
        "- locations.csv: names from pycountry (ISO 3166-2) and its translations; where no "
        "translation exists the ISO name is repeated. Add lat/long and postal codes.")
    notes.append(
        "- id_types: national person numbers python-stdnum can check, plus a generic "
        "passport pattern. Keep only documents that are really accepted; set min_age and "
        "registration; labels are the stdnum names, not translated.")
    notes.append("- genders: labels are in English for every locale; translate them.")
    notes.append("- postal_code: omitted (no library gives a reliable pattern); add it if used.")
    notes.append(
        f"- certificates: the issuer is a placeholder (\"Ministry of Health of {english}\", "
        "English for every locale); set the real authority, issuer_id and logo.")

    level_key = _snake(level_name) or "region"
    id_types = [
        {"code": code, "label": _localised(locales, lambda _l, t=label: t),
         "validator": validator, "min_age": 0, "registration": True}
        for code, label, validator in _stdnum_id_types(cc)
    ]
    if not any(t["code"] == "passport" for t in id_types):
        id_types.append({"code": "passport", "label": _localised(locales, lambda _l: "Passport"),
                         "validator": f"regex:{PASSPORT_PATTERN}", "min_age": 0,
                         "registration": True})
    issuer = f"Ministry of Health of {english}"
    pack = {
        "code": cc,
        "version": PACK_VERSION,
        "name": _localised(locales, lambda loc: _country_name(country, loc)),
        "timezone": timezone,
        "locales": list(locales),
        "default_locale": default,
        "phone_region": phone_region,
        "max_beneficiaries_per_account": 4,
        "birth_capture": "year",
        "hierarchy": [{"key": level_key, "name": _localised(locales, lambda _l: level_name)}],
        "id_types": id_types,
        "genders": [{"code": code, "label": _localised(locales, lambda _l, t=text: t)}
                    for code, text in _GENDERS],
        "certificates": {"issuer": _localised(locales, lambda _l: issuer),
                         "formats": list(CERTIFICATE_FORMATS)},
    }

    header = ["code", "parent_code", "level", "name"] + [f"name_{loc}" for loc in locales[1:]]
    rows: list[dict] = []
    if subdivisions:
        for sub in subdivisions:
            names = {loc: _translate("iso3166-2", loc, sub.name) for loc in locales}
            rows.append(_row(sub.code, names, locales))
    else:
        rows.append(_row(cc, {loc: _country_name(country, loc) for loc in locales}, locales))

    vaccines = {
        "products": [
            {"code": p["code"], "name": _localised(locales, lambda _l, n=p["name"]: n),
             "manufacturer": p["manufacturer"], "codes": dict(p["codes"])}
            for p in _PRODUCTS
        ],
        "schedules": [
            {"code": f"covid19-{p['code'].lower()}",
             "disease": _localised(locales, lambda _l: "COVID-19"),
             "target_disease": COVID19_SNOMED,
             "products": [p["code"]],
             "interchangeable": False,
             "min_age": p["schedule"]["min_age"],
             "max_age": None,
             "doses": [{"number": 1},
                       {"number": 2, "min_interval_days": p["schedule"]["interval"]}]}
            for p in _PRODUCTS
        ],
    }
    return pack, notes, rows, vaccines, header


def _row(code: str, names: dict[str, str], locales: list[str]) -> dict:
    row = {"code": code, "parent_code": "", "level": 1, "name": names[locales[0]]}
    for loc in locales[1:]:
        row[f"name_{loc}"] = names[loc] or names[locales[0]]
    return row


# --------------------------------------------------------------------------- writing


def _comment(lines: list[str]) -> str:
    return "".join(f"# {line}\n" if line else "#\n" for line in lines) + "\n"


def _write_yaml(path: Path, data: dict, notes: list[str]) -> None:
    text = _comment(notes) + yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _write_locations(path: Path, header: list[str], rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        fh.flush()
        os.fsync(fh.fileno())


def _make_temp_dir(parent: Path, name: str) -> Path:
    # os.mkdir (not tempfile.mkdtemp, which makes it 0700) so the pack gets the usual
    # permissions once renamed into place.
    for _ in range(100):
        candidate = parent / f".{name}.tmp-{secrets.token_hex(4)}"
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"cannot create a temporary folder in {parent}")  # pragma: no cover


def write_starter_pack(country_code: str, output_dir: Path, *,
                       locales: list[str] | None = None) -> Path:
    """Write a starter pack (pack.yaml, locations.csv, vaccines.yaml) into ``output_dir``.

    ``locales`` replaces the official languages (Babel identifiers, default first).
    Refuses (FileExistsError) an ``output_dir`` that exists and is not an empty folder.
    All-or-nothing: the files are written into a temporary sibling folder renamed into
    place at the end; on any error or interruption that folder is removed.
    Returns the pack folder.
    """
    country = _country(country_code)
    chosen = _normalise_locales(locales) if locales is not None else _official_locales(
        country.alpha_2)
    output_dir = Path(output_dir).expanduser().absolute()
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        raise FileExistsError(f"{output_dir} exists and is not an empty folder")

    # Everything is computed before anything is written.
    pack, notes, rows, vaccines, header = _build(country, chosen, locales is not None)
    vaccine_notes = [
        f"Starter vaccine list for {_english_name(country)} ({country.alpha_2}), generated "
        "by `cowin-kit init`. REVIEW before use:",
        "- keep only the products authorised and used in the country, add the others;",
        "- schedules are a generic two-dose primary series (minimum interval 21 days for "
        "Comirnaty, 28 for Spikevax and Vaxzevria): set the national ages, intervals, "
        "maximum intervals and boosters;",
        "- codes: EU DCC value sets (eu_product, eu_mah, eu_prophylaxis), SNOMED CT, "
        "WHO ICD-11 and CDC CVX codes of these products;",
        "- names and disease labels are not translated.",
    ]

    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = _make_temp_dir(output_dir.parent, output_dir.name)
    try:
        _write_yaml(tmp / "pack.yaml", pack, notes)
        _write_locations(tmp / "locations.csv", header, rows)
        _write_yaml(tmp / "vaccines.yaml", vaccines, vaccine_notes)
        if output_dir.exists():
            if any(output_dir.iterdir()):
                raise FileExistsError(f"{output_dir} exists and is not an empty folder")
            try:
                os.replace(tmp, output_dir)  # POSIX replaces an empty folder atomically
            except OSError:
                os.rmdir(output_dir)  # Windows: rename cannot replace a folder
                os.replace(tmp, output_dir)
        else:
            os.replace(tmp, output_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return output_dir
