"""Routine dose reminders by the worker: the windows before and after a due date, once per
dose and reason across runs (a restarted worker), the account's opt-out and language."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import select

from cowin_kit.core.db import get_database
from cowin_kit.immunization.models import ReminderSent
from cowin_kit.testing import IST, auth, sign_in, today
from cowin_kit.testing.routine_area import seed_area
from cowin_kit.worker import Worker


@dataclass(frozen=True)
class Sent:
    recipient: str
    template: str
    locale: str
    text: str


def messages(app):
    """The reminders the notifier sent (the app's file notifier), in order."""
    lines = [json.loads(line) for line in app.outbox.read_text(encoding="utf-8").splitlines()]
    return [Sent(m["to"], m["template"], m["locale"], m["text"]) for m in lines
            if m["template"].startswith("routine_reminder")]


def at(day):
    return datetime.combine(day, time(9), IST).astimezone(timezone.utc)


def test_reminders_once_per_dose_and_reason_across_worker_runs(reg_app):
    seed_area(reg_app)
    birth = today() - timedelta(weeks=7)
    day = birth + timedelta(weeks=6) - timedelta(days=1)  # the 6-week doses tomorrow
    first = Worker(reg_app).run_round(force_reminders=True, now=at(day))
    assert "reminders" not in first.failed and first.reminders_sent >= 1
    to_a = [m for m in messages(reg_app) if m.recipient.endswith("9876500001")]
    assert [m.template for m in to_a] == ["routine_reminder_before"]   # one SMS, all doses
    assert "Anu" in to_a[0].text and "Diphtheria" in to_a[0].text and "Polio" in to_a[0].text
    # a restarted worker (a new Worker object) the same day and the day after: nothing new
    again = Worker(reg_app).run_round(force_reminders=True, now=at(day))
    after = Worker(reg_app).run_round(force_reminders=True, now=at(day + timedelta(days=1)))
    assert again.reminders_sent == 0 and after.reminders_sent <= 1
    assert len([m for m in messages(reg_app) if m.recipient.endswith("9876500001")]) == 1
    # a week after the due date: the overdue reminder, once
    late = birth + timedelta(weeks=6, days=8)
    Worker(reg_app).run_round(force_reminders=True, now=at(late))
    Worker(reg_app).run_round(force_reminders=True, now=at(late + timedelta(days=2)))
    to_a = [m for m in messages(reg_app) if m.recipient.endswith("9876500001")]
    assert [m.template for m in to_a] == ["routine_reminder_before",
                                          "routine_reminder_overdue"]
    sent = messages(reg_app)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        keys = session.execute(select(ReminderSent.beneficiary_id, ReminderSent.schedule,
                                      ReminderSent.dose, ReminderSent.reason)).all()
    assert len(keys) == len(set(keys)) > 0


def test_opt_out_and_the_accounts_language(reg_app):
    refs = seed_area(reg_app)
    client = reg_app.test_client()
    guardian_b = sign_in(reg_app, client, mobile="9876500002")
    off = client.put("/api/v1/account/reminders", json={"opt_out": True},
                     headers=auth(guardian_b))
    assert off.status_code == 200 and off.get_json() == {"opt_out": True}
    assert client.get("/api/v1/account/reminders",
                      headers=auth(guardian_b)).get_json() == {"opt_out": True}
    guardian_a = sign_in(reg_app, client, mobile="9876500001")
    assert client.put("/api/v1/account/locale", json={"locale": "hi"},
                      headers=auth(guardian_a)).status_code == 200
    mother = sign_in(reg_app, client, mobile="9876500004")
    assert client.put("/api/v1/account/reminders", json={"opt_out": "maybe"},
                      headers=auth(mother)).status_code == 422
    birth = today() - timedelta(weeks=7)
    day = birth + timedelta(weeks=6) - timedelta(days=1)
    Worker(reg_app).run_round(force_reminders=True, now=at(day))
    sent = messages(reg_app)
    assert not [m for m in sent if m.recipient.endswith("9876500002")]   # B opted out
    to_a = [m for m in sent if m.recipient.endswith("9876500001")]
    assert to_a and {m.locale for m in to_a} == {"hi"}
    assert all("Anu" in m.text and "कृपया" in m.text for m in to_a)
    # B's account turns reminders back on: B's overdue doses are reminded now
    client.put("/api/v1/account/reminders", json={"opt_out": False}, headers=auth(guardian_b))
    b_missed = today() - timedelta(weeks=20) + timedelta(weeks=6, days=8)
    Worker(reg_app).run_round(force_reminders=True, now=at(b_missed))
    assert [m for m in messages(reg_app) if m.recipient.endswith("9876500002")]
    assert refs
