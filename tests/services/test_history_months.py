"""Dose history in its own months on PostgreSQL (docs/partitioning.md): a dose import of
past years on a fresh partitioned install creates the months' partitions before writing,
so that no dose lands in the default partition, the claims stay whole and duplicates are
still refused; `cowin-kit db partition --split-default` moves the rows that a database
already holds in its default partition into their months, and does nothing run again."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError

from cowin_kit.audit.models import AuditEvent
from cowin_kit.cli import main
from cowin_kit.core import partition_months, partitioning
from cowin_kit.core.db import get_database
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.testing import (
    add_members, auth, member, publish, record_first_dose, run_worker, sign_in, valid_aadhaar,
)
from cowin_kit.vaccination.imports import import_vaccinations

SPEC = partitioning.BY_TABLE["dose"]
HEADER = "beneficiary_reference_id,vaccine,dose,date,lot,facility_code,vaccinator\n"


def _month(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=timezone.utc)


def _where(session) -> list[tuple[str, datetime]]:
    """(partition, administered_at) of every dose."""
    return list(session.execute(text(
        "SELECT tableoid::regclass::text, administered_at FROM dose ORDER BY id")).all())


def _claims_whole(session) -> None:
    """dose_key holds exactly the doses' keys."""
    doses = set(session.execute(text(
        "SELECT id, beneficiary_id, series, dose_number, idempotency_key FROM dose")).all())
    claims = set(session.execute(text(
        "SELECT dose_id, beneficiary_id, series, dose_number, idempotency_key "
        "FROM dose_key")).all())
    assert doses == claims and doses


def _duplicate_refused(session) -> None:
    row = session.execute(text(
        "SELECT beneficiary_id, series, dose_number, product_id, administered_at "
        "FROM dose ORDER BY id LIMIT 1")).one()
    with pytest.raises(IntegrityError) as refused:
        session.execute(text(
            "INSERT INTO dose (beneficiary_id, series, dose_number, product_id, "
            "administered_at, lot, vaccinator, recorded_at, source) VALUES (:b, :s, :n, :p, "
            ":a, 'X', '', now(), 'recorded')"),
            {"b": row[0], "s": row[1], "n": row[2], "p": row[3], "a": row[4]})
    session.rollback()
    assert refused.value.orig.diag.constraint_name == \
        "uq_dose_beneficiary_id_series_dose_number"  # type: ignore[union-attr]


def test_months_are_a_no_op_on_sqlite():
    engine = create_engine("sqlite://")
    try:
        done = partition_months.ensure_months(engine, "dose", [_month(2021, 3)])
        assert (done.created, done.moved, done.busy) == ([], 0, [])
        with engine.connect() as connection:
            assert partition_months.missing_months(connection, "dose", [_month(2021, 3)]) == []
            assert partition_months.default_months(connection, "dose") == []
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_imported_history_lands_in_its_own_months(pg_app):
    publish(pg_app, code="F-TVM-1")
    client = pg_app.test_client()
    a, b, c = add_members(pg_app, client, sign_in(pg_app, client), 3)
    # dates are days in India: midnight IST is the evening before in UTC, so 2021-06-01
    # belongs to May's partition (months are UTC)
    lines = [(a, "COVISHIELD", 1, "2021-03-15"), (a, "COVISHIELD", 2, "2021-06-20"),
             (b, "COVAXIN", 1, "2021-05-02"), (b, "COVAXIN", 2, "2021-06-01"),
             (c, "COVISHIELD", 1, "2022-01-31"), (c, "COVISHIELD", 2, "2022-04-30")]
    csv = HEADER + "".join(f"{ref},{vaccine},{n},{day},LOT-{n},F-TVM-1,Dr. Rao\n"
                           for ref, vaccine, n, day in lines)
    expected = {SPEC.partition(_month(*m)) for m in
                ((2021, 3), (2021, 6), (2021, 5), (2022, 1), (2022, 4))}
    with pg_app.app_context(), get_database(pg_app).session() as session:
        present = {name for name, _ in partitioning.partitions(session.connection(), SPEC)}
        assert not expected & present      # a fresh install has none of these months
        assert session.scalar(text(f"SELECT count(*) FROM {SPEC.default}")) == 0
        dry = import_vaccinations(session, csv.encode(), file_name="history.csv",
                                  dry_run=True)
        assert dry.added == 6
        assert not expected & {n for n, _ in partitioning.partitions(session.connection(),
                                                                     SPEC)}
        report = import_vaccinations(session, csv.encode(), file_name="history.csv")
        assert (report.added, report.unchanged) == (6, 0)
        assert sorted(report.partitions) == sorted(expected)
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "vaccination.import")).one()
        assert sorted(event.details["partitions"]) == sorted(expected)

    with pg_app.app_context(), get_database(pg_app).session() as session:
        where = _where(session)
        assert len(where) == 6
        for partition, at in where:   # each in its month's partition
            assert partition == SPEC.partition(partitioning.month_start(at))
        assert {partition for partition, _ in where} == expected
        assert session.scalar(text(f"SELECT count(*) FROM {SPEC.default}")) == 0
        _claims_whole(session)
        _duplicate_refused(session)
        # the file again: unchanged, nothing made, nothing moved
        again = import_vaccinations(session, csv.encode(), file_name="history.csv")
        assert (again.added, again.unchanged, again.partitions) == (0, 6, [])
    with pg_app.app_context(), get_database(pg_app).session() as session:
        assert _where(session) == where
        assert session.scalar(select(func.count()).select_from(Dose)) == 6


@pytest.mark.postgres
def test_a_month_of_a_busy_table_is_left_to_the_default_partition(pg_app):
    """A transaction holding the table (here: one that read it) keeps the month's lock
    from being had: the month is named busy, nothing fails; once it ends, the month is
    made."""
    month = _month(2018, 5)
    with pg_app.app_context():
        engine = get_database(pg_app).engine
        with engine.connect() as holder:
            holder.execute(text("SELECT count(*) FROM dose"))   # ACCESS SHARE until it ends
            started = datetime.now(timezone.utc)
            done = partition_months.ensure_months(engine, "dose", [month.replace(day=20)],
                                              lock_timeout="200ms", attempts=2)
            assert (done.created, done.busy) == ([], [SPEC.partition(month)])
            assert (datetime.now(timezone.utc) - started).total_seconds() >= 0.4
            holder.rollback()
        done = partition_months.ensure_months(engine, "dose", [month.replace(day=20)])
        assert (done.created, done.moved, done.busy) == ([SPEC.partition(month)], 0, [])
        again = partition_months.ensure_months(engine, SPEC, [month])
        assert (again.created, again.busy) == ([], [])


@pytest.mark.postgres
def test_split_default_moves_past_months_out_of_the_default_partition(
        pg_app, pg_database_url, monkeypatch, tmp_path):
    """History written into the default partition (as an import did before its months were
    made): split into its months, claims and certificate kept, idempotent."""
    from cowin_kit.certificates import services
    from cowin_kit.certificates.signing import keystore

    with pg_app.app_context():
        keystore.generate(services.keystore().keys_dir, "IN", "MoHFW")
    client = pg_app.test_client()
    _citizen, ref, response = record_first_dose(pg_app, client)
    assert run_worker(pg_app) == 1
    dose_id = response.get_json()["dose_id"]
    token = sign_in(pg_app, client, "9876543211")
    others = []
    for number in valid_aadhaar(2, start=300000000000):   # not the first dose's person's
        added = client.post("/api/v1/beneficiaries", json=member(number), headers=auth(token))
        assert added.status_code == 201, added.get_json()
        others.append(added.get_json()["reference_id"])
    history = [_month(2019, 7), _month(2019, 11), _month(2020, 2)]
    with pg_app.app_context(), get_database(pg_app).session() as session:
        assert not {SPEC.partition(m) for m in history} & {
            n for n, _ in partitioning.partitions(session.connection(), SPEC)}
        # the recorded dose (with its certificate) moved back to July 2019
        session.execute(text("UPDATE dose SET administered_at = :t WHERE id = :i"),
                        {"t": datetime(2019, 7, 9, 4, 30, tzinfo=timezone.utc), "i": dose_id})
        product = session.scalar(text("SELECT product_id FROM dose WHERE id = :i"),
                                 {"i": dose_id})
        for index, other in enumerate(others):
            person = session.scalar(select(Beneficiary.id)
                                    .where(Beneficiary.reference_id == other))
            for number, month in enumerate(history[1:], 1):
                session.execute(text(
                    "INSERT INTO dose (beneficiary_id, series, dose_number, product_id, "
                    "administered_at, lot, vaccinator, recorded_at, source) VALUES (:b, '', "
                    ":n, :p, :a, 'OLD', '', now(), 'imported')"),
                    {"b": person, "n": number, "p": product,
                     "a": month.replace(day=10 + index)})
        session.commit()
        assert session.scalar(text(f"SELECT count(*) FROM {SPEC.default}")) == 5
        before = _where(session)

    monkeypatch.setenv("COWIN_KIT_DATABASE_URL", pg_database_url)
    monkeypatch.setenv("COWIN_KIT_INSTANCE_PATH", str(tmp_path / "cli"))
    monkeypatch.setenv("COWIN_KIT_ENV", "test")
    done = CliRunner().invoke(main, ["db", "partition", "--split-default", "--table", "dose"])
    assert done.exit_code == 0, done.output
    assert "dose: dose_p201907 created, 1 rows moved out of dose_default (1/3 months)" \
        in done.output
    assert "dose: dose_p202002 created, 2 rows moved out of dose_default (3/3 months)" \
        in done.output
    assert "dose: 3 partitions created, 5 rows moved, 0 rows left in dose_default" \
        in done.output

    with pg_app.app_context(), get_database(pg_app).session() as session:
        assert session.scalar(text(f"SELECT count(*) FROM {SPEC.default}")) == 0
        after = _where(session)
        assert [at for _, at in after] == [at for _, at in before]   # the same rows
        for partition, at in after:
            assert partition == SPEC.partition(partitioning.month_start(at))
        assert {p for p, _ in after} >= {SPEC.partition(m) for m in history}
        _claims_whole(session)
        _duplicate_refused(session)
        assert session.scalar(text("SELECT count(*) FROM certificate WHERE dose_id = :i"),
                              {"i": dose_id}) == 1
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "database.partition")).one()
        assert (event.object_id, event.details["split_default"], event.details["rows"]) == \
            ("dose", True, 5)
        assert sorted(event.details["partitions"]) == sorted(SPEC.partition(m)
                                                             for m in history)

    again = CliRunner().invoke(main, ["db", "partition", "--split-default", "--table", "dose"])
    assert again.exit_code == 0, again.output
    assert "dose: 0 partitions created, 0 rows moved, 0 rows left in dose_default" \
        in again.output
    assert "rows moved out of" not in again.output
    with pg_app.app_context(), get_database(pg_app).session() as session:
        assert _where(session) == after
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "database.partition")) == 1
