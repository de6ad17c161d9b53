"""Reading and validating country packs.

``validate_pack(path)`` returns every problem of a pack folder as ``Problem`` rows
(``FILE:LINE: field: message``); ``load_pack(path)`` returns a ``Pack`` or raises
``PackInvalid`` with the same rows. Nothing here touches the database.
"""

from __future__ import annotations

import csv
import io
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers
import pycountry
from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po
from marshmallow import ValidationError

from cowin_kit.config.pack_files import (  # noqa: F401  (logo_bytes: public here too)
    content_hash, inline_logo, logo_bytes, logo_problem,
)
from cowin_kit.config.pack_yaml import (  # noqa: F401  (Problem, PackInvalid: public here too)
    PackInvalid, Problem, _dotted, _LineMap, _load_yaml, _schema_problems,
)
from cowin_kit.config.schemas import PackSchema, VaccinesSchema
from cowin_kit.config.site import site_problems, untranslated_locales, untranslated_message
from cowin_kit.core.durations import parse as parse_duration
from cowin_kit.idnumbers import validator_problem

PACK_FILE = "pack.yaml"
LOCATIONS_FILE = "locations.csv"
VACCINES_FILE = "vaccines.yaml"
POPULATION_FILE = "population.csv"
LOCALES_DIR = "locales"
AGE_BAND = re.compile(r"^(\d{1,3})-(\d{1,3})$|^(\d{1,3})\+$")
ISO_SUBDIVISION_SHAPE = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
# Dose fields that only routine schedules use (the appointment flows ignore them).
ROUTINE_DOSE_FIELDS = ("age", "min_age", "max_age", "grace", "not_needed_if_started_after")
PREGNANCY_DAYS = 42 * 7


@dataclass
class LocationRow:
    line: int
    code: str
    parent_code: str | None
    level: int
    name: str
    names: dict[str, str]
    postal_codes: list[str]
    latitude: float | None
    longitude: float | None


@dataclass
class PopulationRow:
    line: int
    location_code: str
    year: int
    age_band: str
    sex: str
    count: int


@dataclass
class Pack:
    path: Path
    document: dict[str, Any]
    locations: list[LocationRow]
    vaccines: dict[str, Any]
    population: list[PopulationRow]
    content_hash: str
    translations: dict[str, Path] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.document["code"]

    @property
    def version(self) -> str:
        return self.document["version"]

    @property
    def locales(self) -> list[str]:
        return self.document["locales"]


def _days(value: Any) -> int | None:
    """A (schema-checked) duration as approximate days, for comparing; None stays None."""
    return None if value is None else parse_duration(value).approx_days()


def _interval(dose: dict[str, Any], key: str) -> int | None:
    """A dose's min_interval or max_interval in (approximate) days, from either spelling."""
    if dose.get(key) is not None:
        return _days(dose[key])
    return dose.get(f"{key}_days")


# --- validation --------------------------------------------------------------------------

class _Validator:
    def __init__(self, root: Path):
        self.root = root
        self.problems: list[Problem] = []
        self._vaccine_lines = _LineMap()

    def problem(self, file: str, line: int, field_name: str, message: str) -> None:
        self.problems.append(Problem(file, line, field_name, message))

    def run(self) -> Pack | None:
        if not self.root.is_dir():
            self.problem(str(self.root), 0, "(pack)", "not a folder")
            return None
        document, context = self._load_pack_yaml()
        # When pack.yaml has problems, the parts of it that are valid still serve to
        # check the other files, so that one run reports as much as it can.
        vaccines = self._load_vaccines(context)
        locations = self._load_locations(context)
        if vaccines is not None:
            self._check_schedule_scope(vaccines, context, locations)
        population = self._load_population(context, locations)
        translations = self._check_translations(context)
        if self.problems or document is None or vaccines is None:
            return None
        return Pack(self.root, inline_logo(self.root, document), locations, vaccines,
                    population, content_hash(self.root), translations)

    # pack.yaml
    def _load_pack_yaml(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(the valid document or None, the best context for checking the other files)."""
        text = self._read(PACK_FILE)
        if text is None:
            return None, None
        raw, lines = _load_yaml(text, PACK_FILE, self.problems)
        if raw is None:
            if not any(p.file == PACK_FILE for p in self.problems):
                self.problem(PACK_FILE, 1, "(document)", "file is empty")
            return None, None
        if not isinstance(raw, dict):
            self.problem(PACK_FILE, 1, "(document)", "must be a mapping of keys to values")
            return None, None
        try:
            document = PackSchema().load(raw)
        except ValidationError as exc:
            self.problems += _schema_problems(exc.messages, (), lines, PACK_FILE)
            partial = exc.valid_data if isinstance(exc.valid_data, dict) else {}
            needed = ("code", "locales", "default_locale", "hierarchy", "genders")
            usable = all(key in partial for key in needed)
            return None, (partial if usable else None)
        self._check_pack_facts(document, lines)
        return document, document

    def _check_pack_facts(self, doc: dict[str, Any], lines: _LineMap) -> None:
        f = PACK_FILE
        line = lines.line_of
        if pycountry.countries.get(alpha_2=doc["code"]) is None:
            self.problem(f, line(("code",)), "code", f"{doc['code']!r} is not an ISO 3166-1 alpha-2 code")
        try:
            zoneinfo.ZoneInfo(doc["timezone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.problem(f, line(("timezone",)), "timezone", f"unknown IANA timezone {doc['timezone']!r}")
        for index, locale in enumerate(doc["locales"]):
            try:
                Locale.parse(locale)
            except (UnknownLocaleError, ValueError):
                self.problem(f, line(("locales", index)), f"locales[{index}]",
                             f"{locale!r} is not a locale Babel knows")
        if len(set(doc["locales"])) != len(doc["locales"]):
            self.problem(f, line(("locales",)), "locales", "a locale is listed twice")
        if doc["default_locale"] not in doc["locales"]:
            self.problem(f, line(("default_locale",)), "default_locale",
                         f"{doc['default_locale']!r} is not one of locales")
        if doc["phone_region"] not in phonenumbers.SUPPORTED_REGIONS:
            self.problem(f, line(("phone_region",)), "phone_region",
                         f"{doc['phone_region']!r} is not a phone region phonenumbers knows")
        postal = doc.get("postal_code")
        if postal:
            try:
                re.compile(postal["pattern"])
            except re.error as exc:
                self.problem(f, line(("postal_code", "pattern")), "postal_code.pattern",
                             f"regular expression does not compile: {exc}")
        self._unique(f, lines, doc["hierarchy"], "hierarchy", "key")
        self._unique(f, lines, doc["id_types"], "id_types", "code")
        self._unique(f, lines, doc["genders"], "genders", "code")
        for index, id_type in enumerate(doc["id_types"]):
            reason = validator_problem(id_type["validator"])
            if reason:
                self.problem(f, line(("id_types", index, "validator")),
                             f"id_types[{index}].validator", reason)
        if not any(t["registration"] for t in doc["id_types"]):
            self.problem(f, line(("id_types",)), "id_types",
                         "at least one ID type must allow registration")
        logo = doc["certificates"].get("logo")
        if logo:
            reason = logo_problem(self.root, logo)
            if reason:
                self.problem(f, line(("certificates", "logo")), "certificates.logo", reason)
        # Every localised text needs every declared locale.
        texts: list[tuple[tuple[Any, ...], dict[str, str]]] = [(("name",), doc["name"])]
        texts += [(("hierarchy", i, "name"), lvl["name"]) for i, lvl in enumerate(doc["hierarchy"])]
        texts += [(("id_types", i, "label"), t["label"]) for i, t in enumerate(doc["id_types"])]
        texts += [(("genders", i, "label"), g["label"]) for i, g in enumerate(doc["genders"])]
        texts.append((("certificates", "issuer"), doc["certificates"]["issuer"]))
        if postal:
            texts.append((("postal_code", "label"), postal["label"]))
        texts += self._check_safety(doc, lines)
        public = doc.get("public_data") or {}
        level = public.get("lowest_level")
        if level is not None and level not in {h["key"] for h in doc["hierarchy"]}:
            self.problem(PACK_FILE, lines.line_of(("public_data", "lowest_level")),
                         "public_data.lowest_level", f"{level!r} is not a key of hierarchy")
        if public.get("publisher"):
            texts.append((("public_data", "publisher"), public["publisher"]))
        site_found, site_texts = site_problems(doc)
        for path, message in site_found:
            self.problem(f, line(path), _dotted(path), message)
        texts += site_texts
        self._check_texts(f, lines, texts, doc["locales"])

    def _check_safety(self, doc: dict[str, Any], lines: _LineMap
                      ) -> list[tuple[tuple[Any, ...], dict[str, str]]]:
        """``safety:``: stage codes once each, the alert level a hierarchy key; the
        stages' names (returned) need every locale."""
        safety = doc.get("safety") or {}
        stages = safety.get("stages") or []
        seen: dict[str, int] = {}
        for index, stage in enumerate(stages):
            if stage["code"] in seen:
                self.problem(PACK_FILE, lines.line_of(("safety", "stages", index, "code")),
                             f"safety.stages[{index}].code",
                             f"{stage['code']!r} is used twice (also "
                             f"safety.stages[{seen[stage['code']]}])")
            seen.setdefault(stage["code"], index)
        level = safety.get("alert_level")
        if level is not None and level not in {h["key"] for h in doc["hierarchy"]}:
            self.problem(PACK_FILE, lines.line_of(("safety", "alert_level")),
                         "safety.alert_level", f"{level!r} is not a key of hierarchy")
        return [(("safety", "stages", i, "name"), stage["name"])
                for i, stage in enumerate(stages)]

    def _check_texts(self, file: str, lines: _LineMap,
                     texts: list[tuple[tuple[Any, ...], dict[str, str]]],
                     locales: list[str]) -> None:
        for path, text in texts:
            missing = [loc for loc in locales if loc not in text]
            extra = [loc for loc in text if loc not in locales]
            if missing:
                self.problem(file, lines.line_of(path), _dotted(path),
                             f"missing text for locale {', '.join(missing)}")
            if extra:
                self.problem(file, lines.line_of(path), _dotted(path),
                             f"text for undeclared locale {', '.join(extra)}")

    def _unique(self, file: str, lines: _LineMap, items: list[dict[str, Any]], name: str,
                key: str) -> None:
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            value = item[key]
            if value in seen:
                self.problem(file, lines.line_of((name, index, key)), f"{name}[{index}].{key}",
                             f"{value!r} is used twice (also {name}[{seen[value]}])")
            seen.setdefault(value, index)

    # vaccines.yaml
    def _load_vaccines(self, pack_doc: dict[str, Any] | None) -> dict[str, Any] | None:
        f = VACCINES_FILE
        text = self._read(f)
        if text is None:
            return None
        raw, lines = _load_yaml(text, f, self.problems)
        if not isinstance(raw, dict):
            if raw is not None or not any(p.file == f for p in self.problems):
                self.problem(f, 1, "(document)", "must be a mapping with products and schedules")
            return None
        try:
            doc = VaccinesSchema().load(raw)
        except ValidationError as exc:
            self.problems += _schema_problems(exc.messages, (), lines, f)
            return None
        self._vaccine_lines = lines
        self._unique(f, lines, doc["products"], "products", "code")
        self._unique(f, lines, doc["schedules"], "schedules", "code")
        self._check_schedules(f, lines, doc)
        if pack_doc is not None:
            locales = pack_doc["locales"]
            texts = [(("products", i, "name"), p["name"]) for i, p in enumerate(doc["products"])]
            texts += [(("schedules", i, "disease"), s["disease"])
                      for i, s in enumerate(doc["schedules"])]
            self._check_texts(f, lines, texts, locales)
        return doc

    def _check_schedules(self, f: str, lines: _LineMap, doc: dict[str, Any]) -> None:
        line = lines.line_of
        product_codes = {p["code"] for p in doc["products"]}
        for p_index, product in enumerate(doc["products"]):
            seen: set[str] = set()
            for a_index, antigen in enumerate(product["antigens"]):
                if antigen in seen:
                    self.problem(f, line(("products", p_index, "antigens", a_index)),
                                 f"products[{p_index}].antigens[{a_index}]",
                                 f"{antigen!r} is listed twice")
                seen.add(antigen)
            self._check_product_stock(f, lines, product, p_index)
        for s_index, schedule in enumerate(doc["schedules"]):
            where = ("schedules", s_index)
            sname = f"schedules[{s_index}]"
            for p_index, code in enumerate(schedule["products"]):
                if code not in product_codes:
                    self.problem(f, line(where + ("products", p_index)),
                                 f"{sname}.products[{p_index}]", f"unknown product {code!r}")
            low_age, high_age = _days(schedule["min_age"]), _days(schedule["max_age"])
            if high_age is not None and high_age < low_age:
                self.problem(f, line(where + ("max_age",)), f"{sname}.max_age",
                             "is below min_age")
            self._check_schedule_kind(f, lines, schedule, where, sname)
            for d_index in range(len(schedule["doses"])):
                self._check_dose(f, lines, schedule, s_index, d_index, product_codes)

    def _check_product_stock(self, f: str, lines: _LineMap, product: dict[str, Any],
                             p_index: int) -> None:
        """A multi-dose product states its open-vial policy (exactly one of
        open_vial_days and discard_at_session_end); a single-dose one needs neither."""
        stock = product.get("stock") or {}
        if not stock:
            return
        where = ("products", p_index, "stock")
        name = f"products[{p_index}].stock"
        days, session_end = stock.get("open_vial_days"), stock.get("discard_at_session_end")
        if days is not None and session_end:
            self.problem(f, lines.line_of(where + ("open_vial_days",)), name,
                         "give open_vial_days or discard_at_session_end, not both")
        elif stock["doses_per_vial"] > 1 and days is None and not session_end:
            self.problem(f, lines.line_of(where + ("doses_per_vial",)), name,
                         "a multi-dose vial needs its open-vial policy: open_vial_days "
                         "or discard_at_session_end: true")

    def _check_schedule_kind(self, f: str, lines: _LineMap, schedule: dict[str, Any],
                             where: tuple[Any, ...], sname: str) -> None:
        """Routine and pregnancy fields used where they mean something."""
        line = lines.line_of
        routine, pregnancy = schedule["routine"], schedule["timed_from"] == "pregnancy"
        if not routine:
            for key in ("start_max_age", "grace", "prior_series_within", "sex", "areas"):
                if key in schedule:
                    self.problem(f, line(where + (key,)), f"{sname}.{key}",
                                 "only for routine schedules (routine: true)")
            if pregnancy:
                self.problem(f, line(where + ("timed_from",)), f"{sname}.timed_from",
                             "pregnancy schedules must be routine (routine: true)")
            for d_index, dose in enumerate(schedule["doses"]):
                for key in ROUTINE_DOSE_FIELDS:
                    if key in dose:
                        self.problem(f, line(where + ("doses", d_index, key)),
                                     f"{sname}.doses[{d_index}].{key}",
                                     "only for routine schedules (routine: true)")
            return
        if "prior_series_within" in schedule:
            if not pregnancy:
                self.problem(f, line(where + ("prior_series_within",)),
                             f"{sname}.prior_series_within",
                             "only for schedules timed from pregnancy (timed_from: pregnancy)")
            elif not any(d["booster"] for d in schedule["doses"]):
                self.problem(f, line(where + ("prior_series_within",)),
                             f"{sname}.prior_series_within",
                             "the schedule has no booster dose to give instead of the series")
        start_max = _days(schedule.get("start_max_age"))
        high_age = _days(schedule["max_age"])
        if start_max is not None and high_age is not None and not pregnancy \
                and start_max > high_age:
            self.problem(f, line(where + ("start_max_age",)), f"{sname}.start_max_age",
                         "is beyond the schedule's max_age")
        first = schedule["doses"][0]
        if first.get("age") is None:
            self.problem(f, line(where + ("doses", 0)), f"{sname}.doses[0].age",
                         "required for the first dose of a routine schedule "
                         "(the recommended age: its due date)")
        if pregnancy:
            for d_index, dose in enumerate(schedule["doses"]):
                for key in ("age", "min_age"):
                    days = _days(dose.get(key))
                    if days is not None and days > PREGNANCY_DAYS:
                        self.problem(f, line(where + ("doses", d_index, key)),
                                     f"{sname}.doses[{d_index}].{key}",
                                     "later than a pregnancy lasts (42w): pregnancy "
                                     "schedules count from the pregnancy's registration")

    def _check_schedule_scope(self, doc: dict[str, Any], pack_doc: dict[str, Any] | None,
                              locations: list[LocationRow]) -> None:
        """A schedule's ``sex`` names gender codes of pack.yaml and its ``areas`` location
        codes of locations.csv, each once and no area inside another listed one."""
        f, line = VACCINES_FILE, self._vaccine_lines.line_of
        genders = {g["code"] for g in pack_doc["genders"]} if pack_doc else None
        # Without a readable locations.csv (its own problem is reported) areas are not
        # checked against it.
        parents = {row.code: row.parent_code for row in locations} if locations else None
        for s_index, schedule in enumerate(doc["schedules"]):
            where = ("schedules", s_index)
            for key, known, what in (("sex", genders, "gender code of pack.yaml genders"),
                                     ("areas", parents, "location code of locations.csv")):
                listed: set[str] = set()
                for index, code in enumerate(schedule.get(key, ())):
                    path = where + (key, index)
                    name = f"schedules[{s_index}].{key}[{index}]"
                    if code in listed:
                        self.problem(f, line(path), name, f"{code!r} is listed twice")
                    elif known is not None and code not in known:
                        self.problem(f, line(path), name, f"{code!r} is not a {what}")
                    listed.add(code)
            if parents is None:
                continue
            areas = set(schedule.get("areas", ()))
            for index, code in enumerate(schedule.get("areas", ())):
                ancestor, seen = parents.get(code), {code}
                while ancestor is not None and ancestor not in seen:
                    if ancestor in areas:
                        self.problem(f, line(where + ("areas", index)),
                                     f"schedules[{s_index}].areas[{index}]",
                                     f"{code!r} is inside {ancestor!r}, which is listed "
                                     "too: list the larger area only")
                        break
                    seen.add(ancestor)
                    ancestor = parents.get(ancestor)

    def _check_dose(self, f: str, lines: _LineMap, schedule: dict[str, Any], s_index: int,
                    d_index: int, product_codes: set[str]) -> None:
        line = lines.line_of
        doses = schedule["doses"]
        dose = doses[d_index]
        where = ("schedules", s_index)
        dpath = where + ("doses", d_index)
        dname = f"schedules[{s_index}].doses[{d_index}]"
        if dose["number"] != d_index + 1:
            self.problem(f, line(dpath + ("number",)), dname + ".number",
                         f"expected {d_index + 1}: dose numbers start at 1 and are consecutive")
        for days_key, key in (("min_interval_days", "min_interval"),
                              ("max_interval_days", "max_interval")):
            if dose.get(days_key) is not None and key in dose:
                self.problem(f, line(dpath + (key,)), f"{dname}.{key}",
                             f"give {key} or {days_key}, not both")
        low = _interval(dose, "min_interval")
        high = _interval(dose, "max_interval")
        # A pregnancy schedule's booster given instead of the series (prior_series_within)
        # follows no previous dose.
        instead = dose["booster"] and schedule.get("prior_series_within") is not None
        if d_index > 0 and low is None and not instead:
            self.problem(f, line(dpath), dname + ".min_interval",
                         "required for every dose after the first "
                         "(min_interval, or min_interval_days)")
        if d_index == 0 and (low is not None or high is not None):
            self.problem(f, line(dpath), dname, "the first dose has no interval")
        if low is not None and high is not None and high < low:
            key = "max_interval" if "max_interval" in dose else "max_interval_days"
            self.problem(f, line(dpath + (key,)), f"{dname}.{key}",
                         "is below min_interval" if key == "max_interval"
                         else "is below min_interval_days")
        for p_index, code in enumerate(dose.get("products", [])):
            if code not in product_codes:
                self.problem(f, line(dpath + ("products", p_index)),
                             f"{dname}.products[{p_index}]", f"unknown product {code!r}")
        if dose["booster"] and d_index == 0:
            self.problem(f, line(dpath + ("booster",)), dname + ".booster",
                         "the first dose cannot be a booster")
        if not dose["booster"] and d_index > 0 and doses[d_index - 1]["booster"]:
            self.problem(f, line(dpath), dname, "primary doses must come before boosters")
        if "not_needed_if_started_after" in dose and d_index == 0:
            self.problem(f, line(dpath + ("not_needed_if_started_after",)),
                         dname + ".not_needed_if_started_after",
                         "the first dose is always needed")
        # Ages of this dose against each other.
        age, min_age, max_age = (_days(dose.get(k)) for k in ("age", "min_age", "max_age"))
        if min_age is not None and age is not None and age < min_age:
            self.problem(f, line(dpath + ("age",)), dname + ".age", "is before min_age")
        if max_age is not None and age is not None and age > max_age:
            self.problem(f, line(dpath + ("age",)), dname + ".age", "is after max_age")
        if max_age is not None and min_age is not None and max_age < min_age:
            self.problem(f, line(dpath + ("max_age",)), dname + ".max_age", "is below min_age")
        schedule_max = _days(schedule["max_age"])
        if (schedule["timed_from"] == "birth" and max_age is not None
                and schedule_max is not None and max_age > schedule_max):
            self.problem(f, line(dpath + ("max_age",)), dname + ".max_age",
                         "is beyond the schedule's max_age")
        if d_index == 0 or instead:
            return
        # Against the previous dose.
        previous = doses[d_index - 1]
        n = d_index  # the previous dose's number
        prev_age = _days(previous.get("age"))
        if age is not None and prev_age is not None:
            if age < prev_age:
                self.problem(f, line(dpath + ("age",)), dname + ".age",
                             f"is before dose {n}'s age")
            else:
                gap = age - prev_age
                if low is not None and low > gap:
                    self.problem(f, line(dpath), dname + ".min_interval",
                                 f"is longer than the gap between dose {n}'s age and this "
                                 f"dose's age ({gap} days): the ages contradict the interval")
                if high is not None and high < gap:
                    self.problem(f, line(dpath), dname + ".max_interval",
                                 f"is shorter than the gap between dose {n}'s age and this "
                                 f"dose's age ({gap} days): the ages contradict the interval")
        earliest = self._earliest_ages(schedule)[d_index]
        if max_age is not None and earliest is not None and earliest > max_age:
            self.problem(f, line(dpath + ("max_age",)), dname + ".max_age",
                         f"cannot be met: the earliest age for this dose is about {earliest} "
                         f"days (dose {n}'s earliest age plus min_interval), after max_age "
                         f"(about {max_age} days)")

    @staticmethod
    def _earliest_ages(schedule: dict[str, Any]) -> list[int | None]:
        """Approximate earliest valid age in days of each dose (None: not computable)."""
        out: list[int | None] = []
        for index, dose in enumerate(schedule["doses"]):
            own = _days(dose.get("min_age"))
            if own is None:
                own = _days(dose.get("age")) if index == 0 else None
            if index == 0:
                out.append(own if own is not None else 0)
                continue
            before, low = out[-1], _interval(dose, "min_interval")
            chained = None if before is None or low is None else before + low
            candidates = [v for v in (own, chained) if v is not None]
            out.append(max(candidates) if candidates else None)
        return out

    # locations.csv
    def _load_locations(self, pack_doc: dict[str, Any] | None) -> list[LocationRow]:
        f = LOCATIONS_FILE
        rows = self._read_csv(f, required=("code", "parent_code", "level", "name"))
        if rows is None:
            return []
        header, records = rows
        if pack_doc is None:
            return []
        default = pack_doc["default_locale"]
        others = [loc for loc in pack_doc["locales"] if loc != default]
        allowed = {"code", "parent_code", "level", "name", "postal_codes", "lat", "long"}
        allowed |= {f"name_{loc}" for loc in others}
        for column in header:
            if column not in allowed:
                self.problem(f, 1, column, "unknown column" + (
                    f" (locale {column[5:]!r} is not declared in pack.yaml)"
                    if column.startswith("name_") else ""))
        for loc in others:
            if f"name_{loc}" not in header:
                self.problem(f, 1, f"name_{loc}", f"column missing for locale {loc!r}")
        levels = len(pack_doc["hierarchy"])
        postal = pack_doc.get("postal_code")
        postal_re = None
        if postal:
            try:
                postal_re = re.compile(postal["pattern"])
            except re.error:
                postal_re = None
        iso_codes = {s.code for s in pycountry.subdivisions.get(country_code=pack_doc["code"]) or []}

        out: list[LocationRow] = []
        first_line: dict[str, int] = {}
        for line_no, record in records:
            code = (record.get("code") or "").strip()
            if not code:
                self.problem(f, line_no, "code", "must not be empty")
                continue
            if code in first_line:
                self.problem(f, line_no, "code", f"{code!r} is used twice (first on line {first_line[code]})")
                continue
            first_line[code] = line_no
            level_text = (record.get("level") or "").strip()
            try:
                level = int(level_text)
            except ValueError:
                self.problem(f, line_no, "level", f"{level_text!r} is not a whole number")
                continue
            if not 1 <= level <= levels:
                self.problem(f, line_no, "level", f"must be 1 to {levels} (the hierarchy's levels)")
                continue
            name = (record.get("name") or "").strip()
            if not name:
                self.problem(f, line_no, "name", "must not be empty")
            names: dict[str, str] = {}
            for loc in others:
                value = (record.get(f"name_{loc}") or "").strip()
                if f"name_{loc}" in header and not value:
                    self.problem(f, line_no, f"name_{loc}", f"missing name for locale {loc!r}")
                names[loc] = value
            parent = (record.get("parent_code") or "").strip() or None
            if level == 1 and parent:
                self.problem(f, line_no, "parent_code", "must be empty on level 1")
            if level > 1 and not parent:
                self.problem(f, line_no, "parent_code", f"required on level {level}")
            if (level == 1 and iso_codes and ISO_SUBDIVISION_SHAPE.match(code)
                    and code not in iso_codes):
                self.problem(f, line_no, "code", f"{code!r} is not an ISO 3166-2 code of {pack_doc['code']}")
            postal_codes = [p.strip() for p in (record.get("postal_codes") or "").split(";") if p.strip()]
            if postal_codes and not postal:
                self.problem(f, line_no, "postal_codes", "pack.yaml declares no postal_code pattern")
            elif postal_re is not None:
                for value in postal_codes:
                    if not postal_re.fullmatch(value):
                        self.problem(f, line_no, "postal_codes", f"{value!r} does not match postal_code.pattern")
            lat = self._coordinate(f, line_no, record, "lat", 90)
            lon = self._coordinate(f, line_no, record, "long", 180)
            if bool((record.get("lat") or "").strip()) != bool((record.get("long") or "").strip()):
                self.problem(f, line_no, "lat", "give both lat and long, or neither")
            out.append(LocationRow(line_no, code, parent, level, name, names, postal_codes, lat, lon))

        by_code = {row.code: row for row in out}
        for row in out:
            if row.parent_code is None or row.level == 1:
                continue
            parent_row = by_code.get(row.parent_code)
            if parent_row is None:
                if row.parent_code not in first_line:
                    self.problem(f, row.line, "parent_code", f"no location with code {row.parent_code!r}")
            elif parent_row.level != row.level - 1:
                self.problem(f, row.line, "parent_code",
                             f"parent {row.parent_code!r} is on level {parent_row.level}, expected {row.level - 1}")
        if not any(row.level == 1 for row in out) and records:
            self.problem(f, 1, "level", "no level-1 location")
        return out

    def _coordinate(self, file: str, line_no: int, record: dict[str, str], column: str,
                    bound: int) -> float | None:
        text = (record.get(column) or "").strip()
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            self.problem(file, line_no, column, f"{text!r} is not a number")
            return None
        if not -bound <= value <= bound:
            self.problem(file, line_no, column, f"must be between -{bound} and {bound}")
            return None
        return value

    # population.csv
    def _load_population(self, pack_doc: dict[str, Any] | None,
                         locations: list[LocationRow]) -> list[PopulationRow]:
        f = POPULATION_FILE
        if not (self.root / f).exists():
            return []
        columns = ("location_code", "year", "age_band", "sex", "count")
        rows = self._read_csv(f, required=columns)
        if rows is None:
            return []
        header, records = rows
        for column in header:
            if column not in columns:
                self.problem(f, 1, column, "unknown column")
        codes = {row.code for row in locations}
        sexes = {"all"} | ({g["code"] for g in pack_doc["genders"]} if pack_doc else set())
        out: list[PopulationRow] = []
        seen: dict[tuple[str, int, str, str], int] = {}
        for line_no, record in records:
            code = (record.get("location_code") or "").strip()
            ok = True
            if code not in codes:
                self.problem(f, line_no, "location_code", f"no location with code {code!r}")
                ok = False
            try:
                year = int(record.get("year") or "")
                if not 1900 <= year <= 2200:
                    raise ValueError
            except ValueError:
                self.problem(f, line_no, "year", "must be a year like 2026")
                ok = False
            band = (record.get("age_band") or "").strip()
            match = AGE_BAND.match(band)
            if not match or (match.group(1) and int(match.group(1)) > int(match.group(2))):
                self.problem(f, line_no, "age_band", f"{band!r} is not like 18-44 or 60+")
                ok = False
            sex = (record.get("sex") or "").strip()
            if pack_doc and sex not in sexes:
                self.problem(f, line_no, "sex", f"{sex!r} is not a gender code of pack.yaml or 'all'")
                ok = False
            try:
                count = int(record.get("count") or "")
                if count < 0:
                    raise ValueError
            except ValueError:
                self.problem(f, line_no, "count", "must be a whole number, 0 or more")
                ok = False
            if not ok:
                continue
            key = (code, year, band, sex)
            if key in seen:
                self.problem(f, line_no, "location_code", f"same place, year, age band and sex as line {seen[key]}")
                continue
            seen[key] = line_no
            out.append(PopulationRow(line_no, code, year, band, sex, count))
        return out

    # locales/
    def _check_translations(self, pack_doc: dict[str, Any] | None) -> dict[str, Path]:
        folder = self.root / LOCALES_DIR
        found: dict[str, Path] = {}
        if not folder.is_dir():
            return found
        for po_path in sorted(folder.glob("*.po")):
            rel = f"{LOCALES_DIR}/{po_path.name}"
            locale = po_path.stem
            if pack_doc and locale not in pack_doc["locales"]:
                self.problem(rel, 1, "(file)", f"locale {locale!r} is not declared in pack.yaml")
            try:
                with po_path.open("rb") as handle:
                    read_po(handle, locale=locale, abort_invalid=True)
            except Exception as exc:  # babel raises PoFileError and friends
                line = getattr(exc, "lineno", 1) or 1
                self.problem(rel, line, "(file)", f"not a valid gettext catalog: {exc}")
                continue
            found[locale] = po_path
        return found

    # files
    def _read(self, name: str) -> str | None:
        path = self.root / name
        if not path.is_file():
            self.problem(name, 0, "(file)", "required file is missing")
            return None
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            self.problem(name, 1, "(file)", f"not UTF-8 text: {exc}")
            return None

    def _read_csv(self, name: str, required: tuple[str, ...]
                  ) -> tuple[list[str], list[tuple[int, dict[str, str]]]] | None:
        text = self._read(name)
        if text is None:
            return None
        reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
        try:
            header = [column.strip() for column in next(reader)]
        except StopIteration:
            self.problem(name, 1, "(header)", "file is empty")
            return None
        missing = [c for c in required if c not in header]
        for column in missing:
            self.problem(name, 1, column, "required column is missing")
        if missing:
            return None
        records: list[tuple[int, dict[str, str]]] = []
        try:
            for values in reader:
                line_no = reader.line_num
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    self.problem(name, line_no, "(row)",
                                 f"has {len(values)} values, the header has {len(header)} columns")
                    continue
                records.append((line_no, dict(zip(header, values))))
        except csv.Error as exc:
            self.problem(name, reader.line_num, "(row)", f"not valid CSV: {exc}")
        return header, records


def validate_pack(path: str | Path) -> list[Problem]:
    validator = _Validator(Path(path))
    validator.run()
    return sorted(set(validator.problems), key=lambda p: (p.file, p.line, p.field, p.message))


def pack_warnings(path: str | Path) -> list[Problem]:
    """What is allowed but probably unintended (``pack validate`` prints these and still
    exits 0): each pack language the kit has no catalog for."""
    root = Path(path)
    try:
        raw, lines = _load_yaml((root / PACK_FILE).read_text(encoding="utf-8"), PACK_FILE, [])
    except (OSError, UnicodeDecodeError):
        return []
    locales = raw.get("locales") if isinstance(raw, dict) else None
    if not isinstance(locales, list):
        return []
    named = [str(loc) for loc in locales]
    missing = set(untranslated_locales(named, root))
    return [Problem(PACK_FILE, lines.line_of(("locales", i)), f"locales[{i}]",
                    "warning: " + untranslated_message(loc))
            for i, loc in enumerate(named) if loc in missing]


def load_pack(path: str | Path) -> Pack:
    validator = _Validator(Path(path))
    pack = validator.run()
    if pack is None:
        raise PackInvalid(sorted(set(validator.problems),
                                 key=lambda p: (p.file, p.line, p.field, p.message)))
    return pack
