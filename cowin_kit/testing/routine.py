"""Routine doses for tests, written straight into the database as the contract of issue 14
stores them (series = the routine schedule's code, dose_number = 1 + the doses already in
that series for the person) — for reports' tests until a visit-recording service exists
to call instead. Not a recording path: no rule is checked."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

from sqlalchemy import func, select


def insert_dose(app, reference_id: str, product: str, day: date, series: str,
                *, facility_code: str | None = None) -> int:
    """A dose of ``product`` given at noon UTC on ``day`` in ``series`` (a schedule code,
    or e.g. "campaign:MR-2026"); its id."""
    from cowin_kit.core import signals
    from cowin_kit.core.db import get_database
    from cowin_kit.geography.models import Facility
    from cowin_kit.programme.models import VaccineProduct
    from cowin_kit.registration.models import Beneficiary, Dose

    with app.app_context(), get_database(app).session() as session:
        person = session.scalars(select(Beneficiary)
                                 .where(Beneficiary.reference_id == reference_id)).one()
        product_id = session.scalars(select(VaccineProduct.id)
                                     .where(VaccineProduct.code == product)).one()
        facility_id = session.scalars(select(Facility.id).where(
            Facility.code == facility_code)).one() if facility_code else None
        number = 1 + (session.scalar(select(func.count()).select_from(Dose).where(
            Dose.beneficiary_id == person.id, Dose.series == series)) or 0)
        dose = Dose(beneficiary_id=person.id, series=series, dose_number=number,
                    product_id=product_id, lot="LOT-R",
                    administered_at=datetime.combine(day, time(12), timezone.utc),
                    facility_id=facility_id, source="imported")
        session.add(dose)
        session.flush()
        # as the recording services do: the due lists' kept state (needs the pack)
        with app.test_request_context():
            signals.due_facts_changed.send(session, pack=None, person_ids=[person.id])
        session.commit()
        return dose.id
