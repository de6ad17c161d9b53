"""The hooks plugins receive (part of :mod:`cowin_kit.plugins`): :data:`HOOKS`, each
documented with its arguments, and their firing after the transaction that made the
change commits."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from cowin_kit.plugins.registry import PluginRegistry, current_registry

log = logging.getLogger("cowin_kit.plugins")

# --- hooks ----------------------------------------------------------------------------------
#
# Every hook is called with keyword arguments only, after the transaction that made the
# change has committed (never for a change that was rolled back). Receivers must accept
# ``**_`` so that arguments added later do not break them. A receiver that raises is logged
# with its plugin's name and skipped: the request that caused the event still succeeds.
# Receivers run in the request's thread; slow work (network calls) belongs in a queue of the
# plugin's own, drained by a command (see the fhir-export example).

HOOKS: dict[str, str] = {
    "beneficiary_registered": """A person was registered (online, as a walk-in by staff,
    or by a health worker; not once per row of a bulk import).

    :param reference_id: the 14-digit beneficiary reference ID (str)
    :param id_type: code of the photo-ID type in the country pack (str; "" for a child
        registered without an ID document); the ID number is never passed
    :param birth_year: year of birth (int)
    :param gender: gender code of the pack (str)
    :param locale: language of the account (str)
    """,
    "appointment_booked": """An appointment was booked; called once per person booked.

    :param appointment_id: id of the appointment (int)
    :param booking_id: UUID shared by the people booked together (str)
    :param reference_id: the person's beneficiary reference ID (str)
    :param dose_number: the dose the appointment is for (int)
    :param session_id: UUID of the vaccination session (str)
    :param session_date: the day of the session (datetime.date)
    :param facility_code: code of the facility (str)
    """,
    "appointment_cancelled": """An appointment was cancelled by the citizen, or because its
    session was cancelled; called once per appointment.

    :param appointment_id: id of the appointment (int)
    :param booking_id: UUID of the booking (str)
    :param reference_id: the person's beneficiary reference ID (str)
    :param dose_number: the dose the appointment was for (int)
    :param session_id: UUID of the vaccination session (str)
    :param reason: ``"citizen"`` or ``"session_cancelled"`` (str)
    """,
    "dose_recorded": """A vaccinator recorded a dose (not called when the same dose is sent
    again and nothing new was written, nor for doses loaded by a bulk import).

    :param dose_id: id of the dose (int)
    :param reference_id: the person's beneficiary reference ID (str)
    :param dose_number: 1 for the first dose, ... (int)
    :param vaccine: code of the vaccine product in the pack (str)
    :param lot: lot (batch) number (str)
    :param administered_at: when it was given (timezone-aware datetime, UTC)
    :param facility_code: code of the facility (str)
    """,
    "certificate_issued": """A certificate was issued for a dose (by the worker's outbox).

    :param certificate_id: the certificate's id, its HCID (str)
    :param dose_id: id of the dose it certifies (int)
    :param reference_id: the person's beneficiary reference ID (str)
    :param provisional: True while doses of the schedule are still due (bool)
    :param formats: the built-in formats it carries, e.g. ``["dcc", "shc"]`` (list[str])
    :param documents: name -> text produced by the plugins' certificate formats
        (dict[str, str])
    """,
    "aefi_reported": """An adverse event following immunisation was reported.

    :param report_id: id of the report (int)
    :param dose_id: id of the dose it follows (int)
    :param seriousness: seriousness code (str)
    :param outcome: outcome code (str)
    :param onset_at: when the symptoms began (timezone-aware datetime)
    """,
    "aefi_alert_raised": """A serious AEFI raised an alert to its area (cowin_kit.safety):
    the kit lists it on the safety dashboard and sends an SMS to the nearest AEFI
    investigators of the area with a mobile number; a plugin may forward it to another
    channel of the deployment's.

    :param alert_id: id of the alert (int)
    :param report_id: id of the report (int)
    :param location_code: code of the area alerted (the pack's alert level), None for a
        dose without a facility (national) (str | None)
    :param criteria: the seriousness criteria, e.g. ``["hospitalization"]`` (list[str])
    """,
    "aefi_updated": """A step of an AEFI investigation was taken (cowin_kit.safety).

    :param report_id: id of the report (int)
    :param status: ``"open"`` or ``"closed"`` (str)
    :param stage: the stage the report is in now (str)
    :param causality: WHO causality category given so far, e.g. ``"A1"``, or None (str)
    """,
}


# --- firing hooks after commit ------------------------------------------------------------

_PENDING = "cowin_kit.pending_hooks"


def wants(hook: str) -> bool:
    """Whether an enabled plugin receives ``hook`` (skip building its arguments if not)."""
    registry = current_registry()
    return bool(registry and registry.hooks.get(hook))


def queue_hook(session: Session, hook: str, **arguments: Any) -> None:
    """Fire ``hook`` with ``arguments`` once ``session`` commits; forget it on rollback.
    Services call this just before their commit (cheap when no plugin listens)."""
    if hook not in HOOKS:
        raise ValueError(f"unknown hook {hook!r}")
    registry = current_registry()
    if registry is None or not registry.hooks.get(hook):
        return
    if session.get_transaction() is None:
        session.begin()  # the queue lives exactly as long as this transaction
    session.info.setdefault(_PENDING, []).append((registry, hook, arguments))


def fire(hook: str, **arguments: Any) -> None:
    """Call the current app's receivers of ``hook`` now (for tests and for code that has
    no transaction); a receiver that raises is logged and skipped."""
    if hook not in HOOKS:
        raise ValueError(f"unknown hook {hook!r}")
    registry = current_registry()
    if registry is not None:
        _fire(registry, hook, **arguments)


def _fire(registry: PluginRegistry, hook: str, **arguments: Any) -> None:
    for plugin_name, receiver in registry.hooks.get(hook, ()):
        try:
            receiver(**arguments)
        except Exception:
            log.exception("plugin %s: receiver of %s failed", plugin_name, hook)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    for registry, hook, arguments in pending or ():
        _fire(registry, hook, **arguments)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outer transaction ended without a commit
        session.info.pop(_PENDING, None)
