"""What every USSD state uses: the screen and move types, the session's context, the
registry of states, and helpers shared by the menus (numbered choices, labels in the
caller's language, the people on the caller's number)."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Callable

from flask_babel import format_date
from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.audit.services import Actor, set_actor
from cowin_kit.channels import rules
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import DomainError
from cowin_kit.core.i18n import gettext as _, pgettext
from cowin_kit.geography.models import Facility
from cowin_kit.registration import services as registration
from cowin_kit.registration.models import Beneficiary, CitizenAccount
from cowin_kit.scheduling.models import VaccinationSession

@dataclass
class Screen:
    """What a state shows: a message, then numbered options (label, value)."""
    message: str = ""
    options: list[tuple[str, Any]] = field(default_factory=list)
    end: bool = False


@dataclass(frozen=True)
class Go:
    """Move to ``state``; ``notice`` is shown above its screen (an error, a result)."""
    state: str
    notice: str = ""


@lru_cache(maxsize=64)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


@dataclass
class Context:
    session: Session
    pack: ActivePack
    mobile: str
    locale: str
    limits: rules.Limits
    request_id: str | None = None
    source_ip: str | None = None
    _account: CitizenAccount | None = None
    _members: list[Beneficiary] | None = None

    def account(self, create: bool = False) -> CitizenAccount | None:
        """The caller's account (opened if ``create`` and new: that commits). ``mobile``
        is already in E.164, so a read needs no parsing."""
        if self._account is None:
            if create:
                self._account = registration.account_for_mobile(
                    self.session, self.pack, self.mobile, locale=self.locale, create=True)
            else:
                self._account = self.session.scalars(select(CitizenAccount).where(
                    CitizenAccount.mobile == self.mobile)).first()
            self.act()
        return self._account

    def members(self) -> list[Beneficiary]:
        """The people registered on the caller's number, once per step (a step that
        registers someone ends the session, so the list cannot go stale within it)."""
        if self._members is None:
            account = self.account()
            self._members = [] if account is None else list(self.session.scalars(
                select(Beneficiary).where(Beneficiary.account_id == account.id)
                .order_by(Beneficiary.id)))
        return self._members

    def act(self) -> None:
        """Audit events name the account (or the masked number before there is one)."""
        who = str(self._account.id) if self._account is not None \
            else "*" * max(len(self.mobile) - 4, 0) + self.mobile[-4:]
        set_actor(Actor("citizen", who, self.request_id, self.source_ip, channel="ussd"))

    def today(self) -> date:
        return datetime.now(_zone(self.pack.document.get("timezone") or "UTC")).date()


State = tuple[Callable[[Context, dict], Screen], Callable[[Context, dict, str], "Go | Screen"]]
STATES: dict[str, State] = {}
# States whose answer may write through a service (which commits or rolls back itself):
# the step's claim is committed before such an answer runs. Renders never write.
WRITING: set[str] = set()


def state(name: str, *, writes: bool = False) -> Callable:
    def wrap(cls: Any) -> Any:
        STATES[name] = (cls.render, cls.answer)
        if writes:
            WRITING.add(name)
        return cls
    return wrap


MISSING = object()


def pick(data: dict, answer: str) -> Any:
    """The value of the numbered option typed, or MISSING."""
    options = data.get("_opts") or []
    index = rules.choice(answer, len(options))
    return MISSING if index is None else options[index]


def wrong() -> str:
    return _("Choose one of the numbers shown.")


def yes_no() -> list[tuple[str, Any]]:
    # TRANSLATORS: USSD menu choices; keep them short
    return [(pgettext("ussd", "Yes"), True), (pgettext("ussd", "No"), False)]


def main_menu_option() -> list[tuple[str, Any]]:
    return [(pgettext("ussd", "Main menu"), "main")]


def label(labels: dict[str, str] | None, locale: str, fallback: str) -> str:
    labels = labels or {}
    return labels.get(locale) or labels.get(locale.split("_")[0]) or labels.get("en") \
        or fallback


def day(value: date) -> str:
    return format_date(value, "d MMM")


def error(exc: DomainError) -> str:
    return str(exc.message)


def members(ctx: Context, *, with_birth_date: bool = False) -> list[Beneficiary]:
    people = ctx.members()
    return [m for m in people if m.birth_date is not None] if with_birth_date else people


def short_name(name: str) -> str:
    return name if len(name) <= 20 else name[:19] + rules.ELLIPSIS


def member_name(ctx: Context, ref: str) -> str:
    for person in ctx.members():
        if person.reference_id == ref:
            return short_name(person.name)
    return ""


def session_words(ctx: Context, session_id: str) -> str:
    row = ctx.session.execute(select(VaccinationSession.session_date, Facility.name,
                                     Facility.names)
                              .join(Facility, Facility.id == VaccinationSession.facility_id)
                              .where(VaccinationSession.id == session_id)).first()
    if row is None:
        return ""
    return f"{short_name(label(row.names, ctx.locale, row.name))} {day(row.session_date)}"
