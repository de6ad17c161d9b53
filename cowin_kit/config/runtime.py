"""The installed pack as the running app sees it, cached per process for a short time so
requests do not each read it from the database."""

from __future__ import annotations

import functools
import contextvars
import time
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable

from babel import Locale, UnknownLocaleError
from flask import current_app
from sqlalchemy import select

from cowin_kit.config.models import InstalledPack
from cowin_kit.core.db import get_database
from cowin_kit.core.durations import Duration, parse as parse_duration
from cowin_kit.core.errors import NotFound
from cowin_kit.core.i18n import gettext as _

CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class RoutineSettings:
    """pack.yaml ``routine:``, with the defaults for what a pack leaves out."""

    overdue_after: Duration = Duration(4, "w")     # due -> overdue (a defaulter)
    zero_dose_age: Duration = Duration(10, "w")    # nothing given by then: zero-dose
    id_exempt_below: Duration = Duration(5, "y")   # younger: registered without an ID
    grace: Duration = Duration(4, "d")             # doses this early still count
    remind_before: Duration = Duration(2, "d")     # reminder before a due date
    remind_after_missed: Duration = Duration(7, "d")  # reminder after a due date passed
    household_limit: int = 4                       # people one account may hold

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> "RoutineSettings":
        """The settings of a pack document (as PackSchema loaded it)."""
        section = document.get("routine") or {}
        values: dict[str, Any] = {
            name: parse_duration(section[name])
            for name in ("overdue_after", "zero_dose_age", "id_exempt_below", "grace",
                         "remind_before", "remind_after_missed")
            if section.get(name) is not None
        }
        values["household_limit"] = int(section.get("household_limit")
                                        or document.get("max_beneficiaries_per_account") or 4)
        return cls(**values)


@dataclass(frozen=True)
class SafetySettings:
    """pack.yaml ``safety:``, with the defaults for what a pack leaves out. ``stages`` are
    the pack's dicts (code, name, role); empty: the built-in two stages (district
    investigation, then the national causality committee; cowin_kit.safety.rules)."""

    stages: tuple[dict[str, Any], ...] = ()
    signal_per_10000_doses: float = 10.0   # reports per 10,000 doses above which a lot
    signal_min_reports: int = 3            # or facility with this many reports is flagged
    alert_level: str | None = None         # hierarchy key of serious-case alerts
                                           # (None: the facility's own location)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> "SafetySettings":
        section = document.get("safety") or {}
        values: dict[str, Any] = {"stages": tuple(section.get("stages") or ())}
        for name in ("signal_per_10000_doses", "signal_min_reports", "alert_level"):
            if section.get(name) is not None:
                values[name] = section[name]
        return cls(**values)


@dataclass(frozen=True)
class PublicDataSettings:
    """pack.yaml ``public_data:``, with the defaults for what a pack leaves out: counts
    from 1 to ``suppress_below - 1`` are published as "<N"; areas down to the hierarchy
    level ``lowest_level`` (None: the pack's lowest); no facility figures unless
    ``facility_figures``; the open data's licence (CC BY 4.0 unless the pack says)."""

    suppress_below: int = 5
    lowest_level: str | None = None
    facility_figures: bool = False
    licence_name: str = "CC BY 4.0"
    licence_url: str = "https://creativecommons.org/licenses/by/4.0/"
    publisher: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> "PublicDataSettings":
        section = document.get("public_data") or {}
        values: dict[str, Any] = {}
        for name in ("suppress_below", "lowest_level", "facility_figures", "publisher"):
            if section.get(name) is not None:
                values[name] = section[name]
        if section.get("licence"):
            values["licence_name"] = section["licence"]["name"]
            values["licence_url"] = section["licence"]["url"]
        return cls(**values)


@dataclass(frozen=True)
class CorrectionsSettings:
    """pack.yaml ``corrections:``, with the defaults for what a pack leaves out."""

    grievance_resolve_days: int = 7   # a grievance older than this is overdue

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> "CorrectionsSettings":
        section = document.get("corrections") or {}
        values: dict[str, Any] = {}
        if section.get("grievance_resolve_days") is not None:
            values["grievance_resolve_days"] = int(section["grievance_resolve_days"])
        return cls(**values)


@dataclass(frozen=True)
class ActivePack:
    code: str
    version: str
    content_hash: str
    document: dict[str, Any]
    translations: dict[str, str] = field(default_factory=dict)
    _memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()``, remembered for as long as this snapshot of the pack is served
        (at most CACHE_SECONDS) — for rows the pack installs, such as its ID types, which
        change only when the pack does. None (nothing found) is never remembered, so
        arbitrary input cannot grow the memo."""
        try:
            return self._memo[key]
        except KeyError:
            value = compute()
            if value is not None:
                self._memo[key] = value
            return value

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The programme's time zone (pack.yaml ``timezone``)."""
        return self.memo(("zone",), lambda: zoneinfo.ZoneInfo(self.document["timezone"]))

    def day_of(self, moment: datetime) -> date:
        """The programme's calendar day of ``moment`` (a naive moment is UTC, as SQLite
        returns stored times): the day doses, sessions and schedules count in."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(self.zone).date()

    @property
    def locales(self) -> list[str]:
        return self.document["locales"]

    @property
    def default_locale(self) -> str:
        return self.document["default_locale"]

    @property
    def currency(self) -> str | None:
        """ISO 4217 code of the fees (pack.yaml ``currency``), or None."""
        return self.document.get("currency")

    def format_locale(self, language: str) -> Locale:
        """See :func:`format_locale`: ``language`` in this pack's country."""
        return format_locale(language, self.code)

    @property
    def safety(self) -> SafetySettings:
        return self.memo(("safety-settings",),
                         lambda: SafetySettings.from_document(self.document))

    @property
    def public_data(self) -> PublicDataSettings:
        return self.memo(("public-data-settings",),
                         lambda: PublicDataSettings.from_document(self.document))

    @property
    def corrections(self) -> CorrectionsSettings:
        return self.memo(("corrections-settings",),
                         lambda: CorrectionsSettings.from_document(self.document))

    @property
    def routine(self) -> RoutineSettings:
        return self.memo(("routine-settings",),
                         lambda: RoutineSettings.from_document(self.document))


@functools.lru_cache(maxsize=256)
def format_locale(language: str, territory: str | None) -> Locale:
    """The locale for dates, numbers and money: the page's language in the pack's country
    (``en`` in India -> ``en_IN``: "6 Dec 2026", lakh grouping), when CLDR has that
    combination; else the language alone."""
    base = Locale.parse(language)
    if territory and not base.territory:
        try:
            return Locale(base.language, territory=territory.upper(), script=base.script)
        except (UnknownLocaleError, ValueError):
            pass
    return base


def _cache() -> dict[str, Any]:
    return current_app.extensions.setdefault("cowin_kit.pack_cache", {"at": 0.0, "pack": None})


# Set while active_pack() reads the database: the message of its "no pack" error is
# translated, and choosing the language asks for the pack again (the pack's own catalogs,
# its locales); that inner call must fail at once instead of recursing.
_LOOKING_UP: contextvars.ContextVar[bool] = contextvars.ContextVar("cowin_kit_pack_lookup",
                                                                   default=False)


def active_pack() -> ActivePack:
    cache = _cache()
    if cache["pack"] is not None and time.monotonic() - cache["at"] < CACHE_SECONDS:
        return cache["pack"]
    if _LOOKING_UP.get():
        raise LookupError("the country pack is being looked up")  # callers fall back
    token = _LOOKING_UP.set(True)
    try:
        wanted = current_app.config["COWIN_KIT"]["PACK"]
        with get_database().session() as session:
            query = select(InstalledPack)
            if wanted:
                query = query.where(InstalledPack.code == wanted)
            rows = session.scalars(query).all()
        if not rows:
            # The PACK setting names the wanted code; the message is the request's language.
            raise NotFound(_("No country pack is installed."), code="pack_not_installed")
    finally:
        _LOOKING_UP.reset(token)
    row = rows[0]
    pack = ActivePack(row.code, row.version, row.content_hash, row.document,
                      translations=row.translations or {})
    cache.update(at=time.monotonic(), pack=pack)
    return pack


def forget_active_pack() -> None:
    _cache().update(at=0.0, pack=None)


def offered_locales() -> tuple[list[str], str]:
    """(locales offered, default locale); English only while no pack is installed."""
    settings = current_app.config["COWIN_KIT"]
    try:
        pack = active_pack()
    except Exception:  # no pack or no database yet: still answer, in English
        default = settings["DEFAULT_LOCALE"] or "en"
        return [default], default
    default = settings["DEFAULT_LOCALE"] if settings["DEFAULT_LOCALE"] in pack.locales \
        else pack.default_locale
    return pack.locales, default
