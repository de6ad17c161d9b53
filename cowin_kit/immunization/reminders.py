"""Reminders of routine doses, sent by the worker through the message outbox.

For every child and pregnant woman whose account has not opted out
(``CitizenAccount.reminders_opt_out``), each dose not yet given gets at most two
reminders: ``before`` — from the pack's ``routine.remind_before`` ahead of its due date up
to that date — and ``overdue`` — from ``routine.remind_after_missed`` after the due date,
for as long again as ``routine.overdue_after`` (a worker that was down longer does not send
stale ones; a dose past its last allowed age is missed and not reminded). One SMS per
person, reason and due date names every dose concerned, in the account's language (the
pack's default when the account has none the pack offers).

Idempotent: each (person, schedule, dose, reason, pregnancy) is a row of ``reminder_sent``
under a unique key, written in the same transaction as the outbox message; a restart, a
second run the same day or a second worker never sends it again (a concurrent insert
fails on the key and its message is rolled back with it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from babel.dates import format_date
from flask_babel import force_locale
from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.immunization import duestate
from cowin_kit.immunization.evaluation import (
    Evaluator, load_people, people_condition, routine_rules,
)
from cowin_kit.immunization.models import ReminderSent
from cowin_kit.notifications import queue
from cowin_kit.programme import due as rules
from cowin_kit.registration.models import Beneficiary, CitizenAccount

BEFORE = "before"
OVERDUE = "overdue"
REASONS = (BEFORE, OVERDUE)
TEMPLATES = {BEFORE: "routine_reminder_before", OVERDUE: "routine_reminder_overdue"}


@dataclass(frozen=True)
class Reminder:
    beneficiary_id: int
    account_id: int
    name: str
    reason: str
    due: date
    doses: tuple[tuple[str, int, int], ...]     # (schedule, dose, cycle)


def reasons_for(status: rules.DoseStatus, on: date, settings) -> str | None:
    """The reminder a dose calls for on ``on`` (pure: the windows described above)."""
    if status.due is None or status.status not in (rules.UPCOMING, rules.DUE, rules.OVERDUE):
        return None
    if settings.remind_before.before(status.due) <= on <= status.due:
        return BEFORE
    start = settings.remind_after_missed.after(status.due)
    if start <= on < settings.overdue_after.after(start) and status.status != rules.UPCOMING:
        return OVERDUE
    return None


def pending_reminders(session: Session, pack: ActivePack, on: date, *,
                      live: bool = False) -> list[Reminder]:
    """The reminders due on ``on`` and not sent yet (nothing written). Read from the kept
    due state (cowin_kit.immunization.duestate: each schedule's first pending dose, whose
    due date falls in a reminder window) when it is up to date, else (or with ``live``)
    evaluated live."""
    settings = pack.routine
    opted_out = select(CitizenAccount.id).where(CitizenAccount.reminders_opt_out.is_(True))
    found: list[Reminder] = []
    if not live and duestate.usable(session, pack, on, (rules.DUE, rules.OVERDUE)):
        found = _from_table(session, routine_rules(session, pack), on, settings,
                            Beneficiary.account_id.not_in(opted_out))
    else:
        found = _live(session, pack, on, settings, Beneficiary.account_id.not_in(opted_out))
    if not found:
        return []
    sent: set[tuple[int, str, int, str, int]] = set()
    ids = sorted({r.beneficiary_id for r in found})
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        sent.update(tuple(row) for row in session.execute(select(
            ReminderSent.beneficiary_id, ReminderSent.schedule, ReminderSent.dose,
            ReminderSent.reason, ReminderSent.cycle).where(
            ReminderSent.beneficiary_id.in_(chunk))))
    out = []
    for reminder in found:
        doses = tuple(d for d in reminder.doses
                      if (reminder.beneficiary_id, d[0], d[1], reminder.reason, d[2]) not in sent)
        if doses:
            out.append(Reminder(reminder.beneficiary_id, reminder.account_id, reminder.name,
                                reminder.reason, reminder.due, doses))
    return out


def _grouped(found: list[Reminder], person: tuple[int, int, str],
             statuses: Iterable[rules.DoseStatus], on: date, settings: Any) -> None:
    grouped: dict[tuple[str, date], list[tuple[str, int, int]]] = defaultdict(list)
    for status in statuses:
        reason = reasons_for(status, on, settings)
        if reason is not None and status.due is not None:
            cycle = int(status.pregnancy.ref) if status.pregnancy is not None \
                and status.pregnancy.ref is not None else 0
            grouped[(reason, status.due)].append((status.schedule, status.dose, cycle))
    for (reason, due_day), doses in grouped.items():
        found.append(Reminder(person[0], person[1], person[2], reason, due_day, tuple(doses)))


def _live(session: Session, pack: ActivePack, on: date, settings: Any,
          allowed: Any) -> list[Reminder]:
    routine = routine_rules(session, pack)
    evaluator = Evaluator(routine, on, (rules.UPCOMING, rules.DUE, rules.OVERDUE))
    condition = people_condition(session, on=on, child_since=evaluator.child_since,
                                 location_id=None, facility_id=None, ids=None)
    found: list[Reminder] = []
    for person in load_people(session, pack, and_(condition, allowed), on):
        _grouped(found, (person.id, person.account_id, person.name),
                 evaluator.statuses(person), on, settings)
    return found


def _from_table(session: Session, routine: Any, on: date, settings: Any,
                allowed: Any) -> list[Reminder]:
    # a "before" reminder needs due in [on, on + remind_before], an "overdue" one due in
    # (on - remind_after_missed - overdue_after, on - remind_after_missed]; the bounds
    # below are wide (durations in months vary), reasons_for decides exactly
    wide = timedelta(days=settings.remind_after_missed.approx_days()
                     + settings.overdue_after.approx_days() + 4)
    ahead = timedelta(days=settings.remind_before.approx_days() + 4)
    by_person: dict[tuple[int, int, str], list[rules.DoseStatus]] = {}
    for row in duestate.listed(session, on=on, statuses=duestate.PENDING, condition=allowed,
                               due_between=(on - wide, on + ahead)):
        pregnancy = rules.Pregnancy(on, None, row.pregnancy_id) \
            if row.pregnancy_id is not None else None
        by_person.setdefault((row.beneficiary_id, row.account_id, row.name), []).append(
            rules.DoseStatus(row.schedule, row.dose, row.status, row.earliest, row.due,
                             row.latest, None, row.booster, pregnancy))
    found: list[Reminder] = []
    for person in sorted(by_person):  # people by id, doses in the pack's order, as live
        doses = sorted(by_person[person], key=lambda s: (
            s.pregnancy is not None, routine.order.get(s.schedule, 0),
            s.pregnancy.ref if s.pregnancy is not None else 0, s.dose))
        _grouped(found, person, doses, on, settings)
    return found


def send_reminders(session: Session, pack: ActivePack, on: date) -> int:
    """Queue the reminders due on ``on`` (needs a request context for Babel); how many
    messages were queued. Commits after each message."""
    routine = routine_rules(session, pack)
    reminders = pending_reminders(session, pack, on)
    accounts = {}
    account_ids = sorted({r.account_id for r in reminders})
    for start in range(0, len(account_ids), 1000):
        for account_id, mobile, locale in session.execute(select(
                CitizenAccount.id, CitizenAccount.mobile, CitizenAccount.locale).where(
                CitizenAccount.id.in_(account_ids[start:start + 1000]))):
            accounts[account_id] = (mobile, locale)
    session.commit()
    queued = 0
    for reminder in reminders:
        mobile, locale = accounts[reminder.account_id]
        language = locale if locale in pack.locales else pack.default_locale
        with force_locale(language):
            names = sorted({routine.schedule_name(schedule, language)
                            for schedule, _dose, _cycle in reminder.doses})
        vaccines = ", ".join(names)
        try:
            for schedule, dose, cycle in reminder.doses:
                session.add(ReminderSent(beneficiary_id=reminder.beneficiary_id,
                                         schedule=schedule, dose=dose, reason=reminder.reason,
                                         cycle=cycle, due_date=reminder.due))
            session.flush()
            queue(session, mobile, TEMPLATES[reminder.reason], language, name=reminder.name,
                  vaccines=vaccines,
                  date=format_date(reminder.due, format="medium", locale=language))
            session.commit()
            queued += 1
        except IntegrityError:  # another worker sent it meanwhile
            session.rollback()
    return queued


def set_opt_out(session: Session, account: CitizenAccount, opt_out: bool) -> CitizenAccount:
    """The citizen's choice: no routine dose reminders (True), or reminders again."""
    from cowin_kit.audit.services import NATIONAL, record

    if account.reminders_opt_out != opt_out:
        account.reminders_opt_out = opt_out
        record(session, "account.reminders", "citizen_account", account.id, place=NATIONAL,
               opt_out=opt_out)
    session.commit()
    return account


__all__ = ["BEFORE", "OVERDUE", "REASONS", "Reminder", "pending_reminders", "reasons_for",
           "send_reminders", "set_opt_out"]
