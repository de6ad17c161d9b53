"""Registering on USSD: an adult with one of the pack's ID documents, or (where the pack
has routine immunization) a child by birth date and guardian; the same services as the
web's registration, so the account's limits apply unchanged. The pack's genders and ID
types are read once per snapshot of the pack (``ActivePack.memo``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from cowin_kit.channels import rules
from cowin_kit.channels.ussd.base import (
    MISSING, Context, Go, Screen, day, error, label, pick, short_name, state, wrong, yes_no,
)
from cowin_kit.core.errors import DomainError
from cowin_kit.core.i18n import gettext as _, pgettext
from cowin_kit.identity.models import Gender, IdDocumentType
from cowin_kit.notifications import queue
from cowin_kit.registration import people
from cowin_kit.registration import services as registration

CONSENT_VERSION = "ussd"
RELATIONS = ("mother", "father", "guardian")


@state("reg_kind")
class RegisterKind:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Register whom?"), [(pgettext("ussd", "Adult with ID"), "adult"),
                                            (pgettext("ussd", "Child without ID"), "child")])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        kind = pick(data, answer)
        if kind is MISSING:
            return Go("reg_kind", wrong())
        data["kind"] = kind
        return Go("reg_name")


def _name_of(answer: str) -> str | None:
    name = " ".join(answer.split())
    return None if len(name) < 2 or len(name) > 200 or name.isdigit() else name


@state("reg_name")
class RegisterName:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Child's full name:") if data.get("kind") == "child"
                      else _("Full name:"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        name = _name_of(answer)
        if name is None:
            return Go("reg_name", _("Type the name in letters."))
        data["name"] = name
        return Go("reg_birth")


def _wants_birth_date(ctx: Context, data: dict) -> bool:
    return data.get("kind") == "child" or ctx.pack.document.get("birth_capture") == "date"


@state("reg_birth")
class RegisterBirth:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Date of birth (DDMMYYYY):") if _wants_birth_date(ctx, data)
                      else _("Year of birth (YYYY):"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        if _wants_birth_date(ctx, data):
            born = rules.parse_day(answer)
            if born is None or born > ctx.today():
                return Go("reg_birth", _("Type the date as 8 digits, e.g. 25012020."))
            data["birth_date"] = born.isoformat()
        else:
            year = rules.parse_year(answer)
            if year is None or year > ctx.today().year:
                return Go("reg_birth", _("Type the year as 4 digits."))
            data["birth_year"] = year
        return Go("reg_gender")


@state("reg_gender")
class RegisterGender:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        rows = ctx.pack.memo(("ussd", "genders"), lambda: [
            (g.code, dict(g.labels or {}))
            for g in ctx.session.scalars(select(Gender).order_by(Gender.id))])
        return Screen(_("Gender:"), [(label(labels, ctx.locale, code), code)
                                     for code, labels in rows])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        gender = pick(data, answer)
        if gender is MISSING:
            return Go("reg_gender", wrong())
        data["gender"] = gender
        return Go("reg_relation" if data.get("kind") == "child" else "reg_idtype")


@state("reg_idtype")
class RegisterIdType:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        rows = ctx.pack.memo(("ussd", "id_types"), lambda: [
            (t.code, dict(t.labels or {})) for t in ctx.session.scalars(
                select(IdDocumentType).where(IdDocumentType.registration.is_(True))
                .order_by(IdDocumentType.id))])
        return Screen(_("ID document:"), [(label(labels, ctx.locale, code), code)
                                          for code, labels in rows])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        id_type = pick(data, answer)
        if id_type is MISSING:
            return Go("reg_idtype", wrong())
        data["id_type"] = id_type
        return Go("reg_idnum")


@state("reg_idnum")
class RegisterIdNumber:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("ID number:"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        number = answer.strip()
        if not number or len(number) > 40:
            return Go("reg_idnum", _("Type the number of the document."))
        data["id_number"] = number
        return Go("reg_confirm")


def _relations() -> dict[str, str]:
    return {"mother": pgettext("ussd", "Mother"), "father": pgettext("ussd", "Father"),
            "guardian": pgettext("ussd", "Other guardian")}


@state("reg_relation")
class RegisterRelation:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        names = _relations()
        return Screen(_("You are the child's:"), [(names[r], r) for r in RELATIONS])

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        relation = pick(data, answer)
        if relation is MISSING:
            return Go("reg_relation", wrong())
        data["relation"] = relation
        return Go("reg_guardian")


@state("reg_guardian")
class RegisterGuardian:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Your full name:"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        name = _name_of(answer)
        if name is None:
            return Go("reg_guardian", _("Type the name in letters."))
        data["guardian"] = name
        return Go("reg_confirm")


@state("reg_confirm", writes=True)
class RegisterConfirm:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        born = day(date.fromisoformat(data["birth_date"])) if "birth_date" in data \
            else str(data["birth_year"])
        return Screen(_("Register %(name)s, born %(born)s?", name=short_name(data["name"]),
                        born=born), yes_no())

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        yes = pick(data, answer)
        if yes is MISSING:
            return Go("reg_confirm", wrong())
        if not yes:
            data.clear()
            return Go("main")
        try:
            person, secret = _register(ctx, data)
        except DomainError as exc:
            ctx.session.rollback()
            data.clear()
            return Go("main", error(exc))
        if secret is not None:  # the secret code, as the web shows it: by SMS here
            queue(ctx.session, ctx.mobile, "beneficiary_registered", ctx.locale,
                  name=person.name, reference_id=person.reference_id, secret_code=secret)
            ctx.session.commit()
        return Screen(_("Registered: %(name)s. Reference ID %(ref)s.",
                        name=short_name(person.name), ref=person.reference_id), end=True)


def _register(ctx: Context, data: dict) -> tuple[Any, str | None]:
    account = ctx.account(create=True)
    assert account is not None
    birth_date = date.fromisoformat(data["birth_date"]) if "birth_date" in data else None
    if data.get("kind") == "child":
        view = people.register_child(
            ctx.session, ctx.pack, account, name=data["name"], birth_date=birth_date,
            gender=data["gender"], guardian_name=data["guardian"],
            guardian_relation=data["relation"], consent_version=CONSENT_VERSION)
        return view.beneficiary, None
    view = registration.add_beneficiary(
        ctx.session, ctx.pack, account, name=data["name"],
        birth_year=data.get("birth_year"), birth_date=birth_date,
        gender=data["gender"], id_type=data["id_type"],
        id_number=data["id_number"], consent_version=CONSENT_VERSION)
    return view.beneficiary, view.secret_code
