"""Keys in use: encryption at rest, keyed hashes, signed bearer tokens. Keys come from the
settings (instance files or Kubernetes Secrets), never from the database."""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import time
import zlib
from functools import cached_property
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from itsdangerous import URLSafeTimedSerializer


class Keyring:
    def __init__(self, settings: Any):
        self._settings = settings

    @cached_property
    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(key.encode()) for key in self._settings["ENCRYPTION_KEYS"]])

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError("cannot decrypt: none of the ENCRYPTION_KEYS fits") from None

    def lookup_hash(self, purpose: str, value: str) -> str:
        """Stable keyed hash (HMAC-SHA256) of ``value`` for equality lookups."""
        key = self._settings["ID_HASH_KEY"].encode()
        return hmac.new(key, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()

    def secret_hash(self, purpose: str, value: str) -> str:
        """Keyed hash under SECRET_KEY for short-lived secrets such as OTPs."""
        key = self._settings["SECRET_KEY"].encode()
        return hmac.new(key, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()

    @cached_property
    def _citizen_tokens(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._settings["SECRET_KEY"], salt="citizen-token")

    def issue_citizen_token(self, account_id: int, mobile: str, epoch: int) -> str:
        # ``epoch``: the account's token epoch; raising it (sign-out) ends older tokens.
        return self._citizen_tokens.dumps({"a": account_id, "m": mobile, "e": epoch})

    @cached_property
    def _citizen_reader(self) -> TimedTokenReader:
        return TimedTokenReader(self._citizen_tokens)

    def read_citizen_token(self, token: str, max_age: int) -> dict[str, Any] | None:
        return _read(self._citizen_reader, token, max_age)

    @cached_property
    def _staff_tokens(self) -> URLSafeTimedSerializer:
        # A different salt: a citizen's token can never pass as a staff token.
        return URLSafeTimedSerializer(self._settings["SECRET_KEY"], salt="staff-token")

    def issue_staff_token(self, user_id: int, password_hash: str, epoch: int) -> str:
        # Binding the token to the password hash ends it when the password changes; to the
        # user's token epoch, when it is raised (sign-out, deactivation).
        return self._staff_tokens.dumps({"s": user_id, "p": password_hash[-12:], "e": epoch})

    @cached_property
    def _staff_reader(self) -> TimedTokenReader:
        return TimedTokenReader(self._staff_tokens)

    def read_staff_token(self, token: str, max_age: int) -> dict[str, Any] | None:
        return _read(self._staff_reader, token, max_age)


def _read(reader: TimedTokenReader, token: str, max_age: int) -> dict[str, Any] | None:
    data = reader.loads(token, max_age)
    return data if isinstance(data, dict) else None


class TimedTokenReader:
    """Reads the tokens of an itsdangerous ``URLSafeTimedSerializer`` (as built above:
    HMAC-SHA1, no fallback signers) as its ``loads(token, max_age=...)`` does: the payload
    where it succeeds, None where it raises BadSignature or SignatureExpired, and None too
    for a rightly signed payload it cannot decode (its BadPayload, which only a holder of
    SECRET_KEY can cause, and which escaped as a 500 before).

    Why not ``loads`` itself: it builds a signer and derives the key again on every call,
    and goes through several layers of checks and exceptions; on a booking that was ~5 % of
    the app's CPU. Here the keys are derived once (an HMAC object per key, copied per token)
    and the token is cut and decoded by the same rules. tests/unit/test_token_reader.py holds
    this to itsdangerous on valid, tampered, expired and malformed tokens."""

    def __init__(self, serializer: URLSafeTimedSerializer):
        signer = serializer.make_signer()
        if (serializer.fallback_signers or serializer.signer_kwargs or signer.sep != b"."
                or signer.digest_method().name != "sha1"):
            raise ValueError("TimedTokenReader reads HMAC-SHA1 tokens without fallback signers")
        # One HMAC per key, its key set up once and copied per token; newest key first, as
        # Signer.verify_signature tries them.
        self._macs = tuple(hmac.new(signer.derive_key(key), digestmod="sha1")
                           for key in reversed(signer.secret_keys))

    def loads(self, token: str | bytes, max_age: int | None) -> Any:
        signed = token.encode() if isinstance(token, str) else token
        value, dot, signature = signed.rpartition(b".")
        if not dot or not self._signed_here(value, signature):
            return None
        payload, dot, stamp = value.rpartition(b".")
        signed_at = _timestamp(stamp) if dot else None
        if signed_at is None:
            return None
        if max_age is not None and not 0 <= int(time.time()) - signed_at <= max_age:
            return None  # expired, or signed in the future
        return _payload(payload)

    def _signed_here(self, value: bytes, signature: bytes) -> bool:
        given = _b64decode(signature)
        if given is None:
            return False
        for template in self._macs:
            mac = template.copy()
            mac.update(value)
            if hmac.compare_digest(given, mac.digest()):
                return True
        return False


_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def _b64decode(text: bytes) -> bytes | None:
    """itsdangerous.encoding.base64_decode: padding restored, then what
    base64.urlsafe_b64decode does (the same lenient decoder), without its wrappers."""
    try:
        return binascii.a2b_base64(text.translate(_URLSAFE_TO_STANDARD) + b"=" * (-len(text) % 4))
    except binascii.Error:
        return None


def _timestamp(stamp: bytes) -> int | None:
    raw = _b64decode(stamp)
    # itsdangerous reads at most 8 bytes (an unsigned 64-bit number); more is malformed.
    return int.from_bytes(raw, "big") if raw is not None and len(raw) <= 8 else None


def _payload(payload: bytes) -> Any:
    """URLSafeSerializerMixin.load_payload: '.' marks zlib; then base64 of compact JSON."""
    compressed = payload.startswith(b".")
    data = _b64decode(payload[1:] if compressed else payload)
    try:
        if compressed and data is not None:
            data = zlib.decompress(data)
        return json.loads(data.decode("utf-8")) if data is not None else None
    except Exception:  # what itsdangerous calls a bad payload: any failure to decode
        return None


def init_app(app: Flask) -> None:
    app.extensions["cowin_kit.keyring"] = Keyring(app.config["COWIN_KIT"])


def keyring() -> Keyring:
    return current_app.extensions["cowin_kit.keyring"]
