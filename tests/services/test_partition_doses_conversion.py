"""A populated database's doses and appointments converted to monthly partitions online
(`cowin-kit db partition --table dose --table appointment`, docs/partitioning.md), on
PostgreSQL: thousands of doses with certificates and appointments, written by the kit at
the revision before 0034, then converted while a writer records, corrects and deletes
doses and books and cancels appointments; interrupted after two batches and resumed.
Nothing is lost, the claim tables hold exactly the rows' keys, the foreign keys reference
dose_key and are validated, and a duplicate dose or a double booking is still refused."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from cowin_kit.cli import main
from cowin_kit.core import migrate, partitioning
from cowin_kit.core.db import get_database, make_engine
from cowin_kit.testing import (
    accounts_with_members, auth, make_reg_app, postgresql_server_url, publish, run_worker,
    staff_token,
)

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not postgresql_server_url(),
                                 reason="needs COWIN_KIT_TEST_DATABASE_URL (PostgreSQL)")]

NOW = datetime.now(timezone.utc)
TABLES = ("dose", "appointment")
DOSES, APPOINTMENTS, PEOPLE = 4000, 3000, 40


def before_doses() -> str:
    revisions = migrate.all_revisions()
    return revisions[revisions.index("0034") - 1]


def populate(engine) -> None:
    """Doses over the last ten months spread over PEOPLE people and many series, a
    certificate for every tenth, appointments over the same months (one in six booked)."""
    with engine.begin() as connection:
        template = connection.execute(text(
            "SELECT product_id, facility_id FROM dose LIMIT 1")).one()
        people = connection.scalars(text("SELECT id FROM beneficiary ORDER BY id")).all()
        assert len(people) > PEOPLE
        appointment = connection.execute(text(
            "SELECT session_id, slot_id FROM appointment LIMIT 1")).one()
        connection.execute(text(
            "INSERT INTO dose (beneficiary_id, series, dose_number, product_id, "
            "administered_at, lot, facility_id, vaccinator, recorded_at, idempotency_key, "
            "source) SELECT (:people)[1 + g % :n], 'routine-' || (g / :n), 1, :product, "
            ":now - make_interval(hours => g * 2), 'LOT' || g, :facility, 'v', :now, "
            "CASE WHEN g % 3 = 0 THEN 'key-' || g END, 'imported' "
            "FROM generate_series(1, :doses) g"),
            {"people": list(people[1:PEOPLE + 1]), "n": PEOPLE, "product": template[0],
             "facility": template[1], "now": NOW, "doses": DOSES})
        connection.execute(text(
            "INSERT INTO certificate (id, beneficiary_id, dose_id, provisional, key_id, "
            "issued_at, expires_at) SELECT gen_random_uuid()::text, beneficiary_id, id, "
            "false, 'k', :now, :now FROM dose WHERE id % 10 = 0 AND source = 'imported'"),
            {"now": NOW})
        connection.execute(text(
            "INSERT INTO appointment (id, booking_id, beneficiary_id, session_id, slot_id, "
            "dose_number, status, reschedule_count, account_id, created_at, updated_at) "
            "SELECT gen_random_uuid()::text, gen_random_uuid()::text, b.id, :session, :slot, "
            "10 + g, CASE WHEN g % 6 = 0 THEN 'booked' ELSE 'cancelled' END, 0, "
            "b.account_id, :now - make_interval(hours => g * 2), :now "
            "FROM generate_series(1, :appointments) g "
            "JOIN beneficiary b ON b.id = (:people)[1 + g % :n]"),
            {"people": list(people[1:PEOPLE + 1]), "n": PEOPLE, "session": appointment[0],
             "slot": appointment[1], "now": NOW, "appointments": APPOINTMENTS})


def fingerprint(engine, table: str, where: str = "TRUE") -> tuple[int, str]:
    with engine.connect() as connection:
        return tuple(connection.execute(text(
            f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')) "
            f"FROM {table} t WHERE {where}")).one())


def claims_match(engine) -> None:
    """dose_key holds every dose's key and nothing else; appointment_live every booked
    appointment's."""
    with engine.connect() as connection:
        assert connection.scalar(text(
            "SELECT count(*) FROM dose d FULL JOIN dose_key k ON k.dose_id = d.id "
            "WHERE k.dose_id IS NULL OR d.id IS NULL OR (d.beneficiary_id, d.series, "
            "d.dose_number, d.idempotency_key) IS DISTINCT FROM (k.beneficiary_id, k.series, "
            "k.dose_number, k.idempotency_key)")) == 0
        assert connection.scalar(text(
            "SELECT count(*) FROM (SELECT * FROM appointment WHERE status = 'booked') a "
            "FULL JOIN appointment_live l ON l.appointment_id = a.id "
            "WHERE l.appointment_id IS NULL OR a.id IS NULL OR (a.beneficiary_id, "
            "a.dose_number) IS DISTINCT FROM (l.beneficiary_id, l.dose_number)")) == 0


class Writer(threading.Thread):
    """Records doses (one in four with an idempotency key), corrects the time and number
    of some, deletes some it made, books appointments and cancels some, one change per
    transaction, until stopped: what it committed is noted."""

    def __init__(self, engine, person: int, template, appointment) -> None:
        super().__init__(daemon=True)
        self.engine, self.person, self.template = engine, person, template
        self.appointment = appointment
        self.stop = threading.Event()
        self.doses: dict[int, int] = {}          # id -> dose_number, as committed
        self.deleted: set[int] = set()
        self.booked: list[str] = []
        self.errors: list[BaseException] = []

    def run(self) -> None:
        step = 0
        try:
            while not self.stop.is_set():
                step += 1
                with self.engine.begin() as connection:
                    dose = connection.scalar(text(
                        "INSERT INTO dose (beneficiary_id, series, dose_number, product_id, "
                        "administered_at, lot, facility_id, vaccinator, recorded_at, "
                        "idempotency_key, source) VALUES (:b, 'writer', :n, :p, :at, 'W', :f, "
                        "'w', :at, :key, 'recorded') RETURNING id"),
                        {"b": self.person, "n": step, "p": self.template[0],
                         "f": self.template[1], "at": NOW - timedelta(days=step % 300),
                         "key": f"writer-{step}" if step % 4 == 0 else None})
                    self.doses[dose] = step
                if step % 5 == 0:       # an earlier dose: 60 days earlier, another number
                    earlier = next(iter(self.doses))
                    with self.engine.begin() as connection:
                        connection.execute(text(
                            "UPDATE dose SET administered_at = administered_at - "
                            "interval '60 days', dose_number = dose_number + 100000 "
                            "WHERE id = :i"), {"i": earlier})
                        self.doses[earlier] += 100000
                if step % 7 == 0:
                    gone = max(self.doses)
                    with self.engine.begin() as connection:
                        connection.execute(text("DELETE FROM dose WHERE id = :i"), {"i": gone})
                    del self.doses[gone]
                    self.deleted.add(gone)
                with self.engine.begin() as connection:
                    booked = connection.scalar(text(
                        "INSERT INTO appointment (id, booking_id, beneficiary_id, session_id, "
                        "slot_id, dose_number, status, reschedule_count, account_id, "
                        "created_at, updated_at) SELECT gen_random_uuid()::text, 'w', id, :s, "
                        ":slot, 100000 + :n, 'booked', 0, account_id, :now, :now "
                        "FROM beneficiary WHERE id = :b RETURNING id"),
                        {"s": self.appointment[0], "slot": self.appointment[1], "n": step,
                         "now": NOW, "b": self.person})
                    self.booked.append(booked)
                if step % 3 == 0:
                    with self.engine.begin() as connection:
                        connection.execute(text("UPDATE appointment SET status = 'cancelled' "
                                                "WHERE id = :i"), {"i": self.booked[-2]})
                time.sleep(0.003)
        except BaseException as error:  # noqa: BLE001  (reported by the test)
            self.errors.append(error)


@pytest.fixture
def populated(fresh_database_url, monkeypatch, tmp_path, india_pack):
    """A database written by the kit (people, a session, a booking, a dose recorded and its
    certificate issued), taken back to the revision before 0034 (doses and appointments
    plain again, with their rows), given thousands of doses, certificates and
    appointments, then upgraded: the two tables stay plain."""
    from cowin_kit.certificates import services
    from cowin_kit.certificates.signing import keystore

    url = fresh_database_url("postgresql")
    engine = make_engine(url)
    migrate.upgrade(engine)
    app = make_reg_app(url, tmp_path, india_pack)
    client = app.test_client()
    with app.app_context():
        keystore.generate(services.keystore().keys_dir, "IN", "MoHFW")
    tokens, refs = accounts_with_members(app, PEOPLE + 1)
    publish(app, code="F-TVM-1")
    vaccinator = staff_token(app, client, "vax.conv", "vaccinator", facility_code="F-TVM-1")
    recorded = client.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": refs[0], "vaccine": "COVISHIELD", "lot": "4121Z005"})
    assert recorded.status_code == 201, recorded.get_json()
    assert run_worker(app) == 1
    session_id = publish(app, capacity={1: 100})
    booked = client.post("/api/v1/appointments", headers=auth(tokens[1]),
                         json={"session_id": session_id, "slot": "09:00-11:00",
                               "beneficiaries": [refs[1]]})
    assert booked.status_code == 201, booked.get_json()
    get_database(app).dispose()
    migrate.downgrade(engine, before_doses())
    with engine.connect() as connection:
        assert all(partitioning.relkind(connection, t) == "r" for t in TABLES)
        assert connection.scalar(text("SELECT count(*) FROM dose")) == 1
    populate(engine)
    migrate.upgrade(engine)
    monkeypatch.setenv("COWIN_KIT_DATABASE_URL", url)
    monkeypatch.setenv("COWIN_KIT_INSTANCE_PATH", str(tmp_path / "cli"))
    monkeypatch.setenv("COWIN_KIT_ENV", "test")
    yield url, engine
    engine.dispose()


def test_doses_and_appointments_are_converted_online_keeping_every_guarantee(populated):
    _, engine = populated
    with engine.connect() as connection:
        assert {t: partitioning.state(connection, partitioning.BY_TABLE[t]).layout
                for t in TABLES} == dict.fromkeys(TABLES, "plain")
        person = connection.scalar(text("SELECT max(id) FROM beneficiary"))
        template = connection.execute(text("SELECT product_id, facility_id FROM dose "
                                           "LIMIT 1")).one()
        appointment = connection.execute(text("SELECT session_id, slot_id FROM appointment "
                                              "LIMIT 1")).one()
        first_writer_id = connection.scalar(text("SELECT max(id) FROM dose")) + 1
    upgraded = CliRunner().invoke(main, ["db", "upgrade"])
    assert "dose: plain: run `cowin-kit db partition`" in upgraded.output
    before = {t: fingerprint(engine, t) for t in TABLES + ("certificate",)}
    assert before["dose"][0] == DOSES + 1 and before["appointment"][0] == APPOINTMENTS + 1

    writer = Writer(engine, person, template, appointment)
    writer.start()
    try:
        for table in TABLES:  # interrupted after two batches (a killed command)...
            stopped = partitioning.convert(engine, partitioning.BY_TABLE[table], batch=400,
                                           max_batches=2)
            assert stopped.layout == "converting" and stopped.rows_copied == 800
        time.sleep(0.5)
        # ... and run again: resumes after the last batch
        done = CliRunner().invoke(main, ["db", "partition", "--table", "dose", "--table",
                                         "appointment", "--batch", "500"])
        time.sleep(0.5)
    finally:
        writer.stop.set()
        writer.join(30)
    assert not writer.errors, writer.errors
    assert done.exit_code == 0, done.output
    assert "dose: partitioned" in done.output and "appointment: partitioned" in done.output
    assert len(writer.doses) > 20, "the writer ran during the conversion"

    with engine.connect() as connection:
        for table in TABLES:
            assert partitioning.relkind(connection, table) == "p"
        keys = connection.execute(text(
            "SELECT conrelid::regclass::text, conname, convalidated FROM pg_constraint "
            "WHERE contype = 'f' AND confrelid = 'dose_key'::regclass ORDER BY 1")).all()
        assert [(t, v) for t, _, v in keys] == [(t, True) for t in sorted(
            ("aefi_report", "aefi_report_dose", "certificate", "certificate_due",
             "stock_entry"))]
        assert connection.scalar(text("SELECT count(*) FROM pg_constraint WHERE conname = "
                                      "'uq_dose_beneficiary_id_series_dose_number' AND "
                                      "conrelid = 'dose_key'::regclass")) == 1
        # nothing lost: the rows the writer left alone are as they were, its own as it
        # committed them, its deleted doses gone
        kept = connection.execute(text(
            "SELECT id, dose_number FROM dose WHERE id >= :first"),
            {"first": first_writer_id}).all()
        assert dict(kept) == writer.doses
        assert not set(writer.deleted) & {i for i, _ in kept}
        assert connection.scalar(text("SELECT count(*) FROM appointment WHERE booking_id = "
                                      "'w'")) == len(writer.booked)
        assert connection.scalar(text(
            "SELECT count(*) FROM certificate c JOIN dose d ON d.id = c.dose_id")) == \
            before["certificate"][0]
    assert fingerprint(engine, "dose", f"t.id < {first_writer_id}") == before["dose"]
    assert fingerprint(engine, "appointment", "t.booking_id <> 'w'") == before["appointment"]
    assert fingerprint(engine, "certificate") == before["certificate"]
    claims_match(engine)
    with engine.connect() as connection:   # every dose in its month's partition
        assert connection.scalar(text("SELECT count(*) FROM dose_default WHERE id < :first"),
                                 {"first": first_writer_id}) == 0

    # the guarantees on the converted tables
    with engine.connect() as connection:
        row = connection.execute(text(
            "SELECT beneficiary_id, series, dose_number, product_id, administered_at, "
            "facility_id, idempotency_key FROM dose WHERE idempotency_key IS NOT NULL "
            "AND id < :first LIMIT 1"), {"first": first_writer_id}).one()
        insert = text(
            "INSERT INTO dose (beneficiary_id, series, dose_number, product_id, "
            "administered_at, lot, facility_id, vaccinator, recorded_at, idempotency_key, "
            "source) VALUES (:b, :s, :n, :p, :at, 'X', :f, 'x', :at, :key, 'recorded')")
        values = {"b": row[0], "s": row[1], "n": row[2], "p": row[3], "at": NOW, "f": row[5],
                  "key": None}
        for changes, name in (({}, "uq_dose_beneficiary_id_series_dose_number"),
                              ({"n": 99, "key": row[6]}, "uq_dose_idempotency_key")):
            with pytest.raises(IntegrityError) as refused:
                connection.execute(insert, {**values, **changes})
            assert refused.value.orig.diag.constraint_name == name
            connection.rollback()
        live = connection.execute(text(
            "SELECT beneficiary_id, dose_number, session_id, slot_id, account_id "
            "FROM appointment WHERE status = 'booked' LIMIT 1")).one()
        with pytest.raises(IntegrityError) as double:
            connection.execute(text(
                "INSERT INTO appointment (id, booking_id, beneficiary_id, session_id, slot_id, "
                "dose_number, status, reschedule_count, account_id, created_at, updated_at) "
                "VALUES (gen_random_uuid()::text, 'x', :b, :s, :slot, :n, 'booked', 0, :a, "
                ":now, :now)"), {"b": live[0], "n": live[1], "s": live[2], "slot": live[3],
                                 "a": live[4], "now": NOW})
        assert double.value.orig.diag.constraint_name == "uq_appointment_live_dose"
        connection.rollback()
        with pytest.raises(IntegrityError):   # a certificate of a dose that is not there
            connection.execute(text(
                "INSERT INTO certificate (id, beneficiary_id, dose_id, provisional, key_id, "
                "issued_at, expires_at) VALUES ('c', :b, -1, false, 'k', :now, :now)"),
                {"b": row[0], "now": NOW})
        connection.rollback()
        # the sequence goes on
        new = connection.scalar(text(
            "INSERT INTO dose (beneficiary_id, series, dose_number, product_id, "
            "administered_at, lot, facility_id, vaccinator, recorded_at, source) VALUES "
            "(:b, 'after', 1, :p, :at, 'X', :f, 'x', :at, 'recorded') RETURNING id"),
            {"b": row[0], "p": row[3], "at": NOW, "f": row[5]})
        connection.commit()
        assert new > max(writer.doses)

    # and back: the downgrade restores plain tables with their unique keys and rows
    counts = {t: fingerprint(engine, t) for t in TABLES}
    migrate.downgrade(engine, before_doses())
    with engine.connect() as connection:
        assert all(partitioning.relkind(connection, t) == "r" for t in TABLES)
        assert partitioning.relkind(connection, "dose_key") is None
        assert connection.scalar(text(
            "SELECT count(*) FROM pg_constraint WHERE confrelid = 'dose'::regclass")) == 5
    assert {t: fingerprint(engine, t) for t in TABLES} == counts
