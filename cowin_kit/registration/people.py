"""People registered by a health worker (the ANM or vaccinator of an area): newborns and
children, linked to a guardian and, below the pack's ``routine.id_exempt_below`` age,
without an ID document; pregnant women with their pregnancy; a pregnancy's outcome, whose
newborns are registered already linked to the mother.

The account is the guardian's (or the woman's) mobile number, found or opened, and holds
at most the pack's household limit of people, children included. The staff member's
grant must reach the person's area (``location``) and home facility: a vaccinator granted
on a facility registers the people of that facility. Each function owns its transaction:
it commits on success, audits every write, and on any error writes nothing. Registration
is idempotent on ``external_id`` (the number of a register the person comes from, or a
client's own id for a retried request).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cowin_kit import plugins
from cowin_kit.audit import services as audit
from cowin_kit.geography.places import person_place
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core import durations, signals
from cowin_kit.core.errors import Conflict, DomainError, InvalidInput, NotFound, RuleViolation
from cowin_kit.core.i18n import duration_text, gettext as _, ngettext
from cowin_kit.core.security import keyring
from cowin_kit.geography.models import Facility, Location
from cowin_kit.identity import access
from cowin_kit.identity.models import Gender, IdDocumentType, StaffUser
from cowin_kit.registration import rules
from cowin_kit.registration.models import (
    PREGNANCY_OUTCOMES, Beneficiary, CitizenAccount, Pregnancy,
)
from cowin_kit.registration.services import (
    _already_registered, _check_with_identity_providers, _clean_name, _gender, _id_type,
    _normalized_id, _today, parse_mobile,
)

ACTION = "people.register"
MAX_NEWBORNS = 8
GUARDIAN_RELATION_MAX = 32


# --- pack settings (one place each, so the pack's runtime settings can take them over) ----

def id_exempt_below(pack: ActivePack) -> durations.Duration:
    """Children below this age may be registered without an ID document."""
    return pack.routine.id_exempt_below


def household_limit(pack: ActivePack) -> int:
    """How many people one account (one mobile number) may hold, children included."""
    return pack.routine.household_limit


# --- results ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PersonView:
    """What staff may see of a person: the ID number masked, the account's mobile masked."""

    beneficiary: Beneficiary
    gender: str
    id_type: str | None
    masked_id_number: str
    masked_mobile: str
    location: str | None
    facility: str | None
    mother_reference_id: str | None
    children: list[str] = field(default_factory=list)
    pregnancies: list[Pregnancy] = field(default_factory=list)
    created: bool = False


@dataclass(frozen=True)
class PregnancyFacts:
    registered_on: date
    lmp: date | None = None
    edd: date | None = None


@dataclass(frozen=True)
class OutcomeResult:
    pregnancy: Pregnancy
    newborns: list[PersonView]
    created: bool


# --- errors, collected so that one answer names every bad field ---------------------------

class _Fields:
    def __init__(self) -> None:
        self.items: dict[str, list[str]] = {}

    def add(self, name: str, message: Any) -> None:
        self.items.setdefault(name, []).append(str(message))

    def catch(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` (which checks one field), or None after noting its
        InvalidInput/RuleViolation under ``name``."""
        try:
            return compute()
        except (InvalidInput, RuleViolation) as exc:
            self.add(name, exc.message)
            return None

    def raise_if_any(self) -> None:
        if self.items:
            first = next(iter(self.items.values()))[0]
            raise InvalidInput(first, code="invalid_person", fields=self.items)


def _at_most(n: int) -> str:
    return ngettext("At most %(num)d character.", "At most %(num)d characters.", n)


def _mask_mobile(mobile: str) -> str:
    return "*" * max(len(mobile) - 4, 0) + mobile[-4:]


# --- places and access --------------------------------------------------------------------

def _place(session: Session, actor: StaffUser, location_code: str | None,
           facility_code: str | None, fields: _Fields) -> tuple[Location | None, Facility | None]:
    location = facility = None
    if not location_code:
        fields.add("location", _("The area the person lives in is needed."))
    else:
        location = session.scalars(select(Location).where(Location.code == location_code)).first()
        if location is None:
            fields.add("location", _("No location with code %(code)s.", code=location_code))
    if facility_code:
        facility = session.scalars(select(Facility).where(Facility.code == facility_code)).first()
        if facility is None:
            fields.add("facility", _("No facility with code %(code)s.", code=facility_code))
    elif facility_code is None:
        # A health worker granted on one facility registers that facility's people.
        ids = {g.facility_id for g in access.grants_carrying(actor, ACTION)
               if g.facility_id is not None}
        if len(ids) == 1:
            facility = session.get(Facility, ids.pop())
    return location, facility


def _check_scope(session: Session, actor: StaffUser, location_id: int | None,
                 facility_id: int | None) -> None:
    message = _("You may not register people of this area or facility.")
    if location_id is None:  # registered by themselves: no area to check
        access.check_access(actor, ACTION, message=message)
        return
    access.check_access(actor, ACTION,
                        access.scope_for_location(session, location_id, facility_id),
                        message=message)


# --- the person's own facts ---------------------------------------------------------------

@dataclass
class _Document:
    type_row: IdDocumentType
    number: str


def _document(session: Session, pack: ActivePack, id_type: str | None, id_number: str | None,
              birth_date: date | None, today: date, fields: _Fields) -> _Document | None:
    """The checked ID document, or None when none is given (allowed below the exempt
    age; otherwise noted as a problem)."""
    if not id_type and not id_number:
        if birth_date is not None:
            exempt = id_exempt_below(pack)
            if rules.id_document_needed(birth_date, exempt.before(today)):
                fields.add("id_number", _("An ID document is needed from the age of %(age)s.",
                                          age=duration_text(exempt)))
        return None
    if not id_type:
        fields.add("id_type", _("Give the type of the document."))
        return None
    if not id_number:
        fields.add("id_number", _("Give the number of the document."))
        return None
    document = fields.catch("id_type", lambda: _id_type(session, id_type, pack))
    if document is None:
        return None
    if not document.registration:
        fields.add("id_type", _("This document cannot be used to register."))
        return None
    if birth_date is not None and rules.age_on(today, birth_date.year, birth_date) \
            < document.min_age:
        fields.add("id_type", _("This document is only accepted from the age of %(age)d.",
                                age=document.min_age))
        return None
    number = fields.catch("id_number", lambda: _normalized_id(document, id_number))
    return None if number is None else _Document(document, number)


def _guardian(name: str | None, relation: str | None, required: bool,
              fields: _Fields) -> tuple[str | None, str | None]:
    name = " ".join(str(name or "").split()) or None
    relation = " ".join(str(relation or "").split()).lower() or None
    if required and name is None:
        fields.add("guardian_name", _("A child registered without an ID document needs a "
                                      "guardian."))
    if name is not None and len(name) > 200:
        fields.add("guardian_name", _("A name of 1 to 200 characters is needed."))
    if (name is not None or required) and relation is None:
        fields.add("guardian_relation", _("Say how the guardian is related to the child."))
    if relation is not None and len(relation) > GUARDIAN_RELATION_MAX:
        fields.add("guardian_relation", _at_most(GUARDIAN_RELATION_MAX))
    if relation is not None and name is None and not required:
        fields.add("guardian_name", _("Give the guardian's name."))
    return name, relation


def _unused_reference_id(session: Session) -> str:
    while True:
        candidate = rules.new_reference_id()
        if session.scalar(select(Beneficiary.id)
                          .where(Beneficiary.reference_id == candidate)) is None:
            return candidate


def _account_for(session: Session, mobile: str, pack: ActivePack, actor: StaffUser,
                 adding: int) -> CitizenAccount:
    """The account of this mobile (locked against a parallel registration), opened if
    new; RuleViolation when ``adding`` more people would pass the household limit."""
    account = session.scalars(select(CitizenAccount).where(CitizenAccount.mobile == mobile)
                              .with_for_update()).first()
    if account is None:
        account = CitizenAccount(mobile=mobile, locale=pack.default_locale)
        session.add(account)
        session.flush()
        audit.record(session, "account.create", "citizen_account", account.id,
                     place=audit.NATIONAL, by=actor.username)
        return account
    _check_household(session, pack, account, adding)
    return account


def _check_household(session: Session, pack: ActivePack, account: CitizenAccount,
                     adding: int, field_name: str = "mobile") -> None:
    limit = household_limit(pack)
    members = session.scalar(select(func.count()).select_from(Beneficiary)
                             .where(Beneficiary.account_id == account.id))
    if members + adding > limit:
        message = ngettext("An account can register at most %(num)d person.",
                           "An account can register at most %(num)d people.", limit)
        raise RuleViolation(message, code="household_limit_reached",
                            fields={field_name: [message]})


def _view(session: Session, person: Beneficiary, *, created: bool = False) -> PersonView:
    gender = session.get(Gender, person.gender_id)
    id_type = session.get(IdDocumentType, person.id_type_id) if person.id_type_id else None
    location = session.get(Location, person.location_id) if person.location_id else None
    facility = session.get(Facility, person.facility_id) if person.facility_id else None
    mother = session.get(Beneficiary, person.mother_id) if person.mother_id else None
    account = session.get(CitizenAccount, person.account_id)
    children = list(session.scalars(select(Beneficiary.reference_id)
                                    .where(Beneficiary.mother_id == person.id)
                                    .order_by(Beneficiary.id)))
    pregnancies = list(session.scalars(select(Pregnancy)
                                       .where(Pregnancy.beneficiary_id == person.id)
                                       .order_by(Pregnancy.id)))
    return PersonView(person, gender.code, id_type.code if id_type else None,
                      rules.masked_id(person.id_number_last4), _mask_mobile(account.mobile),
                      location.code if location else None, facility.code if facility else None,
                      mother.reference_id if mother else None, children, pregnancies, created)


def _same_person(session: Session, existing: Beneficiary, *, name: str, birth_date: date,
                 gender_id: int, mobile: str) -> bool:
    account_mobile = session.scalar(select(CitizenAccount.mobile)
                                    .where(CitizenAccount.id == existing.account_id))
    return (existing.name == name and existing.birth_date == birth_date
            and existing.gender_id == gender_id and account_mobile == mobile)


def _external_id_taken() -> Conflict:
    message = _("This external ID is already registered for another person.")
    return Conflict(message, code="external_id_in_use", fields={"external_id": [message]})


def _pregnancy_checked(facts: PregnancyFacts, today: date, fields: _Fields) -> None:
    for name, message in rules.pregnancy_problems(facts.registered_on, facts.lmp, facts.edd,
                                                  today).items():
        fields.add(name, message)


# --- use cases ----------------------------------------------------------------------------

def register_person(session: Session, pack: ActivePack, actor: StaffUser, *, name: str,
                    birth_date: date | None, gender: str, mobile: str,
                    location: str | None, facility: str | None = None,
                    guardian_name: str | None = None, guardian_relation: str | None = None,
                    id_type: str | None = None, id_number: str | None = None,
                    external_id: str | None = None, pregnancy: PregnancyFacts | None = None,
                    comorbidity: bool = False, consent_version: str = "health_worker",
                    ) -> PersonView:
    """A health worker registers a newborn, a child or a pregnant woman (``pregnancy``).

    The full date of birth is always needed; an ID document from the pack's
    ``id_exempt_below`` age; a guardian (name and relation) for a child without one.
    ``facility`` None: the worker's only facility, if they have exactly one; "" none.
    Idempotent on ``external_id``: the same person again gives the registered one
    (``created`` False); another person with it is a Conflict ``external_id_in_use``.
    Errors: InvalidInput ``invalid_person`` (every bad field), RuleViolation
    ``household_limit_reached``, Conflict ``id_already_registered``, Forbidden."""
    today = _today(pack)
    fields = _Fields()
    clean_name = fields.catch("name", lambda: _clean_name(name))
    gender_row = fields.catch("gender", lambda: _gender(session, gender, pack))
    if birth_date is None:
        fields.add("birth_date", _("The date of birth is needed."))
    else:
        problem = rules.birth_date_problem(birth_date, today)
        if problem:
            fields.add("birth_date", problem)
            birth_date = None
    number = fields.catch("mobile", lambda: parse_mobile(mobile, pack))
    place, home = _place(session, actor, location, facility, fields)
    document = _document(session, pack, id_type, id_number, birth_date, today, fields)
    guardian, relation = _guardian(guardian_name, guardian_relation,
                                   required=document is None and not id_number, fields=fields)
    external_id = (external_id or "").strip() or None
    if external_id is not None and len(external_id) > 64:
        fields.add("external_id", _at_most(64))
    if pregnancy is not None:
        _pregnancy_checked(pregnancy, today, fields)
    fields.raise_if_any()
    assert place is not None and gender_row is not None and birth_date is not None
    _check_scope(session, actor, place.id, home.id if home else None)

    if external_id is not None:
        existing = session.scalars(select(Beneficiary)
                                   .where(Beneficiary.external_id == external_id)).first()
        if existing is not None:
            if not _same_person(session, existing, name=clean_name, birth_date=birth_date,
                                gender_id=gender_row.id, mobile=number):
                raise _external_id_taken()
            _check_scope(session, actor, existing.location_id, existing.facility_id)
            return _view(session, existing)

    id_hash = None
    ring = keyring()
    if document is not None:
        _check_with_identity_providers(document.type_row.code, document.number,
                                       birth_date.year, birth_date)
        id_hash = ring.lookup_hash("id:" + document.type_row.code, document.number)
        if session.scalar(select(Beneficiary.id).where(
                Beneficiary.id_type_id == document.type_row.id,
                Beneficiary.id_number_hash == id_hash)) is not None:
            raise _already_registered()
    try:
        account = _account_for(session, number, pack, actor, adding=1)
        person = _new_person(
            session, account, actor, name=clean_name, birth_date=birth_date,
            gender_id=gender_row.id, location_id=place.id,
            facility_id=home.id if home else None, guardian_name=guardian,
            guardian_relation=relation, external_id=external_id, comorbidity=comorbidity,
            consent_version=consent_version, document=document, id_hash=id_hash)
        if pregnancy is not None:
            _add_pregnancy(session, actor, person, pregnancy)
        session.flush()
        # Possible duplicates are noted for a reviewer (corrections); never a refusal.
        signals.person_registered.send(session, beneficiary=person)
    except IntegrityError:  # the same document or external ID registered meanwhile
        session.rollback()
        if external_id is not None and session.scalar(
                select(Beneficiary.id).where(Beneficiary.external_id == external_id)):
            raise _external_id_taken() from None
        raise _already_registered() from None
    except DomainError:
        session.rollback()
        raise
    plugins.queue_hook(session, "beneficiary_registered", reference_id=person.reference_id,
                       id_type=document.type_row.code if document else "",
                       birth_year=birth_date.year, gender=gender_row.code,
                       locale=account.locale or pack.default_locale)
    signals.due_facts_changed.send(session, pack=pack, person_ids=[person.id])
    session.commit()
    return _view(session, person, created=True)


def _new_person(session: Session, account: CitizenAccount, actor: StaffUser, *, name: str,
                birth_date: date, gender_id: int, location_id: int | None,
                facility_id: int | None, guardian_name: str | None,
                guardian_relation: str | None, external_id: str | None,
                comorbidity: bool, consent_version: str, document: _Document | None,
                id_hash: str | None, mother_id: int | None = None) -> Beneficiary:
    ring = keyring()
    person = Beneficiary(
        reference_id=_unused_reference_id(session), account_id=account.id, name=name,
        birth_year=birth_date.year, birth_date=birth_date, gender_id=gender_id,
        id_type_id=document.type_row.id if document else None, id_number_hash=id_hash,
        id_number_encrypted=ring.encrypt(document.number) if document else None,
        id_number_last4=document.number[-4:] if document else None,
        comorbidity=comorbidity, consent_version=consent_version[:32],
        secret_code_encrypted=ring.encrypt(rules.new_secret_code()),
        guardian_name=guardian_name, guardian_relation=guardian_relation,
        external_id=external_id, mother_id=mother_id, location_id=location_id,
        facility_id=facility_id, registered_by=actor.username)
    session.add(person)
    audit.record(session, "person.register", "beneficiary", person.reference_id,
                 place=person_place(session, person), by=actor.username, id_type=document.type_row.code if document else None,
                 external_id=external_id, mother=mother_id is not None)
    return person


def _add_pregnancy(session: Session, actor: StaffUser, person: Beneficiary,
                   facts: PregnancyFacts) -> Pregnancy:
    if person.id is None:
        session.flush()
    pregnancy = Pregnancy(beneficiary_id=person.id, registered_on=facts.registered_on,
                          lmp=facts.lmp, edd=facts.edd, registered_by=actor.username)
    session.add(pregnancy)
    session.flush()
    audit.record(session, "pregnancy.register", "pregnancy", pregnancy.id,
                 place=person_place(session, person), beneficiary=person.reference_id, by=actor.username)
    return pregnancy


def _person(session: Session, reference_id: str) -> Beneficiary:
    found = None
    if rules.is_reference_id(str(reference_id)):
        found = session.scalars(select(Beneficiary)
                                .where(Beneficiary.reference_id == str(reference_id))).first()
    if found is None:
        raise NotFound(_("No one is registered with this reference ID."),
                       code="beneficiary_not_found")
    return found


def get_person(session: Session, actor: StaffUser, reference_id: str) -> PersonView:
    """A person as staff who may register people where they live see them."""
    person = _person(session, reference_id)
    _check_scope(session, actor, person.location_id, person.facility_id)
    return _view(session, person)


def register_pregnancy(session: Session, pack: ActivePack, actor: StaffUser,
                       reference_id: str, *, registered_on: date, lmp: date | None = None,
                       edd: date | None = None) -> Pregnancy:
    """A pregnancy of a registered woman. Conflict ``pregnancy_open`` while an earlier
    one has no outcome."""
    person = _person(session, reference_id)
    _check_scope(session, actor, person.location_id, person.facility_id)
    fields = _Fields()
    _pregnancy_checked(PregnancyFacts(registered_on, lmp, edd), _today(pack), fields)
    fields.raise_if_any()
    open_one = session.scalar(select(Pregnancy.id).where(
        Pregnancy.beneficiary_id == person.id, Pregnancy.outcome.is_(None)))
    if open_one is not None:
        raise Conflict(_("This woman has a pregnancy without an outcome; record its outcome "
                         "first."), code="pregnancy_open")
    pregnancy = _add_pregnancy(session, actor, person, PregnancyFacts(registered_on, lmp, edd))
    signals.due_facts_changed.send(session, pack=pack, person_ids=[person.id])
    session.commit()
    return pregnancy


def record_pregnancy_outcome(session: Session, pack: ActivePack, actor: StaffUser,
                             reference_id: str, pregnancy_id: int, *, outcome: str,
                             outcome_date: date,
                             newborns: Sequence[Mapping[str, Any]] = ()) -> OutcomeResult:
    """The outcome of a pregnancy (``live_birth``, ``stillbirth``, ``miscarriage``,
    ``abortion``). A live birth registers its newborns (each ``{name, gender,
    birth_date}``; the birth date defaults to the outcome's) in the mother's account,
    area and home facility, linked to her, with her as guardian. Recording the same
    outcome again answers the first (``created`` False); a different one is a Conflict
    ``outcome_recorded``."""
    mother = _person(session, reference_id)
    _check_scope(session, actor, mother.location_id, mother.facility_id)
    pregnancy = session.get(Pregnancy, pregnancy_id)
    if pregnancy is None or pregnancy.beneficiary_id != mother.id:
        raise NotFound(_("No such pregnancy of this woman."), code="pregnancy_not_found")
    if pregnancy.outcome is not None:
        same = pregnancy.outcome == outcome and pregnancy.outcome_date == outcome_date
        born = list(session.scalars(select(Beneficiary).where(
            Beneficiary.mother_id == mother.id,
            Beneficiary.birth_date >= (pregnancy.lmp or pregnancy.registered_on))
            .order_by(Beneficiary.id))) if outcome == "live_birth" else []
        if not same or (outcome == "live_birth" and len(born) != len(newborns)):
            raise Conflict(_("The outcome of this pregnancy is already recorded."),
                           code="outcome_recorded")
        return OutcomeResult(pregnancy, [_view(session, b) for b in born], False)

    today = _today(pack)
    fields = _Fields()
    if outcome not in PREGNANCY_OUTCOMES:
        fields.add("outcome", _("Must be one of: %(values)s.",
                                values=", ".join(PREGNANCY_OUTCOMES)))
    problem = rules.outcome_date_problem(outcome_date, pregnancy.registered_on, pregnancy.lmp,
                                         today)
    if problem:
        fields.add("outcome_date", problem)
    babies: list[tuple[str, date, Gender]] = []
    if outcome == "live_birth":
        if not 1 <= len(newborns) <= MAX_NEWBORNS:
            fields.add("newborns", ngettext(
                "A live birth needs one newborn, at most %(num)d.",
                "A live birth needs one newborn or more, at most %(num)d.", MAX_NEWBORNS))
        for index, baby in enumerate(newborns[:MAX_NEWBORNS]):
            prefix = f"newborns.{index}."
            baby_name = fields.catch(prefix + "name", lambda: _clean_name(baby.get("name", "")))
            baby_gender = fields.catch(prefix + "gender",
                                       lambda: _gender(session, baby.get("gender", ""), pack))
            born_on = baby.get("birth_date") or outcome_date
            if born_on > today or born_on < (pregnancy.lmp or pregnancy.registered_on):
                fields.add(prefix + "birth_date",
                           _("The date of birth must be within the pregnancy."))
            if baby_name and baby_gender:
                babies.append((baby_name, born_on, baby_gender))
    elif newborns:
        fields.add("newborns", _("Only a live birth has newborns."))
    fields.raise_if_any()

    try:
        account = session.scalars(select(CitizenAccount)
                                  .where(CitizenAccount.id == mother.account_id)
                                  .with_for_update()).one()
        _check_household(session, pack, account, len(babies), "newborns")
        pregnancy.outcome, pregnancy.outcome_date = outcome, outcome_date
        audit.record(session, "pregnancy.outcome", "pregnancy", pregnancy.id,
                     place=person_place(session, mother), beneficiary=mother.reference_id, outcome=outcome, newborns=len(babies),
                     by=actor.username)
        created = [
            _new_person(session, account, actor, name=baby_name, birth_date=born_on,
                        gender_id=baby_gender.id, location_id=mother.location_id,
                        facility_id=mother.facility_id, guardian_name=mother.name,
                        guardian_relation="mother", external_id=None, comorbidity=False,
                        consent_version=mother.consent_version, document=None, id_hash=None,
                        mother_id=mother.id)
            for baby_name, born_on, baby_gender in babies]
        session.flush()
    except DomainError:
        session.rollback()
        raise
    for baby in created:
        plugins.queue_hook(session, "beneficiary_registered", reference_id=baby.reference_id,
                           id_type="", birth_year=baby.birth_year,
                           gender=session.get(Gender, baby.gender_id).code,
                           locale=account.locale or pack.default_locale)
    signals.due_facts_changed.send(session, pack=pack,
                                   person_ids=[mother.id] + [baby.id for baby in created])
    session.commit()
    return OutcomeResult(pregnancy, [_view(session, baby, created=True) for baby in created],
                         True)


@dataclass(frozen=True)
class _Holder:
    """The account holder registering a child themselves (``registered_by`` "")."""
    username: str = ""


def register_child(session: Session, pack: ActivePack, account: CitizenAccount, *,
                   name: str, birth_date: date | None, gender: str, guardian_name: str,
                   guardian_relation: str, consent_version: str) -> PersonView:
    """The account's holder registers a child below the pack's ``id_exempt_below`` age
    without an ID document, themselves as the guardian (a USSD or web door: the account is
    the caller's). The household limit applies as for every other way in. Errors:
    InvalidInput ``invalid_person`` (every bad field), RuleViolation
    ``household_limit_reached``."""
    today = _today(pack)
    fields = _Fields()
    clean_name = fields.catch("name", lambda: _clean_name(name))
    gender_row = fields.catch("gender", lambda: _gender(session, gender, pack))
    if birth_date is None:
        fields.add("birth_date", _("The date of birth is needed."))
    else:
        problem = rules.birth_date_problem(birth_date, today)
        if problem:
            fields.add("birth_date", problem)
        elif rules.id_document_needed(birth_date, id_exempt_below(pack).before(today)):
            fields.add("birth_date", _("An ID document is needed from the age of %(age)s.",
                                       age=duration_text(id_exempt_below(pack))))
    guardian, relation = _guardian(guardian_name, guardian_relation, required=True,
                                   fields=fields)
    fields.raise_if_any()
    assert gender_row is not None and birth_date is not None
    locked = session.scalars(select(CitizenAccount).where(CitizenAccount.id == account.id)
                             .with_for_update()).one()
    try:
        _check_household(session, pack, locked, 1, field_name="name")
        person = _new_person(
            session, locked, _Holder(), name=clean_name, birth_date=birth_date,  # type: ignore[arg-type]
            gender_id=gender_row.id, location_id=None, facility_id=None,
            guardian_name=guardian, guardian_relation=relation, external_id=None,
            comorbidity=False, consent_version=consent_version, document=None, id_hash=None)
        session.flush()
    except DomainError:
        session.rollback()
        raise
    plugins.queue_hook(session, "beneficiary_registered", reference_id=person.reference_id,
                       id_type="", birth_year=birth_date.year, gender=gender_row.code,
                       locale=locked.locale or pack.default_locale)
    session.commit()
    return _view(session, person, created=True)

