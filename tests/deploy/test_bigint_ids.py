"""64-bit ids (migration 0033): on PostgreSQL the ids of the tables that grow with people,
doses, appointments, messages and events, and the columns holding them, are bigint, and the
kit's flows (registration, the booking's prepared statements, dose recording, certificates,
AEFI reports) work with ids past 2,147,483,647, the largest int4; a downgrade that would
cut such ids is refused. On SQLite they stay INTEGER: the rowid, 64 bits wide already."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select, text

from cowin_kit.certificates import services as certificates
from cowin_kit.certificates.models import Certificate
from cowin_kit.certificates.signing import keystore
from cowin_kit.core import migrate
from cowin_kit.core.db import Base, get_database, make_engine
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.scheduling.models import Appointment, SessionSlot
from cowin_kit.testing import (
    BACKENDS, accounts_with_members, add_members, auth, make_reg_app, publish, run_worker,
    secret_code, sign_in, staff_token,
)
from cowin_kit.vaccination.models import AefiReport, CertificateDue

INT4_MAX = 2_147_483_647
DOSE_ID = 3_000_000_000


def _bigint_id_tables() -> list[str]:
    """The tables whose own id the models declare 64-bit."""
    from sqlalchemy.dialects import postgresql

    return sorted(table.name for table in Base.metadata.tables.values()
                  if "id" in table.c and table.c.id.primary_key
                  and table.c.id.type.compile(dialect=postgresql.dialect()) == "BIGINT")


def _column_type(connection, table: str, column: str) -> str:
    return connection.scalar(text(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = :t AND column_name = :c"), {"t": table, "c": column})


@pytest.fixture
def pg_big_ids(fresh_database_url, tmp_path, india_pack):
    """A migrated PostgreSQL database of its own whose id sequences are all past the int4
    range (each table a different start: ids of two tables never coincide; doses start at
    DOSE_ID), and an app of the India pack on it."""
    if "postgresql" not in BACKENDS:
        pytest.skip("needs COWIN_KIT_TEST_DATABASE_URL (a PostgreSQL server)")
    url = fresh_database_url("postgresql")
    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as connection:
        for index, table in enumerate(_bigint_id_tables()):
            start = DOSE_ID if table == "dose" else DOSE_ID + (index + 1) * 1_000_000_000
            connection.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v, false)"),
                               {"t": table, "v": start})
    app = make_reg_app(url, tmp_path, india_pack)
    yield app, engine
    get_database(app).dispose()
    engine.dispose()


def test_after_the_upgrade_the_ids_are_bigint_on_postgresql(pg_big_ids):
    _app, engine = pg_big_ids
    with engine.connect() as connection:
        for table, column in (("dose", "id"), ("certificate_due", "id"),
                              ("certificate_due", "dose_id"), ("certificate", "dose_id"),
                              ("beneficiary", "id"), ("appointment", "beneficiary_id"),
                              ("stock_entry", "dose_id"), ("message_outbox", "id"),
                              ("otp_transaction", "account_id"), ("audit_event", "id")):
            assert _column_type(connection, table, column) == "bigint", (table, column)
        # a partition has its parent's columns
        partition = connection.scalar(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'message_outbox'::regclass LIMIT 1"))
        assert partition and _column_type(connection, partition, "id") == "bigint"
        sequence = connection.scalar(text(
            "SELECT s.seqtypid::regtype::text FROM pg_sequence s "
            "WHERE s.seqrelid = CAST(pg_get_serial_sequence('dose', 'id') AS regclass)"))
        assert sequence == "bigint"
        # tables that do not grow with the programme keep their int4 ids
        assert _column_type(connection, "facility", "id") == "integer"


def test_registration_booking_doses_certificates_and_aefi_past_the_int4_range(pg_big_ids):
    app, engine = pg_big_ids
    client = app.test_client()
    with app.app_context():
        keystore.generate(certificates.keystore().keys_dir, "IN", "MoHFW")
    session_id = publish(app, code="F-TVM-1")
    citizen = sign_in(app, client)
    refs = add_members(app, client, citizen, 2)
    # the booking's prepared statements (members by id as an array, the seat claim, the
    # appointment's insert) with person, account and slot ids past int4
    booked = client.post("/api/v1/appointments", headers=auth(citizen), json={
        "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": refs})
    assert booked.status_code == 201, booked.get_json()
    vaccinator = staff_token(app, client, "vax.big", "vaccinator", facility_code="F-TVM-1")
    recorded = client.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": refs[0], "vaccine": "COVISHIELD", "lot": "4121Z005",
        "secret_code": secret_code(client, citizen, refs[0])})
    assert recorded.status_code == 201, recorded.get_json()
    assert recorded.get_json()["dose_id"] == DOSE_ID
    assert run_worker(app) >= 1
    reported = client.post("/api/v1/vaccinator/aefi", headers=auth(vaccinator), json={
        "dose_id": DOSE_ID, "onset_at": datetime.now(timezone.utc).isoformat(),
        "symptoms": ["fever"], "seriousness": "non_serious", "outcome": "recovered"})
    assert reported.status_code == 201, reported.get_json()

    with app.app_context(), get_database(app).session() as session:
        people = session.scalars(select(Beneficiary).where(Beneficiary.reference_id.in_(refs)))
        assert all(person.id > INT4_MAX and person.account_id > INT4_MAX for person in people)
        assert all(a.slot_id > INT4_MAX and a.beneficiary_id > INT4_MAX
                   for a in session.scalars(select(Appointment)))
        assert all(slot.id > INT4_MAX for slot in session.scalars(select(SessionSlot)))
        dose = session.get(Dose, DOSE_ID)
        assert dose is not None and dose.beneficiary_id > INT4_MAX
        due = session.scalars(select(CertificateDue).where(CertificateDue.dose_id == DOSE_ID)).one()
        assert due.id > INT4_MAX and due.status == "done"
        issued = session.scalars(select(Certificate).where(Certificate.dose_id == DOSE_ID)).all()
        assert issued and all(c.beneficiary_id == dose.beneficiary_id for c in issued)
        report = session.scalars(select(AefiReport).where(AefiReport.dose_id == DOSE_ID)).one()
        assert report.id > INT4_MAX
    body = client.get(f"/api/v1/beneficiaries/{refs[0]}/certificate", headers=auth(citizen))
    assert body.status_code == 200, body.get_json()
    pdf = client.get(f"/api/v1/beneficiaries/{refs[0]}/certificate.pdf", headers=auth(citizen))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"

    # back to int4 would cut these ids: refused, naming them, and nothing changes
    head = migrate.current_revisions(engine)
    with pytest.raises(RuntimeError) as refused:
        migrate.downgrade(engine, "0032")
    assert "dose.id holds ids up to 3,000,000,000" in str(refused.value)
    assert "Nothing was changed" in str(refused.value)
    assert migrate.current_revisions(engine) == head
    with engine.connect() as connection:
        assert _column_type(connection, "dose", "id") == "bigint"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_dose_with_a_64_bit_id_and_its_certificate_due_row(backend, fresh_database_url,
                                                             tmp_path, india_pack):
    """Written with its id given (as an import or a restore could), on both databases: the
    dose 3,000,000,000 and the outbox row that references it, read back. On SQLite the id
    column is still the rowid: the next dose is numbered after it."""
    url = fresh_database_url(backend)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    app = make_reg_app(url, tmp_path, india_pack)
    try:
        _tokens, (ref,) = accounts_with_members(app, 1)
        now = datetime.now(timezone.utc)
        with app.app_context(), get_database(app).session() as session:
            person = session.scalars(select(Beneficiary.id)
                                     .where(Beneficiary.reference_id == ref)).one()
            product = session.scalars(select(VaccineProduct.id)
                                      .where(VaccineProduct.code == "COVISHIELD")).one()
            session.add(Dose(id=DOSE_ID, beneficiary_id=person, dose_number=1,
                             product_id=product, administered_at=now - timedelta(days=90),
                             lot="L1"))
            session.flush()
            session.add(CertificateDue(dose_id=DOSE_ID))
            session.commit()
        with app.app_context(), get_database(app).session() as session:
            due = session.scalars(select(CertificateDue)).one()
            assert due.dose_id == DOSE_ID and session.get(Dose, due.dose_id).lot == "L1"
            if backend == "sqlite":
                later = Dose(beneficiary_id=person, dose_number=2, product_id=product,
                             administered_at=now, lot="L2")
                session.add(later)
                session.commit()
                assert later.id == DOSE_ID + 1
                columns = {c["name"]: str(c["type"]) for c in
                           inspect(session.get_bind()).get_columns("dose")}
                assert columns["id"] == "INTEGER"
    finally:
        get_database(app).dispose()


def test_the_tables_that_grow_with_the_programme_have_64_bit_ids_in_the_models():
    """What the fixture above pushes past int4 is the models' list (a table widened later
    is pushed too); it holds the tables of people, doses, appointments and messages, and
    not the reference tables."""
    tables = set(_bigint_id_tables())
    assert {"dose", "beneficiary", "citizen_account", "certificate_due", "pending_dose",
            "message_outbox", "audit_event", "stock_entry", "session_slot"} <= tables
    assert not {"facility", "location", "vaccine_product", "staff_user"} & tables
