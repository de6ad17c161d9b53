"""Setting up and judging the fault-injection runs (tests/faults, docs/reliability.md):
an instance's production settings, its database prepared in-process, and the checks
made after each fault on the answers clients got and on the data."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import func, select

from cowin_kit.testing.api import booked_counts
from cowin_kit.testing.load import Load
from cowin_kit.testing.stack import http_json

__all__ = ["assert_answers", "assert_data_intact", "first_success_after", "instance_settings",
           "record", "setup_app", "wait_until", "write_recovery"]

FERNET_KEY = Fernet.generate_key().decode()


def instance_settings(folder: Path, database_url: str, redis_url: str = "") -> dict[str, str]:
    """Production settings of a test instance (keys given, limits above the load's)."""
    return {
        "ENV": "production", "INSTANCE_PATH": str(folder / "instance"),
        "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "SECRET_KEY": "faults-" + "s" * 40, "ENCRYPTION_KEYS": FERNET_KEY,
        "ID_HASH_KEY": "faults-" + "h" * 40, "NOTIFIER": f"file:{folder / 'messages.jsonl'}",
        "LOG_LEVEL": "INFO", "OTP_LIMITS_PER_NUMBER": "1000/hour",
        "OTP_LIMITS_PER_IP": "100000/hour", "BOOKING_LIMITS_PER_ACCOUNT": "1000/hour",
        "SEARCH_LIMITS_PER_IP": "100000/hour", "WEB_TIMEOUT": "30",
        "WEB_GRACEFUL_TIMEOUT": "5",
    }


def setup_app(settings: dict[str, str], india_pack):
    """An app in this process on the instance's database: migrated, the pack installed,
    signing keys generated."""
    from cowin_kit import create_app
    from cowin_kit.certificates import services
    from cowin_kit.certificates.signing import keystore
    from cowin_kit.core import migrate
    from cowin_kit.core.db import get_database
    from cowin_kit.provision.installer import install_pack

    from sqlalchemy.engine import make_url

    # This app's own commits (setting up hundreds of citizens, publishing sessions) need
    # not wait for the disk; the instance's processes keep PostgreSQL's durable default.
    url = make_url(settings["DATABASE_URL"]).update_query_dict(
        {"options": "-c synchronous_commit=off"})
    app = create_app({**settings, "DATABASE_URL": url.render_as_string(hide_password=False)})
    migrate.upgrade(get_database(app).engine)
    with app.app_context(), get_database(app).session() as session:
        install_pack(session, india_pack)
        keystore.generate(services.keystore().keys_dir, "IN", "MoHFW")
    return app


def first_success_after(load: Load, moment: float, kinds=("booking", "dose")) -> float | None:
    """Seconds from ``moment`` to the end of the first write of the load acknowledged
    (2xx) among those sent after it, or None (the load may have run out of writes)."""
    later = sorted(o.started + o.seconds for o in load.outcomes
                   if o.kind in kinds and o.started >= moment and o.status is not None
                   and o.status < 300)
    return later[0] - moment if later else None


def write_recovery(base_url: str, vaccinator: str, reference_id: str, since: float,
                   load: Load | None = None, seconds: float = 60) -> float:
    """Seconds from ``since`` until the app takes writes again: a dose for
    ``reference_id`` sent (same Idempotency-Key) every 0.1 s until acknowledged, or the
    load's first acknowledged write after ``since`` if that came earlier. Fails if no
    write is acknowledged within ``seconds``."""
    key = str(uuid.uuid4())
    deadline = time.monotonic() + seconds
    probe = None
    while time.monotonic() < deadline:
        try:
            status, _head, _body = http_json(
                "POST", base_url + "/api/v1/vaccinator/doses",
                {"reference_id": reference_id, "vaccine": "COVISHIELD", "lot": "4121Z005"},
                {"Authorization": f"Bearer {vaccinator}", "Idempotency-Key": key}, timeout=10)
        except OSError:
            status = None
        if status in (200, 201):
            probe = time.monotonic() - since
            break
        assert status is None or status == 503, status
        time.sleep(0.1)
    assert probe is not None, f"no write acknowledged {seconds} s after the fault"
    seen = first_success_after(load, since) if load is not None else None
    return min(probe, seen) if seen is not None else probe


def wait_until(predicate, seconds: float = 90, step: float = 0.25) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    assert predicate()


def assert_answers(load: Load, *, connection_errors_allowed: bool = False) -> None:
    """Never a 500 nor a timeout; every 5xx is 503 problem+json database_unavailable
    with Retry-After."""
    for outcome in load.outcomes:
        assert outcome.error != "timeout", outcome
        if outcome.status is None:
            assert connection_errors_allowed, outcome
            continue
        if outcome.status >= 500:
            assert outcome.status == 503, outcome
            assert outcome.content_type.startswith("application/problem+json"), outcome
            assert outcome.code == "database_unavailable", outcome
            assert outcome.retry_after and int(outcome.retry_after) > 0, outcome


def assert_data_intact(app, load: Load, capacity: int) -> dict[str, int]:
    """No acknowledged booking or dose lost, no seat oversold (``capacity`` seats), each
    dose certified exactly once (the worker given time to drain the outbox)."""
    from cowin_kit.certificates.models import Certificate
    from cowin_kit.core.db import get_database
    from cowin_kit.registration.models import Beneficiary, Dose
    from cowin_kit.scheduling.models import Appointment
    from cowin_kit.vaccination.models import CertificateDue

    database = get_database(app)
    database.dispose()  # connections from before a restart are gone
    booked = {o.ref for o in load.acknowledged("booking")}
    dosed = {o.ref for o in load.acknowledged("dose")}
    booked_per_dose, slots, rows = booked_counts(app, load.session_id)
    assert booked_per_dose.get(1, 0) == slots == rows <= capacity
    with app.app_context(), database.session() as session:
        in_session = set(session.scalars(
            select(Beneficiary.reference_id).join(Appointment).where(
                Appointment.session_id == load.session_id, Appointment.status == "booked")))
        assert booked <= in_session, booked - in_session
        with_dose = set(session.scalars(
            select(Beneficiary.reference_id).join(Dose, Dose.beneficiary_id == Beneficiary.id)
            .where(Beneficiary.reference_id.in_(sorted(dosed or {""})))))
        assert dosed <= with_dose, dosed - with_dose

    def outbox_empty() -> bool:
        with app.app_context(), database.session() as session:
            return not session.scalar(select(func.count()).select_from(CertificateDue)
                                      .where(CertificateDue.status == "pending"))

    wait_until(outbox_empty)
    with app.app_context(), database.session() as session:
        per_dose = dict(session.execute(
            select(Dose.id, func.count(Certificate.id))
            .outerjoin(Certificate, Certificate.dose_id == Dose.id).group_by(Dose.id)).all())
        assert per_dose and set(per_dose.values()) == {1}, per_dose
    return {"bookings_acknowledged": len(booked), "seats_booked": rows,
            "doses_acknowledged": len(dosed), "doses_certified": len(per_dose)}


def record(report, name: str, load: Load, start: float, end: float, **figures) -> None:
    during = load.between(start, end)
    report[name] = {"requests_during_fault": len(during),
                    "answers_during_fault": Load.summary(during),
                    "answers_overall": Load.summary(load.outcomes),
                    "slowest_answer_seconds": round(max(o.seconds for o in load.outcomes), 2),
                    **figures}
