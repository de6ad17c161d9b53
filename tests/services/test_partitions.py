"""Monthly partitions of the audit trail, the outbox and the OTPs (docs/partitioning.md),
on PostgreSQL: a populated database converted online by `cowin-kit db partition` (every
row, id and sequence kept; resumed after an interruption; writes made meanwhile kept; the
kit books, records and signs in afterwards), the worker's partitions ahead, and retention
dropping whole months only where the privacy rules allow it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from cowin_kit.cli import main
from cowin_kit.core import migrate, partitioning
from cowin_kit.core.db import make_engine
from cowin_kit.testing import (
    close_reg_app, make_reg_app, postgresql_server_url, record_first_dose,
)

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not postgresql_server_url(),
                                 reason="needs COWIN_KIT_TEST_DATABASE_URL (PostgreSQL)")]

TABLES = ("audit_event", "message_outbox", "otp_transaction")
NOW = datetime.now(timezone.utc)


def before_partitions() -> str:
    """The revision before the partitions' migration (0032)."""
    revisions = migrate.all_revisions()
    return revisions[revisions.index("0032") - 1]


def populate(engine, audit=3000, messages=2000, otps=1000) -> None:
    """Rows over the last eight months, as a database that ran for a while has them."""
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO audit_event (occurred_at, actor_type, actor_id, action, object_type, "
            "object_id, details) SELECT :now - make_interval(hours => g * 5), 'staff', "
            "'u' || g, 'dose.record', 'dose', g::text, jsonb_build_object('n', g) "
            "FROM generate_series(1, :n) g"), {"now": NOW, "n": audit})
        connection.execute(text(
            "INSERT INTO message_outbox (recipient, channel, template, locale, text, priority, "
            "status, attempts, next_attempt_at, created_at) SELECT '+91987650' || g, 'sms', "
            "'otp', 'en', '', 0, CASE WHEN g % 10 = 0 THEN 'pending' ELSE 'sent' END, 1, "
            ":now, :now - make_interval(hours => g * 2) FROM generate_series(1, :n) g"),
            {"now": NOW, "n": messages})
        connection.execute(text(
            "UPDATE message_outbox SET retry_of = id - 1 WHERE id % 7 = 0"))
        connection.execute(text(
            "INSERT INTO otp_transaction (id, mobile, purpose, otp_hash, created_at, "
            "expires_at, attempts) SELECT gen_random_uuid()::text, '+9198765' || g, "
            "'sign_in', md5(g::text), :now - make_interval(hours => g * 2), :now, 0 "
            "FROM generate_series(1, :n) g"), {"now": NOW, "n": otps})


def fingerprints(engine) -> dict[str, tuple[int, str]]:
    """Each table's row count and a digest of every row in id order."""
    with engine.connect() as connection:
        return {table: tuple(connection.execute(text(
            f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')) "
            f"FROM {table} t")).one()) for table in TABLES}


def layout(engine, table) -> str:
    with engine.connect() as connection:
        return partitioning.state(connection, partitioning.BY_TABLE[table]).layout


@pytest.fixture
def populated(fresh_database_url, monkeypatch, tmp_path):
    """A database at the revision before partitions, with rows, then migrated to the
    newest: the tables with rows stay plain until converted."""
    url = fresh_database_url("postgresql")
    engine = make_engine(url)
    migrate.upgrade(engine, before_partitions())
    populate(engine)
    migrate.upgrade(engine)
    monkeypatch.setenv("COWIN_KIT_DATABASE_URL", url)
    monkeypatch.setenv("COWIN_KIT_INSTANCE_PATH", str(tmp_path / "cli"))
    monkeypatch.setenv("COWIN_KIT_ENV", "test")
    yield url, engine
    engine.dispose()


def test_a_fresh_install_is_partitioned_by_the_migration(fresh_database_url):
    engine = make_engine(fresh_database_url("postgresql"))
    try:
        migrate.upgrade(engine)
        with engine.connect() as connection:
            for spec in partitioning.SPECS:
                assert partitioning.relkind(connection, spec.table) == "p"
                assert partitioning.relkind(connection, spec.default) == "r"
                names = [name for name, _ in partitioning.partitions(connection, spec)]
                month = partitioning.month_start(NOW)
                assert names == [spec.partition(partitioning.add_months(month, n))
                                 for n in range(partitioning.MONTHS_AHEAD + 1)]
        migrate.downgrade(engine, before_partitions())
        with engine.connect() as connection:
            assert all(partitioning.relkind(connection, t) == "r" for t in TABLES)
            assert connection.scalar(text(   # the self-referencing key is back
                "SELECT count(*) FROM pg_constraint WHERE conname = "
                "'fk_message_outbox_retry_of_message_outbox'")) == 1
    finally:
        engine.dispose()


def test_a_populated_database_is_converted_online_and_the_kit_works_on(populated, tmp_path,
                                                                       india_pack):
    url, engine = populated
    before = fingerprints(engine)
    assert before["audit_event"][0] == 3000
    assert {table: layout(engine, table) for table in TABLES} == dict.fromkeys(TABLES, "plain")
    upgraded = CliRunner().invoke(main, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert "audit_event: plain: run `cowin-kit db partition`" in upgraded.output

    done = CliRunner().invoke(main, ["db", "partition", "--batch", "700"])
    assert done.exit_code == 0, done.output
    for table in TABLES:
        assert f"{table}: partitioned" in done.output
        assert layout(engine, table) == "partitioned"
    assert fingerprints(engine) == {  # every row, with its id; plus the conversion's audit
        **before, "audit_event": fingerprints(engine)["audit_event"]}
    with engine.connect() as connection:
        audit = connection.execute(text(
            "SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t.id)) FROM audit_event t "
            "WHERE action <> 'database.partition'")).one()
        assert tuple(audit) == before["audit_event"]
        # the rows are in their months' partitions, none in the default one
        for spec in (partitioning.BY_TABLE[t] for t in TABLES):
            assert connection.scalar(text(f"SELECT count(*) FROM {spec.default}")) == 0
            oldest = connection.scalar(text(f"SELECT min({spec.column}) FROM {spec.table}"))
            assert partitioning.partitions(connection, spec)[0][1] == \
                partitioning.month_start(oldest)
        # the old table's foreign key, indexes and names are the partitioned table's
        assert connection.scalar(text(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'otp_transaction'::regclass "
            "AND conname IN ('pk_otp_transaction', "
            "'fk_otp_transaction_account_id_citizen_account')")) == 2
        assert {"ix_audit_event_object", "ix_audit_event_occurred_at",
                "ix_audit_event_location_id"} <= set(connection.scalars(text(
                    "SELECT indexname FROM pg_indexes WHERE tablename = 'audit_event'")))
    status = CliRunner().invoke(main, ["db", "partition", "--status"])
    assert "message_outbox: partitioned (" in status.output

    # the sequences go on from where they were: the kit signs in, records, audits, sends
    app = make_reg_app(url, tmp_path, india_pack)
    try:
        from cowin_kit.certificates import services
        from cowin_kit.certificates.signing import keystore
        from cowin_kit.worker import Worker

        with app.app_context():
            keystore.generate(services.keystore().keys_dir, "IN", "MoHFW")
        client = app.test_client()
        _citizen, ref, recorded = record_first_dose(app, client)
        assert recorded.status_code == 201
        round_ = Worker(app).run_round()   # the certificate, and retention of the old rows
        assert round_.certificates_issued == 1 and not round_.failed
        assert round_.purged > 0
        with engine.connect() as connection:
            assert connection.scalar(text(   # the sign-in's OTP, sent
                "SELECT status FROM message_outbox WHERE id > 2000 AND template = 'otp'"
            )) == "sent"
            assert connection.scalar(text(
                "SELECT count(*) FROM audit_event WHERE id > 3000")) > 0
            assert connection.scalar(text(
                "SELECT count(*) FROM otp_transaction WHERE created_at > now() - interval "
                "'1 hour'")) == 1
    finally:
        close_reg_app(app)


def test_an_interrupted_conversion_resumes_with_the_writes_made_meanwhile(populated):
    url, engine = populated
    spec = partitioning.BY_TABLE["message_outbox"]
    first = partitioning.convert(engine, spec, batch=300, max_batches=2)
    assert (first.layout, first.rows_copied) == ("converting", 600)
    status = CliRunner().invoke(main, ["db", "partition", "--status", "--table",
                                       "message_outbox"])
    assert "message_outbox: converting, 600 rows copied (up to id 600)" in status.output
    # while it stood still the kit went on: new rows, updates and deletes on both sides of
    # the watermark
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO message_outbox (recipient, channel, template, locale, text, priority, "
            "status, attempts, next_attempt_at, created_at) VALUES ('+919999', 'sms', 'otp', "
            "'en', 'x', 10, 'pending', 0, now(), now())"))
        connection.execute(text("UPDATE message_outbox SET status = 'failed', attempts = 9 "
                                "WHERE id IN (5, 1500)"))
        connection.execute(text("UPDATE message_outbox SET retry_of = NULL "
                                "WHERE retry_of IN (10, 1600)"))
        connection.execute(text("DELETE FROM message_outbox WHERE id IN (10, 1600)"))
    expected = fingerprints(engine)["message_outbox"]
    resumed = partitioning.convert(engine, spec, batch=300)
    assert resumed.layout == "partitioned"
    assert fingerprints(engine)["message_outbox"] == expected
    with engine.begin() as connection:   # the id sequence moved with the table
        new_id = connection.scalar(text(
            "INSERT INTO message_outbox (recipient, channel, template, locale, text, priority, "
            "status, attempts, next_attempt_at, created_at) VALUES ('+919998', 'sms', 'otp', "
            "'en', '', 0, 'pending', 0, now(), now()) RETURNING id"))
    assert new_id == 2002


def test_a_conversion_killed_mid_copy_resumes_when_run_again(populated):
    url, engine = populated
    before = fingerprints(engine)["audit_event"]
    command = subprocess.Popen(
        [sys.executable, "-m", "cowin_kit.cli", "db", "partition", "--table", "audit_event",
         "--batch", "5"], cwd=Path(__file__).parents[2], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        copied = 0
        while copied < 100 and time.monotonic() < deadline:
            time.sleep(0.02)
            with engine.connect() as connection:
                copied = connection.scalar(text(
                    "SELECT rows_copied FROM partition_conversion "
                    "WHERE table_name = 'audit_event'")) or 0
        command.kill()                                      # SIGKILL, mid-copy
    finally:
        command.wait()
    assert layout(engine, "audit_event") == "converting"
    done = CliRunner().invoke(main, ["db", "partition", "--table", "audit_event",
                                     "--batch", "500"])
    assert done.exit_code == 0, done.output
    assert layout(engine, "audit_event") == "partitioned"
    with engine.connect() as connection:
        assert tuple(connection.execute(text(
            "SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t.id)) FROM audit_event t "
            "WHERE action <> 'database.partition'")).one()) == before


def test_writes_during_the_conversion_are_not_lost(populated):
    url, engine = populated
    writer = make_engine(url)
    stop = threading.Event()
    written: list[int] = []
    deleted: list[str] = []
    updated: set[int] = set()

    def write() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            with writer.begin() as connection:
                written.append(connection.scalar(text(
                    "INSERT INTO audit_event (occurred_at, actor_type, actor_id, action, "
                    "object_type, object_id, details) VALUES (now(), 'system', 'w', "
                    "'test.write', 'x', :n, '{}') RETURNING id"), {"n": str(n)}))
                connection.execute(text(
                    "UPDATE audit_event SET details = '{\"seen\": 1}' WHERE id = :id"),
                    {"id": n * 37 % 3000 + 1})
                updated.add(n * 37 % 3000 + 1)
                gone = connection.scalar(text(
                    "DELETE FROM otp_transaction WHERE id = (SELECT id FROM otp_transaction "
                    "WHERE mobile = :m) RETURNING id"), {"m": f"+9198765{n}"})
                if gone:
                    deleted.append(gone)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        for table in ("audit_event", "otp_transaction"):
            done = partitioning.convert(engine, partitioning.BY_TABLE[table], batch=150)
            assert done.layout == "partitioned"
    finally:
        stop.set()
        thread.join()
        writer.dispose()
    assert len(written) > 10 and deleted
    with engine.connect() as connection:
        ids = set(connection.scalars(text(
            "SELECT id FROM audit_event WHERE action = 'test.write'")))
        assert ids == set(written)
        assert connection.scalar(text("SELECT count(*) FROM audit_event")) == 3000 + len(written)
        assert set(connection.scalars(text(
            "SELECT id FROM audit_event WHERE details = '{\"seen\": 1}'"))) == updated
        assert connection.scalar(text("SELECT count(*) FROM otp_transaction")) == \
            1000 - len(deleted)
        assert connection.scalar(text(
            "SELECT count(*) FROM otp_transaction WHERE id = ANY(:ids)"), {"ids": deleted}) == 0


@pytest.fixture
def partitioned_app(fresh_database_url, tmp_path, india_pack):
    url = fresh_database_url("postgresql")
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    app = make_reg_app(url, tmp_path, india_pack)
    yield app
    close_reg_app(app)


def test_the_worker_creates_partitions_ahead_and_moves_rows_out_of_the_default(
        partitioned_app):
    from cowin_kit.core.db import get_database
    from cowin_kit.worker import Worker

    later = partitioning.add_months(partitioning.month_start(NOW), 7) + timedelta(days=3)
    engine = get_database(partitioned_app).engine
    with engine.begin() as connection:   # a row of a month without a partition yet
        connection.execute(text(
            "INSERT INTO audit_event (occurred_at, actor_type, actor_id, action, object_type, "
            "object_id, details) VALUES (:at, 'system', 'x', 'test.later', 'x', '1', '{}')"),
            {"at": later})
        assert connection.scalar(text("SELECT count(*) FROM audit_event_default")) == 1
    done = Worker(partitioned_app).run_round(now=later)
    assert not done.failed
    month = partitioning.month_start(later)
    wanted = [partitioning.add_months(month, n) for n in range(4)]
    for spec in partitioning.SPECS:
        for start in wanted:
            assert spec.partition(start) in done.partitions_created
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM audit_event_default")) == 0
        assert connection.scalar(text(
            f"SELECT count(*) FROM {partitioning.BY_TABLE['audit_event'].partition(month)}")) == 1
    assert Worker(partitioned_app).run_round(now=later).partitions_created == []


def test_retention_drops_whole_months_only_where_allowed(partitioned_app):
    from cowin_kit.core.db import get_database
    from cowin_kit.worker import Worker

    engine = get_database(partitioned_app).engine
    month = partitioning.month_start(NOW)
    old, older = partitioning.add_months(month, -4), partitioning.add_months(month, -5)
    with engine.begin() as connection:
        for spec in partitioning.SPECS:
            for start in (older, old):
                partitioning.create_partition(connection, spec, start)
        middle = {"older": older + timedelta(days=10), "old": old + timedelta(days=10)}
        connection.execute(text(
            "INSERT INTO otp_transaction (id, mobile, purpose, otp_hash, created_at, "
            "expires_at, attempts) SELECT gen_random_uuid()::text, '+91' || g, 'sign_in', "
            "'h', :older, :older, 0 FROM generate_series(1, 5) g"), middle)
        outbox = ("INSERT INTO message_outbox (recipient, channel, template, locale, text, "
                  "priority, status, attempts, next_attempt_at, created_at) VALUES "
                  "('+91', 'sms', 't', 'en', '', 0, :status, 1, :next, :at) RETURNING id")
        finished = [connection.scalar(text(outbox), {"status": s, "at": middle["older"],
                                                     "next": middle["older"]})
                    for s in ("sent", "failed", "sent")]
        # a message still waiting (its next attempt tomorrow) holds its month
        connection.scalar(text(outbox), {"status": "pending", "at": middle["old"],
                                         "next": NOW + timedelta(days=1)})
        connection.scalar(text(outbox), {"status": "sent", "at": middle["old"],
                                         "next": middle["old"]})
        repeat = connection.scalar(text(outbox), {"status": "sent", "at": NOW, "next": NOW})
        connection.execute(text("UPDATE message_outbox SET retry_of = :old WHERE id = :id"),
                           {"old": finished[1], "id": repeat})
        connection.execute(text(
            "INSERT INTO audit_event (occurred_at, actor_type, actor_id, action, object_type, "
            "object_id, details) VALUES (:older, 'system', 'x', 'test.old', 'x', '1', "
            "'{\"channel\": \"web\"}')"), middle)

    done = Worker(partitioned_app).run_round(now=NOW)
    assert not done.failed
    with engine.connect() as connection:
        def exists(name):
            return partitioning.relkind(connection, name) is not None

        otp, messages, audit = (partitioning.BY_TABLE[t] for t in TABLES[::-1])
        # OTPs: both months wholly past 30 days go
        assert not exists(otp.partition(older)) and not exists(otp.partition(old))
        # the outbox: the month all sent or failed goes; the month with a message still
        # waiting stays, its sent message deleted row by row
        assert not exists(messages.partition(older)) and exists(messages.partition(old))
        assert list(connection.execute(text(
            f"SELECT status FROM {messages.partition(old)}")).scalars()) == ["pending"]
        assert connection.scalar(text("SELECT retry_of FROM message_outbox WHERE id = :id"),
                                 {"id": repeat}) is None
        # audit events are records kept for ever: no month of them is dropped
        assert exists(audit.partition(older)) and exists(audit.partition(old))
        assert connection.scalar(text(
            "SELECT count(*) FROM audit_event WHERE action = 'test.old'")) == 1
        purge = connection.scalar(text(
            "SELECT details FROM audit_event WHERE action = 'privacy.purge'"))
        assert purge["otps"] == 5 and purge["messages"] == 4
