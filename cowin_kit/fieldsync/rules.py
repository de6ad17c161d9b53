"""Pure rules of the field sync: no database, no Flask, no clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any, Mapping

# The most records one upload may carry (a device sends the rest in further uploads).
MAX_RECORDS = 500
# The most people one prepare bundle carries (a district-wide grant is narrowed by the
# device's facility or area instead: ?facility= / ?location=).
MAX_PEOPLE = 20000
DEFAULT_WIPE_AFTER_DAYS = 7
CLIENT_PREFIX = "client:"

# The services' refusals that are conflicts a supervisor must see (the record describes
# something that happened in the field, which the server's state contradicts), by code;
# every other refusal (bad input, unknown product, no access) goes back to the device.
CONFLICT_CODES = frozenset({
    # the same dose recorded twice, or meanwhile by someone else
    "dose_already_given", "dose_already_recorded", "same_dose_other_device",
    # a dose that breaks the schedule
    "dose_order", "too_early", "product_mismatch", "age_not_eligible", "schedule_complete",
    "no_schedule", "series_complete", "dose_too_early", "dose_not_counted",
    "vaccine_not_for_dose", "dose_missed", "catch_up_limit_passed",
    "vaccine_not_for_person",
    # a person registered twice
    "id_already_registered", "external_id_in_use", "person_registered_twice",
    "household_limit_reached",
    # a record about a person whose own registration waits for a supervisor
    "person_in_review",
    # a lot recalled meanwhile
    "lot_recalled",
})
# Refusals that are not final: the record is answered but not remembered, so the device
# may send it again (the person it refers to has not reached the server yet).
RETRYABLE_CODES = frozenset({"person_unknown"})


def is_conflict(code: str | None) -> bool:
    return code in CONFLICT_CODES


def is_retryable(code: str | None) -> bool:
    return code in RETRYABLE_CODES


def new_salt() -> str:
    """A random salt for the mobile hashes of one prepare bundle (base64url, 16 bytes)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()


def mobile_hash(salt: str, mobile: str) -> str:
    """HMAC-SHA256 of the E.164 number (``+919876543210``) keyed by the bundle's salt (its
    text, as UTF-8), lower-case hex: the app finds a person by mobile by hashing what is
    typed the same way, and holds no mobile number."""
    return hmac.new(salt.encode(), mobile.encode(), hashlib.sha256).hexdigest()


def mobile_last4(mobile: str) -> str:
    return mobile[-4:]


def client_reference(value: Any) -> str | None:
    """The client id of ``"client:<id>"`` (a person registered by a record of the same
    device), or None for a reference ID."""
    text = str(value or "")
    if text.startswith(CLIENT_PREFIX):
        return text[len(CLIENT_PREFIX):].strip() or None
    return None


def masked_payload(kind: str, payload: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The payload to keep in the review queue, and the ID number taken out of it (to be
    kept only encrypted): the number is replaced by its masked form."""
    kept = dict(payload)
    number = kept.pop("id_number", None)
    if number:
        text = str(number)
        kept["id_number_masked"] = "X" * max(len(text) - 4, 0) + text[-4:]
        return kept, text
    return kept, None


def encode_cursor(moment: datetime, row_id: int) -> str:
    """An opaque cursor after the outcome decided at ``moment`` with id ``row_id``."""
    raw = f"{moment.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The position a cursor names, or None (no cursor: from the start; a cursor that
    does not decode: ValueError)."""
    if not cursor:
        return None
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        moment, _sep, row_id = base64.urlsafe_b64decode(padded).decode().partition("|")
        parsed = datetime.fromisoformat(moment)
        if parsed.tzinfo is None:
            raise ValueError("cursor without a UTC offset")
        return parsed, int(row_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("not a cursor of this server") from exc
