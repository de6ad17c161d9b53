"""The PIN that guards booking, moving and cancelling by USSD (anyone holding the phone
can read menus; changing appointments needs the PIN). Set once per account after an
SMS OTP; stored as a keyed hash; five wrong PINs in a row pause it for 15 minutes."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.audit.services import NATIONAL, record
from cowin_kit.channels.models import ChannelPin
from cowin_kit.channels.rules import is_pin, weak_pin
from cowin_kit.core.errors import InvalidInput, RuleViolation, Unauthorized
from cowin_kit.core.i18n import gettext as _
from cowin_kit.core.security import keyring
from cowin_kit.registration.models import CitizenAccount

MAX_FAILURES = 5
PAUSE = timedelta(minutes=15)


def _hash(account_id: int, pin: str) -> str:
    return keyring().secret_hash(f"channel-pin:{account_id}", pin)


def pending_hash(mobile: str, pin: str) -> str:
    """A PIN typed once, kept (hashed) in the session until it is typed again."""
    return keyring().secret_hash(f"channel-pin-pending:{mobile}", pin)


def has_pin(session: Session, account: CitizenAccount) -> bool:
    return session.get(ChannelPin, account.id) is not None


def set_pin(session: Session, account: CitizenAccount, pin: str) -> None:
    """Set (or replace) the account's PIN; the caller has just confirmed an SMS OTP."""
    if not is_pin(pin) or weak_pin(pin):
        raise InvalidInput(_("Choose 4 digits, not 1111 or 1234."), code="weak_pin")
    row = session.get(ChannelPin, account.id)
    if row is None:
        row = ChannelPin(account_id=account.id, pin_hash="")
        session.add(row)
    row.pin_hash, row.failures, row.paused_until = _hash(account.id, pin), 0, None
    row.set_at = datetime.now(timezone.utc)
    record(session, "account.set_pin", "citizen_account", account.id, place=NATIONAL)
    session.commit()


def check_pin(session: Session, account: CitizenAccount | None, pin: str,
              now: datetime | None = None) -> None:
    """Nothing if ``pin`` is the account's; else Unauthorized (the failure counted and
    committed), or RuleViolation ``pin_paused`` while paused."""
    now = now or datetime.now(timezone.utc)
    row = session.scalars(select(ChannelPin).where(ChannelPin.account_id == (
        account.id if account else None)).with_for_update()).first()
    if row is None:
        raise Unauthorized(_("The PIN is not correct."), code="pin_invalid")
    if row.paused_until is not None and now < row.paused_until:
        session.rollback()
        raise RuleViolation(_("Too many wrong PINs; try again in 15 minutes."),
                            code="pin_paused")
    if hmac.compare_digest(row.pin_hash, _hash(row.account_id, pin)):
        if row.failures:
            row.failures, row.paused_until = 0, None
            session.commit()
        return
    row.failures += 1
    if row.failures >= MAX_FAILURES:
        row.failures, row.paused_until = 0, now + PAUSE
        record(session, "account.pin_paused", "citizen_account", row.account_id,
               place=NATIONAL)
        session.commit()
        raise RuleViolation(_("Too many wrong PINs; try again in 15 minutes."),
                            code="pin_paused")
    session.commit()
    raise Unauthorized(_("The PIN is not correct."), code="pin_invalid")
