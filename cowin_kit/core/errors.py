"""The one small tree of domain errors.

Services raise these; the API turns them into ``application/problem+json``, pages into
messages and the CLI into one line with exit code 1. Each carries a stable ``code`` that
clients may rely on, and a human message that is translated when rendered.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: Any, *, code: str | None = None,
                 fields: dict[str, list[str]] | None = None, **params: Any):
        super().__init__(str(message))
        self.message = message
        if code is not None:
            self.code = code
        self.fields = fields or {}
        self.params = params

    def __str__(self) -> str:
        return str(self.message)


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class RuleViolation(DomainError):
    status = 422
    code = "rule_violation"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
