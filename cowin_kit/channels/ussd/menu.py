"""The main menu and the short errands: choosing one of the people on the number, what
is due for them, their certificate's code by SMS, the language."""

from __future__ import annotations

from functools import lru_cache

from babel import Locale
from sqlalchemy import select

from cowin_kit.audit.services import NATIONAL, record
from cowin_kit.certificates import services as certificates
from cowin_kit.channels.ussd.base import (
    MISSING, Context, Go, Screen, day, error, main_menu_option, member_name, members, pick,
    short_name, state, wrong, yes_no,
)
from cowin_kit.channels.ussd.booking import start_search
from cowin_kit.core.errors import DomainError, NotFound
from cowin_kit.core.i18n import gettext as _, pgettext
from cowin_kit.immunization import duelists
from cowin_kit.notifications import queue
from cowin_kit.programme import due as due_rules
from cowin_kit.registration import services as registration
from cowin_kit.registration.models import Beneficiary

MAIN_ITEMS = ("register", "find", "appointments", "due", "certificate", "language")


def _main_labels() -> dict[str, str]:
    # TRANSLATORS: the USSD main menu: short words, a phone screen holds 182 characters
    return {"register": pgettext("ussd", "Register"),
            "find": pgettext("ussd", "Find a session"),
            "appointments": pgettext("ussd", "My appointments"),
            "due": pgettext("ussd", "Vaccines due"),
            "certificate": pgettext("ussd", "Certificate code"),
            "language": pgettext("ussd", "Language")}


def _child_allowed(ctx: Context) -> bool:
    return bool(ctx.pack.document.get("routine"))


@state("main")
class Main:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        labels = _main_labels()
        return Screen("", [(labels[item], item) for item in MAIN_ITEMS])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        item = pick(data, answer)
        if item is MISSING:
            return Go("main", wrong())
        data.clear()
        if item == "register":
            return Go("reg_kind") if _child_allowed(ctx) else Go("reg_name")
        if item == "find":
            return start_search(ctx, data)
        if item == "appointments":
            return Go("appointments")
        if item == "due":
            return _choose_member(ctx, data, "due", with_birth_date=True)
        if item == "certificate":
            return _choose_member(ctx, data, "certificate")
        return Go("language")


def _choose_member(ctx: Context, data: dict, then: str, *, with_birth_date: bool = False
                   ) -> Go:
    people = members(ctx, with_birth_date=with_birth_date)
    if not people:
        return Go("main", _("Nobody is registered on this number yet."))
    data["then"] = then
    if len(people) == 1:
        data["ref"] = people[0].reference_id
        return Go(then)
    return Go("member")


@state("member")
class Member:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        people = members(ctx, with_birth_date=data["then"] == "due")
        return Screen(_("Who?"), [(short_name(m.name), m.reference_id) for m in people])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        ref = pick(data, answer)
        if ref is MISSING:
            return Go("member", wrong())
        data["ref"] = ref
        return Go(data["then"])


DUE_SHOWN = (due_rules.OVERDUE, due_rules.DUE, due_rules.UPCOMING, due_rules.MISSED)


@state("due")
class Due:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        try:
            result = duelists.person_due(ctx.session, ctx.pack, data["ref"], ctx.today(),
                                         account=ctx.account())
        except DomainError as exc:
            return Screen(error(exc), main_menu_option())
        lines = []
        for status in result.doses:
            if status.status not in DUE_SHOWN:
                continue
            name = result.routine.schedule_name(status.schedule, ctx.locale)
            when = day(status.due) if status.due else ""
            lines.append(f"{short_name(name)} {status.dose}: "
                         f"{duelists.status_label(status.status)} {when}".rstrip())
        person = member_name(ctx, data["ref"])
        text = "\n".join([person, *lines]) if lines else \
            _("%(name)s: nothing is due.", name=person)
        return Screen(text, main_menu_option())

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        if pick(data, answer) is MISSING:
            return Go("due", wrong())
        data.clear()
        return Go("main")


@state("certificate", writes=True)
class Certificate_:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Send the certificate code of %(name)s by SMS?",
                        name=member_name(ctx, data["ref"])), yes_no())

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        yes = pick(data, answer)
        if yes is MISSING:
            return Go("certificate", wrong())
        if not yes:
            data.clear()
            return Go("main")
        account = ctx.account()
        person = ctx.session.scalars(select(Beneficiary).where(
            Beneficiary.reference_id == data["ref"],
            Beneficiary.account_id == (account.id if account else None))).first()
        try:
            if person is None:
                raise NotFound(_("No such person in this account."),
                               code="beneficiary_not_found")
            found = certificates.current_certificate(ctx.session, person)
        except DomainError as exc:
            data.clear()
            return Go("main", error(exc))
        queue(ctx.session, ctx.mobile, "certificate_code", ctx.locale, name=person.name,
              certificate_id=found.id, reference_id=person.reference_id)
        # the citizen's own request on their phone: their account's, no area's
        record(ctx.session, "certificate.code_sent", "certificate", found.id, place=NATIONAL)
        ctx.session.commit()
        return Screen(_("Sent by SMS."), end=True)


@state("language", writes=True)
class Language:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen("", [(language_name(code), code) for code in ctx.pack.locales])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        code = pick(data, answer)
        if code is MISSING:
            return Go("language", wrong())
        account = ctx.account()
        if account is not None:
            registration.set_account_locale(ctx.session, account, code, ctx.pack)
        ctx.locale = code
        data.clear()
        return Go("main")


@lru_cache(maxsize=64)
def language_name(code: str) -> str:
    """A language's name in itself (CLDR), as a language menu shows it."""
    try:
        return Locale.parse(code).get_display_name(code) or code
    except (ValueError, TypeError):
        return code
