"""Use cases of citizen registration. Each function owns its transaction: it commits on
success, and on a domain error nothing it did is kept (except a counted OTP attempt,
which must survive the failure that counts it)."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from flask import current_app
from sqlalchemy import and_, bindparam, func, inspect, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cowin_kit import notifications, plugins
from cowin_kit.core import metrics, signals
from cowin_kit.audit import services as audit
from cowin_kit.geography.places import person_place
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import Conflict, InvalidInput, NotFound, RuleViolation, Unauthorized
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.identity.models import Gender, IdDocumentType
from cowin_kit.idnumbers import InvalidIdNumber, normalize_id_number
from cowin_kit.registration import person_rows, probes, rules
from cowin_kit.registration.models import (
    BOOKED_SERIES, Beneficiary, BeneficiaryCorrection, CitizenAccount, Dose, OtpTransaction,
)
from cowin_kit.core.security import keyring
from cowin_kit.programme.models import VaccineProduct, VaccineSchedule

log = logging.getLogger("cowin_kit.registration")

PURPOSES = ("sign_in", "change_mobile", "move_person")


class TooManyRequests(RuleViolation):
    status = 429
    code = "too_many_requests"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _settings() -> Any:
    return current_app.config["COWIN_KIT"]


def parse_mobile(raw: str, pack: ActivePack) -> str:
    try:
        return rules.normalize_mobile(raw, pack.document["phone_region"])
    except rules.InvalidMobile as exc:
        raise InvalidInput(str(exc), code="invalid_mobile", fields={"mobile": [str(exc)]}) from None


# --- OTP --------------------------------------------------------------------------------

def request_otp(session: Session, pack: ActivePack, raw_mobile: str, *, locale: str,
                purpose: str = "sign_in", account: CitizenAccount | None = None,
                now: datetime | None = None) -> OtpTransaction:
    """Send a 6-digit OTP to the number and return its transaction. The answer is the
    same whether or not the number has an account."""
    now = now or _now()
    settings = _settings()
    mobile = parse_mobile(raw_mobile, pack)
    last_sent = session.scalar(select(func.max(OtpTransaction.created_at))
                               .where(OtpTransaction.mobile == mobile))
    cooldown = timedelta(seconds=settings["OTP_RESEND_COOLDOWN_SECONDS"])
    if last_sent is not None and now - last_sent < cooldown:
        wait = int((cooldown - (now - last_sent)).total_seconds()) + 1
        raise TooManyRequests(ngettext(
            "Please wait %(num)d second before asking for another OTP.",
            "Please wait %(num)d seconds before asking for another OTP.", wait), code="otp_resend_too_soon")
    otp = rules.new_otp()
    transaction = OtpTransaction(
        mobile=mobile, purpose=purpose, account_id=account.id if account else None,
        otp_hash="", created_at=now,
        expires_at=now + timedelta(seconds=settings["OTP_TTL_SECONDS"]),
    )
    session.add(transaction)
    session.flush()
    transaction.otp_hash = _otp_hash(transaction.id, rules.otp_digest(otp))
    audit.record(session, "otp.request", "otp_transaction", transaction.id, place=audit.NATIONAL,
                 purpose=purpose)
    template = "otp" if purpose == "sign_in" else "otp_change_mobile"
    notifications.queue_otp(session, mobile, template, locale, otp=otp,
                            minutes=max(1, settings["OTP_TTL_SECONDS"] // 60))
    session.commit()  # the outbox row with the OTP; its sender is woken (never waited for)
    metrics.OTPS_SENT.inc()
    return transaction


def _otp_hash(transaction_id: str, digest: str) -> str:
    return keyring().secret_hash("otp:" + transaction_id, digest)


def _check_otp(session: Session, transaction_id: str, otp: str, *, hashed: bool,
               purpose: str, now: datetime) -> OtpTransaction:
    """The transaction, its OTP checked and marked used. Each attempt is counted, and the
    OTP marked used, by one conditional UPDATE each: the database decides between parallel
    requests even where SELECT ... FOR UPDATE is not honoured (SQLite)."""
    transaction = session.get(OtpTransaction, transaction_id, with_for_update=True)
    if transaction is None or transaction.purpose != purpose:
        raise Unauthorized(_("This OTP request is unknown."), code="otp_unknown")
    if transaction.verified_at is not None:
        raise Unauthorized(_("This OTP has already been used."), code="otp_used")
    if now >= transaction.expires_at:
        raise Unauthorized(_("This OTP has expired; ask for a new one."), code="otp_expired")
    max_attempts = _settings()["OTP_MAX_ATTEMPTS"]
    exceeded = Unauthorized(_("Too many wrong attempts; ask for a new OTP."),
                            code="otp_attempts_exceeded")
    if transaction.attempts >= max_attempts:
        raise exceeded
    digest = otp.strip().lower() if hashed else rules.otp_digest(otp.strip())
    if not _constant_time_equal(_otp_hash(transaction.id, digest), transaction.otp_hash):
        counted = session.execute(
            update(OtpTransaction)
            .where(OtpTransaction.id == transaction.id, OtpTransaction.verified_at.is_(None),
                   OtpTransaction.attempts < max_attempts)
            .values(attempts=OtpTransaction.attempts + 1)
            .returning(OtpTransaction.attempts)).scalar()
        if counted is None:  # parallel attempts used them up first (or it was just used)
            session.rollback()
            raise exceeded
        audit.record(session, "otp.verify_failed", "otp_transaction", transaction.id,
                     place=audit.NATIONAL, attempts=counted)
        session.commit()  # the counted attempt must stick
        raise Unauthorized(_("The OTP is not correct."), code="otp_invalid")
    marked = session.execute(
        update(OtpTransaction)
        .where(OtpTransaction.id == transaction.id, OtpTransaction.verified_at.is_(None),
               OtpTransaction.attempts < max_attempts)
        .values(verified_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if not marked:  # a parallel request used it, or wrong guesses used up the attempts
        session.rollback()
        fresh = session.get(OtpTransaction, transaction_id)
        if fresh is not None and fresh.verified_at is not None:
            raise Unauthorized(_("This OTP has already been used."), code="otp_used")
        raise exceeded
    transaction.verified_at = now
    return transaction


def _constant_time_equal(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a, b)


def verify_otp(session: Session, transaction_id: str, otp: str, *, purpose: str,
               now: datetime | None = None) -> OtpTransaction:
    """Check an OTP of another purpose than signing in (moving a person to the number):
    the transaction, its OTP checked and marked used, or Unauthorized (a wrong attempt
    is counted and committed). The caller commits what follows."""
    return _check_otp(session, transaction_id, otp, hashed=False, purpose=purpose,
                      now=now or _now())


@dataclass(frozen=True)
class SignIn:
    account: CitizenAccount
    token: str
    expires_in: int
    is_new_account: bool


def confirm_otp(session: Session, transaction_id: str, otp: str, *, hashed: bool = False,
                locale: str | None = None, now: datetime | None = None) -> SignIn:
    """Verify a sign-in OTP; the number becomes (or opens) an account and gets a token."""
    now = now or _now()
    transaction = _check_otp(session, transaction_id, otp, hashed=hashed, purpose="sign_in",
                             now=now)
    account = session.scalars(select(CitizenAccount)
                              .where(CitizenAccount.mobile == transaction.mobile)).first()
    is_new = account is None
    if account is None:
        account = CitizenAccount(mobile=transaction.mobile, locale=locale, created_at=now)
        session.add(account)
        session.flush()
        audit.record(session, "account.create", "citizen_account", account.id, place=audit.NATIONAL)
    audit.record(session, "account.sign_in", "citizen_account", account.id, place=audit.NATIONAL)
    try:
        session.commit()
    except IntegrityError:  # the same number confirmed twice at once: use the first account
        session.rollback()
        account = session.scalars(select(CitizenAccount)
                                  .where(CitizenAccount.mobile == transaction.mobile)).one()
        is_new = False
    return SignIn(account, issue_citizen_token(account), _settings()["TOKEN_TTL_SECONDS"],
                  is_new)


# Every signed-in request reads its account by id: one statement built once costs about
# a quarter less CPU than session.get, which builds its query anew each time.
_ACCOUNT_BY_ID = select(CitizenAccount).where(CitizenAccount.id == bindparam("account_id"))


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """The account a valid citizen token names, and the mobile it was issued for: known
    from the token's signature and age alone. Whether that account still exists with that
    mobile is a database fact: account_from_token reads it; a service that reads the
    account's rows anyway may check it in its own statement (book_seats does)."""
    id: int
    mobile: str
    token_epoch: int


def issue_citizen_token(account: CitizenAccount) -> str:
    """A signed token for the API and the pages, valid for TOKEN_TTL_SECONDS."""
    return keyring().issue_citizen_token(account.id, account.mobile, account.token_epoch)


def token_holder(token: str) -> TokenHolder:
    """Who a citizen token names (signature and age checked, no database read), or 401.
    Tokens issued before they carried an epoch count as epoch 0."""
    data = keyring().read_citizen_token(token, max_age=_settings()["TOKEN_TTL_SECONDS"])
    if not data or not isinstance(data.get("a"), int) or not isinstance(data.get("m"), str):
        raise invalid_token()
    epoch = data.get("e", 0)
    if type(epoch) is not int:
        raise invalid_token()
    return TokenHolder(data["a"], data["m"], epoch)


def invalid_token() -> Unauthorized:
    return Unauthorized(_("Sign in again: the token is missing, wrong or expired."),
                        code="invalid_token")


def account_from_token(session: Session, token: str) -> CitizenAccount:
    return account_of(session, token_holder(token))


def account_of(session: Session, holder: TokenHolder) -> CitizenAccount:
    """The account a token names, or 401 if it is gone, no longer has that mobile or its
    token epoch has been raised since (sign-out, change of number)."""
    account = session.scalars(_ACCOUNT_BY_ID, {"account_id": holder.id}).first()
    if (account is None or account.mobile != holder.mobile
            or account.token_epoch != holder.token_epoch):
        raise invalid_token()
    return account


def sign_out_everywhere(session: Session, account: CitizenAccount) -> None:
    """End every token of this account, on every device (the epoch they carry is
    raised): signing out of one session signs the account out everywhere. Commits."""
    account.token_epoch += 1
    audit.record(session, "account.sign_out", "citizen_account", account.id, place=audit.NATIONAL)
    session.commit()


def account_for_mobile(session: Session, pack: ActivePack, raw_mobile: str, *,
                       locale: str | None = None, create: bool = True) -> CitizenAccount | None:
    """The account of a number a trusted channel vouches for (a USSD or SMS gateway gives
    the caller's number: no OTP needed to read or register), opened if new and
    ``create``; None if there is none and not ``create``. Commits when it opens one."""
    mobile = parse_mobile(raw_mobile, pack)
    account = session.scalars(select(CitizenAccount)
                              .where(CitizenAccount.mobile == mobile)).first()
    if account is not None or not create:
        return account
    account = CitizenAccount(mobile=mobile, locale=locale, created_at=_now())
    session.add(account)
    try:
        session.flush()
    except IntegrityError:  # opened by a parallel request: use that one
        session.rollback()
        return session.scalars(select(CitizenAccount)
                               .where(CitizenAccount.mobile == mobile)).one()
    audit.record(session, "account.create", "citizen_account", account.id, place=audit.NATIONAL)
    session.commit()
    return account


def set_account_locale(session: Session, account: CitizenAccount, locale: str,
                       pack: ActivePack) -> None:
    if locale not in pack.locales:
        raise InvalidInput(_("This language is not offered."), code="invalid_locale")
    account.locale = locale
    audit.record(session, "account.set_locale", "citizen_account", account.id, place=audit.NATIONAL,
                 locale=locale)
    session.commit()


def request_mobile_change(session: Session, pack: ActivePack, account: CitizenAccount,
                          raw_mobile: str, *, locale: str,
                          now: datetime | None = None) -> OtpTransaction:
    return request_otp(session, pack, raw_mobile, locale=locale, purpose="change_mobile",
                       account=account, now=now)


def confirm_mobile_change(session: Session, account: CitizenAccount, transaction_id: str,
                          otp: str, *, now: datetime | None = None) -> SignIn:
    now = now or _now()
    transaction = _check_otp(session, transaction_id, otp, hashed=False,
                             purpose="change_mobile", now=now)
    if transaction.account_id != account.id:
        raise Unauthorized(_("This OTP request is unknown."), code="otp_unknown")
    taken = session.scalar(select(CitizenAccount.id)
                           .where(CitizenAccount.mobile == transaction.mobile))
    if taken is not None:
        session.rollback()
        raise Conflict(_("This number already holds an account."), code="mobile_in_use")
    account.mobile = transaction.mobile
    # a new epoch too: changing the number back must not revive the tokens of before
    account.token_epoch += 1
    audit.record(session, "account.change_mobile", "citizen_account", account.id, place=audit.NATIONAL)
    session.commit()
    return SignIn(account, issue_citizen_token(account), _settings()["TOKEN_TTL_SECONDS"],
                  False)


# --- beneficiaries ------------------------------------------------------------------------

@dataclass(frozen=True)
class BeneficiaryView:
    """What may be shown about a beneficiary: the ID number only masked (a child
    registered without an ID document: no type, and "" for the number)."""

    beneficiary: Beneficiary
    id_type: IdDocumentType | None
    gender: Gender
    masked_id_number: str
    secret_code: str | None
    doses: list[Dose]

    @property
    def vaccination_status(self) -> str:
        return "Not Vaccinated" if not self.doses else "Vaccinated" if self.completed \
            else "Partially Vaccinated"

    completed: bool = False


def _by_code(session: Session, pack: ActivePack | None, model: type, code: str, field: str,
             error_code: str, message: Any) -> Any:
    """The pack-installed row (ID type, gender) with this code. With the pack snapshot at
    hand it is read once per snapshot, not once per request: these rows change only when
    the pack does."""
    def load() -> Any:
        row = session.scalars(select(model).where(model.code == code)).first()
        if row is None:
            return None
        # A copy outside every session, so that it can be shared by this process's threads
        # and no rollback or close of any session can expire it.
        return model(**{attr.key: copy.deepcopy(getattr(row, attr.key))
                        for attr in inspect(model).column_attrs})

    row = pack.memo((model.__name__, code), load) if pack is not None and isinstance(code, str) \
        else session.scalars(select(model).where(model.code == code)).first()
    if row is None:
        text = str(message() if callable(message) else message)
        raise InvalidInput(text, code=error_code, fields={field: [text]})
    return row


def _id_type(session: Session, code: str, pack: ActivePack | None = None) -> IdDocumentType:
    return _by_code(session, pack, IdDocumentType, code, "id_type", "unknown_id_type",
                    lambda: _("Unknown ID document type."))


def _gender(session: Session, code: str, pack: ActivePack | None = None) -> Gender:
    return _by_code(session, pack, Gender, code, "gender", "unknown_gender",
                    lambda: _("Unknown gender."))


def _normalized_id(id_type: IdDocumentType, number: str) -> str:
    try:
        return normalize_id_number(id_type.validator, number)
    except InvalidIdNumber as exc:
        message = _("This is not a valid %(document)s number: %(reason)s",
                    document=id_type.code, reason=str(exc))
        raise InvalidInput(message, code="invalid_id_number",
                           fields={"id_number": [message]}) from None


def _today(pack: ActivePack) -> date:
    import zoneinfo

    return datetime.now(zoneinfo.ZoneInfo(pack.document["timezone"])).date()


def _check_with_identity_providers(id_type: str, number: str, birth_year: int | None,
                                   birth_date: date | None) -> None:
    """When a plugin connects a national ID system, the number must be known to it and the
    birth year must agree. An unreachable system does not stop registration (CoWIN kept
    registering through Aadhaar outages); it is logged, the number never is."""
    if not plugins.has_identity_providers():
        return
    try:
        record = plugins.identity_lookup(id_type, number)
    except Exception:
        log.warning("identity provider unreachable for an %s number; registered unchecked",
                    id_type, exc_info=True)
        return
    if record is None:
        raise RuleViolation(_("This ID number is not known to the national ID system."),
                            code="id_number_unknown",
                            fields={"id_number": [_("This ID number is not known to the "
                                                    "national ID system.")]})
    known_year = record.birth_date.year if record.birth_date else record.birth_year
    given_year = birth_date.year if birth_date else birth_year
    if known_year is not None and given_year is not None and known_year != given_year:
        raise RuleViolation(_("The year of birth does not match the national ID record."),
                            code="identity_mismatch",
                            fields={"birth_year": [_("The year of birth does not match the "
                                                     "national ID record.")]})


def add_beneficiary(session: Session, pack: ActivePack, account: CitizenAccount, *,
                    name: str, birth_year: int | None = None, birth_date: date | None = None,
                    gender: str, id_type: str, id_number: str, comorbidity: bool = False,
                    consent_version: str, facility_id: int | None = None) -> BeneficiaryView:
    """Register a member of the account. ``facility_id``: their home facility (a walk-in
    registered at one)."""
    limit = pack.document.get("max_beneficiaries_per_account", 4)
    count = session.scalar(_MEMBERS_OF_ACCOUNT, {"account_id": account.id})
    if count >= limit:
        raise RuleViolation(ngettext("An account can register at most %(num)d person.",
                                     "An account can register at most %(num)d people.", limit),
                            code="beneficiary_limit_reached")
    document = _id_type(session, id_type, pack)
    if not document.registration:
        raise InvalidInput(_("This document cannot be used to register."),
                           code="id_type_not_for_registration",
                           fields={"id_type": [_("This document cannot be used to register.")]})
    gender_row = _gender(session, gender, pack)
    birth_year, birth_date = _birth(pack, birth_year, birth_date)
    age = rules.age_on(_today(pack), birth_year, birth_date)
    if age < document.min_age:
        raise RuleViolation(_("This document is only accepted from the age of %(age)d.",
                              age=document.min_age), code="too_young_for_id_type")
    number = _normalized_id(document, id_number)
    probes.check_allowed(account.id)
    _check_with_identity_providers(document.code, number, birth_year, birth_date)
    ring = keyring()
    id_hash = ring.lookup_hash("id:" + document.code, number)
    try:
        reference_id = _unused_reference_id_for(session, document, id_hash)
    except Conflict:
        probes.count_duplicate(account.id)
        raise
    secret_code = rules.new_secret_code()
    beneficiary = Beneficiary(
        reference_id=reference_id, account_id=account.id,
        name=_clean_name(name), birth_year=birth_year, birth_date=birth_date,
        gender_id=gender_row.id, id_type_id=document.id, id_number_hash=id_hash,
        id_number_encrypted=ring.encrypt(number), id_number_last4=number[-4:],
        comorbidity=comorbidity, consent_version=consent_version,
        secret_code_encrypted=ring.encrypt(secret_code), facility_id=facility_id,
    )
    place = person_place(session, beneficiary)
    try:
        person_rows.insert_new(session, beneficiary)  # Core INSERT, no unit of work
    except IntegrityError:  # registered by someone else at the same moment
        session.rollback()
        probes.count_duplicate(account.id)
        raise _already_registered() from None
    audit.record_now(session, "beneficiary.create", "beneficiary", beneficiary.reference_id,
                     place=place, id_type=document.code)
    # Possible duplicates are noted for a reviewer (corrections); never a refusal.
    signals.person_registered.send(session, beneficiary=beneficiary)
    plugins.queue_hook(session, "beneficiary_registered", reference_id=beneficiary.reference_id,
                       id_type=document.code, birth_year=birth_year, gender=gender_row.code,
                       locale=account.locale or pack.default_locale)
    if birth_date is not None:  # a child registered by a parent: on the due lists
        signals.due_facts_changed.send(session, pack=pack, person_ids=[beneficiary.id])
    session.commit()
    # Created by this request a moment ago: it has no doses yet, and its secret code is known.
    return _view(session, beneficiary, document, gender_row, pack, doses=[],
                 secret_code=secret_code)


def _already_registered() -> Conflict:
    # Deliberately silent about which account holds the document.
    return Conflict(_("This ID document is already registered."), code="id_already_registered")


# Statements of the registration path, built (and cache-keyed) once rather than per call,
# on the table (Core) as they load no ORM objects.
_BENEFICIARY = Beneficiary.__table__.c
_MEMBERS_OF_ACCOUNT = (select(func.count()).select_from(Beneficiary.__table__)
                       .where(_BENEFICIARY.account_id == bindparam("account_id")))
_SAME_DOCUMENT = and_(_BENEFICIARY.id_type_id == bindparam("id_type_id"),
                      _BENEFICIARY.id_number_hash == bindparam("id_hash"))
_DOCUMENT_OR_REFERENCE_TAKEN = (
    select(_SAME_DOCUMENT.label("same_document"))
    .where(or_(_SAME_DOCUMENT, _BENEFICIARY.reference_id == bindparam("reference_id"))))


def _unused_reference_id_for(session: Session, document: IdDocumentType, id_hash: str) -> str:
    """Conflict if the ID document is already registered, else a new unused reference ID:
    both checked by one query (a draw that is taken is simply drawn again)."""
    while True:
        candidate = rules.new_reference_id()
        taken = session.execute(_DOCUMENT_OR_REFERENCE_TAKEN, {
            "id_type_id": document.id, "id_hash": id_hash, "reference_id": candidate}).all()
        if any(row.same_document for row in taken):
            raise _already_registered()
        if not taken:
            return candidate


def clean_name(name: str) -> str:
    """A person's name with its spaces tidied, or InvalidInput ``invalid_name``."""
    return _clean_name(name)


def _clean_name(name: str) -> str:
    cleaned = " ".join(str(name).split())
    if not 1 <= len(cleaned) <= 200:
        raise InvalidInput(_("A name of 1 to 200 characters is needed."), code="invalid_name",
                           fields={"name": [_("A name of 1 to 200 characters is needed.")]})
    return cleaned


def _birth(pack: ActivePack, birth_year: int | None,
           birth_date: date | None) -> tuple[int, date | None]:
    capture = pack.document.get("birth_capture", "year")
    if capture == "date" and birth_date is None:
        raise InvalidInput(_("The date of birth is needed."), code="birth_date_required",
                           fields={"birth_date": [_("The date of birth is needed.")]})
    if birth_date is not None:
        birth_year = birth_date.year
    if birth_year is None:
        raise InvalidInput(_("The year of birth is needed."), code="birth_year_required",
                           fields={"birth_year": [_("The year of birth is needed.")]})
    problem = rules.birth_year_problem(birth_year, _today(pack))
    if problem:
        raise InvalidInput(problem, code="invalid_birth_year", fields={"birth_year": [problem]})
    return birth_year, birth_date


def _view(session: Session, beneficiary: Beneficiary, id_type: IdDocumentType | None = None,
          gender: Gender | None = None, pack: ActivePack | None = None,
          with_secret: bool = True, *, doses: list[Dose] | None = None,
          secret_code: str | None = None) -> BeneficiaryView:
    if id_type is None and beneficiary.id_type_id is not None:
        id_type = session.get(IdDocumentType, beneficiary.id_type_id)
    gender = gender or session.get(Gender, beneficiary.gender_id)
    if doses is None:
        doses = list(session.scalars(select(Dose).where(Dose.beneficiary_id == beneficiary.id,
                                                        Dose.series == BOOKED_SERIES)
                                     .order_by(Dose.dose_number)))
    masked = rules.masked_id(beneficiary.id_number_last4)
    secret = None if not with_secret else secret_code if secret_code is not None \
        else keyring().decrypt(beneficiary.secret_code_encrypted)
    return BeneficiaryView(beneficiary, id_type, gender, masked, secret, doses,
                           completed=_completed(session, doses))


def _completed(session: Session, doses: list[Dose]) -> bool:
    if not doses:
        return False
    product = session.get(VaccineProduct, doses[0].product_id)
    for schedule in session.scalars(select(VaccineSchedule)):
        if product is not None and product.code in schedule.products:
            primary = sum(1 for d in schedule.doses if not d.get("booster"))
            return len(doses) >= primary
    return False


def list_beneficiaries(session: Session, account: CitizenAccount) -> list[BeneficiaryView]:
    rows = session.scalars(select(Beneficiary).where(Beneficiary.account_id == account.id,
                                                     Beneficiary.merged_into_id.is_(None))
                           .order_by(Beneficiary.id))
    return [_view(session, row) for row in rows]


def _owned(session: Session, account: CitizenAccount, reference_id: str) -> Beneficiary:
    if not rules.is_reference_id(str(reference_id)):
        raise NotFound(_("No such person in this account."), code="beneficiary_not_found")
    beneficiary = session.scalars(select(Beneficiary).where(
        Beneficiary.reference_id == str(reference_id), Beneficiary.account_id == account.id,
    )).first()
    if beneficiary is None:
        raise NotFound(_("No such person in this account."), code="beneficiary_not_found")
    return beneficiary


def get_beneficiary(session: Session, account: CitizenAccount, reference_id: str) -> BeneficiaryView:
    return _view(session, _owned(session, account, reference_id))


def _has_doses(session: Session, beneficiary: Beneficiary) -> bool:
    return session.scalar(select(Dose.id).where(Dose.beneficiary_id == beneficiary.id)
                          .limit(1)) is not None


def update_beneficiary(session: Session, pack: ActivePack, account: CitizenAccount,
                       reference_id: str, changes: dict[str, Any], *,
                       actor: str = "citizen") -> BeneficiaryView:
    """Edit a member. Before any dose everything may change; after one, only name and
    birth year, each kept as a correction with its old value (certificates are reissued)."""
    beneficiary = _owned(session, account, reference_id)
    vaccinated = _has_doses(session, beneficiary)
    allowed = {"name", "birth_year", "birth_date"} if vaccinated else {
        "name", "birth_year", "birth_date", "gender", "id_type", "id_number", "comorbidity"}
    refused = sorted(set(changes) - allowed)
    if refused:
        raise RuleViolation(_("After vaccination only the name and year of birth can be "
                              "corrected."), code="beneficiary_vaccinated",
                            fields={f: [_("cannot change after vaccination")] for f in refused})
    corrections: list[tuple[str, str, str]] = []
    if "name" in changes:
        new_name = _clean_name(changes["name"])
        if new_name != beneficiary.name:
            corrections.append(("name", beneficiary.name, new_name))
            beneficiary.name = new_name
    if "birth_year" in changes or "birth_date" in changes:
        year, day = _birth(pack, changes.get("birth_year", beneficiary.birth_year),
                           changes.get("birth_date"))
        if year != beneficiary.birth_year:
            corrections.append(("birth_year", str(beneficiary.birth_year), str(year)))
        beneficiary.birth_year, beneficiary.birth_date = year, day
    if "gender" in changes:
        beneficiary.gender_id = _gender(session, changes["gender"], pack).id
    if "comorbidity" in changes:
        beneficiary.comorbidity = bool(changes["comorbidity"])
    if "id_type" in changes or "id_number" in changes:
        if "id_number" not in changes:
            raise InvalidInput(_("Give the number of the new document."), code="id_number_required",
                               fields={"id_number": [_("Give the number of the new document.")]})
        current = changes.get("id_type") or (
            session.get(IdDocumentType, beneficiary.id_type_id).code
            if beneficiary.id_type_id is not None else None)
        if current is None:  # registered without a document: say which one it is
            raise InvalidInput(_("Give the type of the document."), code="id_type_required",
                               fields={"id_type": [_("Give the type of the document.")]})
        document = _id_type(session, current, pack)
        number = _normalized_id(document, changes["id_number"])
        ring = keyring()
        id_hash = ring.lookup_hash("id:" + document.code, number)
        clash = session.scalar(select(Beneficiary.id).where(
            Beneficiary.id_type_id == document.id, Beneficiary.id_number_hash == id_hash,
            Beneficiary.id != beneficiary.id))
        if clash:
            raise _already_registered()
        beneficiary.id_type_id, beneficiary.id_number_hash = document.id, id_hash
        beneficiary.id_number_encrypted = ring.encrypt(number)
        beneficiary.id_number_last4 = number[-4:]
    if vaccinated:
        for field, old, new in corrections:
            session.add(BeneficiaryCorrection(beneficiary_id=beneficiary.id, field=field,
                                              old_value=old, new_value=new, actor=actor))
        if corrections:
            # The certificates carry the old details (certificates revoke and reissue).
            signals.beneficiary_corrected.send(session, beneficiary=beneficiary,
                                               reason="correction")
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise _already_registered() from None
    audit.record(session, "beneficiary.correct" if vaccinated else "beneficiary.update",
                 "beneficiary", beneficiary.reference_id,
                 place=person_place(session, beneficiary), fields=sorted(changes))
    if {"birth_year", "birth_date", "gender"} & set(changes):
        signals.due_facts_changed.send(session, pack=pack, person_ids=[beneficiary.id])
    session.commit()
    return _view(session, beneficiary)


def delete_beneficiary(session: Session, account: CitizenAccount, reference_id: str) -> None:
    beneficiary = _owned(session, account, reference_id)
    if _has_doses(session, beneficiary):
        raise RuleViolation(_("A person with a recorded dose cannot be deleted."),
                            code="beneficiary_vaccinated")
    audit.record(session, "beneficiary.delete", "beneficiary", beneficiary.reference_id,
                 place=person_place(session, beneficiary))
    session.delete(beneficiary)
    session.commit()
