"""Keys in use: encryption at rest, keyed hashes, signed bearer tokens. Keys come from the
settings (instance files or Kubernetes Secrets), never from the database."""

from __future__ import annotations

import hashlib
import hmac
from functools import cached_property
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


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

    def issue_citizen_token(self, account_id: int, mobile: str) -> str:
        return self._citizen_tokens.dumps({"a": account_id, "m": mobile})

    def read_citizen_token(self, token: str, max_age: int) -> dict[str, Any] | None:
        return _read(self._citizen_tokens, token, max_age)

    @cached_property
    def _staff_tokens(self) -> URLSafeTimedSerializer:
        # A different salt: a citizen's token can never pass as a staff token.
        return URLSafeTimedSerializer(self._settings["SECRET_KEY"], salt="staff-token")

    def issue_staff_token(self, user_id: int, password_hash: str) -> str:
        # Binding the token to the password hash ends it when the password changes.
        return self._staff_tokens.dumps({"s": user_id, "p": password_hash[-12:]})

    def read_staff_token(self, token: str, max_age: int) -> dict[str, Any] | None:
        return _read(self._staff_tokens, token, max_age)


def _read(serializer: URLSafeTimedSerializer, token: str, max_age: int) -> dict[str, Any] | None:
    try:
        data = serializer.loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    return data if isinstance(data, dict) else None


def init_app(app: Flask) -> None:
    app.extensions["cowin_kit.keyring"] = Keyring(app.config["COWIN_KIT"])


def keyring() -> Keyring:
    return current_app.extensions["cowin_kit.keyring"]
