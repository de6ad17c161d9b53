"""A citizen may not probe which ID numbers are registered.

Registering an ID document that is already registered is answered "already registered"
(Conflict ``id_already_registered``), the same whoever holds it and without a word about
that account. Those answers are limited: after ID_DUPLICATE_ANSWERS of them in the
window for one account, or for one client address, every registration from it is
refused (429 ``too_many_requests``) until the window ends. Only the "already registered"
answers count, so a household registering its members is never slowed. Staff (walk-ins,
health workers) are not limited here: they check the document in person and their acts
are audited.
"""

from __future__ import annotations

from flask import has_request_context

from cowin_kit.audit import services as audit
from cowin_kit.core import ratelimit

# "Already registered" answers allowed per account and per client address
ID_DUPLICATE_ANSWERS = "5/hour;20/day"


def _keys(account_id: int) -> list[tuple[str, str]]:
    if not has_request_context() or audit.current_actor().type != "citizen":
        return []
    return [("id-duplicate-account", str(account_id)),
            ("id-duplicate-ip", ratelimit.client_address())]


def check_allowed(account_id: int) -> None:
    """RateLimited once the account or the address has had its "already registered"
    answers."""
    for scope, key in _keys(account_id):
        wait = ratelimit.failures_refused(ID_DUPLICATE_ANSWERS, scope, key)
        if wait is not None:
            raise ratelimit.refusal(wait)


def count_duplicate(account_id: int) -> None:
    """Count one "already registered" answer for the account and the address."""
    for scope, key in _keys(account_id):
        ratelimit.count_failure(ID_DUPLICATE_ANSWERS, scope, key)
