"""registration.person_rows.insert_new (a new person's row with one Core INSERT, used by
registration) against the ORM flush it replaces: the same row in the table, the object in
the same state in the session, the same error for a document registered twice."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from cowin_kit.core.db import get_database
from cowin_kit.identity.models import Gender, IdDocumentType
from cowin_kit.registration import person_rows
from cowin_kit.registration.models import Beneficiary, CitizenAccount
from cowin_kit.testing import sign_in

SET_APART = {"id", "reference_id", "id_number_hash", "created_at", "updated_at"}


def new_person(session, suffix: str, **extra) -> Beneficiary:
    account = session.scalars(select(CitizenAccount)).first()
    gender = session.scalars(select(Gender).where(Gender.code == "F")).one()
    document = session.scalars(select(IdDocumentType).where(
        IdDocumentType.code == "passport")).one()
    values = {"reference_id": f"9000000000{suffix}", "account_id": account.id,
              "name": "Asha Devi", "birth_year": 1980, "gender_id": gender.id,
              "id_type_id": document.id, "id_number_hash": f"hash-{suffix}",
              "id_number_encrypted": "sealed", "id_number_last4": "4567",
              "consent_version": "v1", "secret_code_encrypted": "sealed-code", **extra}
    return Beneficiary(**values)


@pytest.mark.parametrize("extra", [{}, {"comorbidity": True, "guardian_name": "Meena"}])
def test_insert_new_leaves_what_a_flush_leaves(reg_app, extra):
    client = reg_app.test_client()
    sign_in(reg_app, client, "9876500021")
    with reg_app.app_context(), get_database(reg_app).session() as session:
        flushed, inserted = new_person(session, "0001", **extra), \
            new_person(session, "0002", **extra)
        session.add(flushed)
        session.flush()
        person_rows.insert_new(session, inserted)

        assert inserted.id is not None and inserted.id != flushed.id
        for person in (flushed, inserted):
            state = inspect(person)
            assert state.persistent and person in session and not state.modified
        # every column loaded (the flushed object loads those it did not write on first
        # access); only the relationship is left to load, as after the flush
        assert inspect(inserted).unloaded == {"account"} <= inspect(flushed).unloaded
        assert session.get(Beneficiary, inserted.id) is inserted
        assert not session.new and not session.dirty
        objects = {c: (getattr(flushed, c), getattr(inserted, c))
                   for c in _columns() if c not in SET_APART}
        session.commit()
        flushed_id, inserted_id = flushed.id, inserted.id

    with reg_app.app_context(), get_database(reg_app).session() as session:
        table = Beneficiary.__table__
        rows = {row.id: row._mapping for row in session.execute(
            select(table).where(table.c.id.in_([flushed_id, inserted_id])))}
    written = {c: (rows[flushed_id][c], rows[inserted_id][c]) for c in _columns()
               if c not in SET_APART}
    assert all(a == b for a, b in written.values()), written
    assert written == objects  # the objects hold what was written
    assert rows[inserted_id]["created_at"] is not None
    assert rows[inserted_id]["updated_at"] is not None


def test_a_document_registered_twice_fails_as_a_flush_fails(reg_app):
    client = reg_app.test_client()
    sign_in(reg_app, client, "9876500022")
    with reg_app.app_context(), get_database(reg_app).session() as session:
        person_rows.insert_new(session, new_person(session, "0003"))
        with pytest.raises(IntegrityError):
            person_rows.insert_new(session, new_person(session, "0004",
                                                       id_number_hash="hash-0003"))
        session.rollback()
        twice = new_person(session, "0005", id_number_hash="hash-0003")
        with pytest.raises(ValueError):
            session.add(twice)
            person_rows.insert_new(session, twice)  # already in a session


def _columns() -> list[str]:
    return [c.key for c in Beneficiary.__table__.c]


def test_what_is_pending_is_written_first(reg_app):
    """A walk-in's new account and its audit event, added before the person: written
    before the person, as one flush of everything would."""
    from cowin_kit.audit import services as audit
    from cowin_kit.audit.models import AuditEvent

    client = reg_app.test_client()
    sign_in(reg_app, client, "9876500023")
    with reg_app.app_context(), get_database(reg_app).session() as session:
        person = new_person(session, "0006")  # (its queries would flush what is pending)
        audit.record(session, "account.create", "citizen_account", 1, place=audit.NATIONAL)
        person_rows.insert_new(session, person)
        audit.record_now(session, "beneficiary.create", "beneficiary", person.reference_id,
                         place=audit.NATIONAL)
        session.commit()
        actions = list(session.scalars(select(AuditEvent.action).where(
            AuditEvent.action.in_(["account.create", "beneficiary.create"]),
            AuditEvent.object_id.in_(["1", person.reference_id]))
            .order_by(AuditEvent.id)))
    assert actions[-2:] == ["account.create", "beneficiary.create"]
