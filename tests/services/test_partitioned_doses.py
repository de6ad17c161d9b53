"""Doses and appointments partitioned by month on PostgreSQL (docs/partitioning.md): the
unique keys held by the claim tables dose_key and appointment_live refuse what the plain
table's keys refused, under the same names, concurrent duplicates wait and fail as on a
unique index, a dose moved to another month or renumbered keeps its claim and its
certificate, and a booking of a person already booked is refused."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from cowin_kit.core import partitioning
from cowin_kit.core.db import get_database
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.scheduling import booking_rows
from cowin_kit.testing import (
    add_members, auth, booked_counts, publish, record_first_dose, run_worker, sign_in,
)

NOW = datetime.now(timezone.utc)


def _session(app):
    return get_database(app).session()


def _violated(error: IntegrityError) -> str:
    return error.orig.diag.constraint_name  # type: ignore[union-attr]


def _dose_values(session, ref: str, **changes) -> dict:
    person = session.scalars(select(Beneficiary).where(Beneficiary.reference_id == ref)).one()
    first = session.scalars(select(Dose).where(Dose.beneficiary_id == person.id)).first()
    values = {"beneficiary_id": person.id, "series": "", "dose_number": 1,
              "product_id": first.product_id, "administered_at": NOW, "lot": "L",
              "facility_id": first.facility_id, "vaccinator": "v", "recorded_at": NOW,
              "source": "recorded"}
    return {**values, **changes}


@pytest.fixture
def recorded(pg_app):
    """A person with one dose recorded through the API and its certificate issued."""
    from cowin_kit.certificates import services
    from cowin_kit.certificates.signing import keystore

    client = pg_app.test_client()
    with pg_app.app_context():
        keystore.generate(services.keystore().keys_dir, "IN", "MoHFW")
    citizen, ref, response = record_first_dose(pg_app, client)
    assert run_worker(pg_app) == 1
    return pg_app, ref, response.get_json()["dose_id"]


def test_the_layout_partitioned_tables_claim_tables_and_keys(pg_app):
    with pg_app.app_context(), _session(pg_app) as session:
        connection = session.connection()
        for table in ("dose", "appointment"):
            assert partitioning.relkind(connection, table) == "p"
        keys = dict(session.execute(text(
            "SELECT conname, confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND confrelid IN ('dose_key'::regclass, 'dose'::regclass)")).all())
        assert keys == {f"fk_{t}_dose_id_dose": "dose_key" for t in (
            "certificate", "certificate_due", "aefi_report", "aefi_report_dose", "stock_entry")}
        names = set(session.scalars(text(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'dose_key'::regclass")))
        assert names == {"pk_dose_key", "uq_dose_beneficiary_id_series_dose_number",
                         "uq_dose_idempotency_key"}
        assert session.scalar(text("SELECT indexdef FROM pg_indexes WHERE indexname = "
                                   "'uq_appointment_live_dose'")).startswith(
            "CREATE UNIQUE INDEX uq_appointment_live_dose ON public.appointment_live")


def test_a_dose_recorded_twice_or_an_idempotency_key_reused_is_refused(recorded):
    app, ref, dose_id = recorded
    with app.app_context(), _session(app) as session:
        values = _dose_values(session, ref, idempotency_key="key-1", dose_number=2)
        session.execute(Dose.__table__.insert().values(**values))
        session.commit()
        with pytest.raises(IntegrityError) as same_dose:
            session.execute(Dose.__table__.insert().values(
                **{**values, "idempotency_key": "key-2"}))
        assert _violated(same_dose.value) == "uq_dose_beneficiary_id_series_dose_number"
        session.rollback()
        with pytest.raises(IntegrityError) as same_key:
            session.execute(Dose.__table__.insert().values(**{**values, "dose_number": 3}))
        assert _violated(same_key.value) == "uq_dose_idempotency_key"
        session.rollback()
        # an id already used, in another month (another partition): the claim's key refuses it
        with pytest.raises(IntegrityError) as same_id:
            session.execute(Dose.__table__.insert().values(**{
                **values, "id": dose_id, "dose_number": 4, "idempotency_key": None,
                "administered_at": NOW - timedelta(days=62)}))
        assert _violated(same_id.value) == "pk_dose_key"
        session.rollback()
        # the same dose through the ORM (a flush) in another series is fine, twice is not
        session.add(Dose(**_dose_values(session, ref, series="routine", dose_number=1)))
        session.commit()
        session.add(Dose(**_dose_values(session, ref, series="routine", dose_number=1)))
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
        counts = session.execute(text("SELECT (SELECT count(*) FROM dose), "
                                      "(SELECT count(*) FROM dose_key)")).one()
        assert tuple(counts) == (3, 3)


def test_concurrent_duplicates_wait_for_the_first_and_fail(recorded):
    """The second insert of the same dose blocks until the first commits, then fails, as
    on a unique index; the same for two live appointments of one person and dose."""
    app, ref, _ = recorded
    engine = get_database(app).engine
    with app.app_context(), _session(app) as session:
        values = _dose_values(session, ref, dose_number=2)
    outcome: dict = {}

    def second() -> None:
        with engine.connect() as connection:
            started = time.monotonic()
            try:
                connection.execute(Dose.__table__.insert().values(**values))
                connection.commit()
                outcome["result"] = "inserted"
            except IntegrityError as error:
                outcome["result"] = _violated(error)
            outcome["waited"] = time.monotonic() - started

    with engine.connect() as first:
        first.execute(Dose.__table__.insert().values(**values))
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(1.0)
        assert thread.is_alive()      # waiting on the first transaction's claim
        first.commit()
    thread.join(10)
    assert outcome["result"] == "uq_dose_beneficiary_id_series_dose_number"
    assert outcome["waited"] >= 0.9


def test_concurrent_bookings_of_one_member_book_once(pg_app, monkeypatch):
    """Requests of the same member racing past the live-appointment check (hidden here):
    the claim refuses all but one, answered already_booked, their seats given back."""
    session_id = publish(pg_app, capacity={1: 50})
    client = pg_app.test_client()
    token = sign_in(pg_app, client)
    (ref,) = add_members(pg_app, client, token, 1)
    read = booking_rows.members_and_history

    def without_live_appointments(*args):
        found = read(*args)
        found.live = set()
        return found

    monkeypatch.setattr(booking_rows, "members_and_history", without_live_appointments)
    request = {"session_id": session_id, "slot": "09:00-11:00", "beneficiaries": [ref]}

    def attempt(_):
        response = pg_app.test_client().post("/api/v1/appointments", headers=auth(token),
                                              json=request)
        return response.status_code, (response.get_json() or {}).get("code")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(16)))
    assert sum(1 for status, _ in results if status == 201) == 1, results
    assert all(code == "already_booked" for status, code in results if status != 201), results
    assert booked_counts(pg_app, session_id) == ({1: 1}, 1, 1)
    with pg_app.app_context(), _session(pg_app) as session:
        assert session.scalar(text("SELECT count(*) FROM appointment_live")) == 1


def test_a_cancelled_appointment_frees_its_claim(pg_app):
    session_id = publish(pg_app, capacity={1: 5})
    client = pg_app.test_client()
    token = sign_in(pg_app, client)
    (ref,) = add_members(pg_app, client, token, 1)
    request = {"session_id": session_id, "slot": "09:00-11:00", "beneficiaries": [ref]}
    booked = client.post("/api/v1/appointments", headers=auth(token), json=request)
    assert booked.status_code == 201, booked.get_json()
    appointment = booked.get_json()["appointments"][0]["appointment_id"]
    with pg_app.app_context(), _session(pg_app) as session:
        assert session.scalar(text("SELECT appointment_id FROM appointment_live")) == appointment
    cancelled = client.post(f"/api/v1/appointments/{booked.get_json()['booking_id']}/cancel",
                            headers=auth(token), json={})
    assert cancelled.status_code == 200, cancelled.get_json()
    with pg_app.app_context(), _session(pg_app) as session:
        assert session.scalar(text("SELECT count(*) FROM appointment_live")) == 0
    again = client.post("/api/v1/appointments", headers=auth(token), json=request)
    assert again.status_code == 201, again.get_json()
    with pg_app.app_context(), _session(pg_app) as session:
        assert session.scalar(text("SELECT count(*) FROM appointment_live")) == 1
        assert session.scalar(text("SELECT count(*) FROM appointment")) == 2


def test_a_dose_moved_to_another_month_or_renumbered_keeps_its_claim(recorded):
    app, ref, dose_id = recorded
    with app.app_context(), _session(app) as session:
        dose = session.get(Dose, dose_id)
        before = session.execute(text("SELECT tableoid::regclass::text FROM dose WHERE id = :i"),
                                 {"i": dose_id}).scalar()
        dose.administered_at = dose.administered_at - timedelta(days=40)   # another month
        session.commit()
        after = session.execute(text("SELECT tableoid::regclass::text FROM dose WHERE id = :i"),
                                {"i": dose_id}).scalar()
        assert after != before
        assert session.execute(text("SELECT dose_id, dose_number FROM dose_key")).all() == \
            [(dose_id, 1)]
        assert session.scalar(text("SELECT count(*) FROM certificate WHERE dose_id = :i"),
                              {"i": dose_id}) == 1
        # renumbered as a merge does (out of the way first, then its number)
        second = Dose(**_dose_values(session, ref, dose_number=2,
                                     administered_at=NOW - timedelta(days=70)))
        session.add(second)
        session.flush()
        dose.dose_number, second.dose_number = -dose.id, -second.id
        session.flush()
        dose.dose_number, second.dose_number = 2, 1
        session.commit()
        assert dict(session.execute(text("SELECT dose_id, dose_number FROM dose_key")).all()) \
            == {dose_id: 2, second.id: 1}
        # a third dose numbered as one of them is still refused, in either month
        for month in (NOW, NOW - timedelta(days=70)):
            with pytest.raises(IntegrityError) as duplicate:
                session.execute(Dose.__table__.insert().values(
                    **_dose_values(session, ref, dose_number=2, administered_at=month)))
            assert _violated(duplicate.value) == "uq_dose_beneficiary_id_series_dose_number"
            session.rollback()
        # a dose with a certificate cannot be deleted; one without frees its number
        with pytest.raises(IntegrityError):
            session.execute(text("DELETE FROM dose WHERE id = :i"), {"i": dose_id})
        session.rollback()
        session.execute(text("DELETE FROM dose WHERE id = :i"), {"i": second.id})
        session.execute(Dose.__table__.insert().values(**_dose_values(session, ref)))
        session.commit()
        assert session.scalar(text("SELECT count(*) FROM dose_key")) == 2


def test_rows_moved_out_of_the_default_partition_keep_their_claims(recorded):
    """The worker's job creating a month whose doses landed in the default partition moves
    them without touching their claims (a certificate references one)."""
    app, ref, dose_id = recorded
    spec = partitioning.BY_TABLE["dose"]
    far = partitioning.add_months(partitioning.month_start(NOW), 30)
    with app.app_context(), _session(app) as session:
        session.execute(text("UPDATE dose SET administered_at = :t WHERE id = :i"),
                        {"t": far + timedelta(days=2), "i": dose_id})
        session.commit()
        assert session.scalar(text(f"SELECT count(*) FROM {spec.default}")) == 1
        assert partitioning.create_partition(session.connection(), spec, far)
        session.commit()
        assert session.scalar(text(f"SELECT count(*) FROM {spec.default}")) == 0
        assert session.scalar(text(f"SELECT count(*) FROM {spec.partition(far)}")) == 1
        assert session.execute(text("SELECT dose_id FROM dose_key")).scalars().all() == [dose_id]
        assert session.scalar(select(func.count()).select_from(Dose)) == 1
        # months of doses are never dropped
        assert partitioning.droppable(session.connection(), spec, far + timedelta(days=400)) \
            == []
        with pytest.raises(partitioning.PartitionError):
            partitioning.drop_partition(session.connection(), spec, spec.partition(far))
