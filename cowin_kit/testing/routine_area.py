"""A small routine-immunization area for the due list and reminder tests: people registered
through the health-worker service, their doses written as routine doses (series = the
schedule's code) and a pregnancy, all relative to today in India."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select

from cowin_kit.config.runtime import active_pack
from cowin_kit.core import signals
from cowin_kit.core.db import get_database
from cowin_kit.identity import services as identity
from cowin_kit.identity.models import StaffUser
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration import people
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.testing import IST, publish, today, valid_aadhaar


def give(session, reference_id: str, series: str, product: str, day: date) -> None:
    person = session.scalars(select(Beneficiary).where(
        Beneficiary.reference_id == reference_id)).one()
    product_id = session.scalars(select(VaccineProduct.id)
                                 .where(VaccineProduct.code == product)).one()
    number = 1 + len(list(session.scalars(select(Dose.id).where(
        Dose.beneficiary_id == person.id, Dose.series == series))))
    session.add(Dose(beneficiary_id=person.id, series=series, dose_number=number,
                     product_id=product_id, lot="L1",
                     administered_at=datetime.combine(day, time(10), IST)
                     .astimezone(timezone.utc)))
    session.flush()
    signals.due_facts_changed.send(session, pack=None, person_ids=[person.id])


def seed_area(app) -> dict[str, str]:
    """A: born 7 weeks ago in Thiruvananthapuram (home facility F-TVM-1), birth doses
    given: the 6-week doses are due. B: 20 weeks old there, nothing given: zero-dose and a
    defaulter. C: 7 weeks old in Kollam, nothing given. D: a woman of Thiruvananthapuram
    pregnant since last week: Td-1 due. E: a man of 40 there: on no list. Reference ids by
    letter; the mobiles are 98765000NN with NN = 01..05."""
    publish(app, code="F-TVM-1")
    on = today()
    refs: dict[str, str] = {}
    with app.test_request_context(), get_database(app).session() as session:
        pack = active_pack()
        actor = identity.add_staff_user(session, "seed.admin", "correct horse battery",
                                        role="national_admin")
        actor = session.get(StaffUser, actor.id)
        numbers = valid_aadhaar(2, start=300000000000)

        def register(letter, mobile, **facts):
            view = people.register_person(session, pack, actor, mobile=mobile, **facts)
            session.commit()
            refs[letter] = view.beneficiary.reference_id

        child = {"gender": "F", "guardian_name": "Meena", "guardian_relation": "mother"}
        register("A", "9876500001", name="Anu", birth_date=on - timedelta(weeks=7),
                 location="IN-KL-TVM", facility="F-TVM-1", external_id="H-A", **child)
        register("B", "9876500002", name="Bala", birth_date=on - timedelta(weeks=20),
                 location="IN-KL-TVM", facility="", external_id="H-B", **child)
        register("C", "9876500003", name="Chitra", birth_date=on - timedelta(weeks=7),
                 location="IN-KL-KLM", facility="", **child)
        register("D", "9876500004", name="Devi", birth_date=date(on.year - 24, 1, 15),
                 gender="F", location="IN-KL-TVM", facility="", id_type="aadhaar",
                 id_number=numbers[0],
                 pregnancy=people.PregnancyFacts(registered_on=on - timedelta(days=7)))
        register("E", "9876500005", name="Eshan", birth_date=date(on.year - 40, 3, 1),
                 gender="M", location="IN-KL-TVM", facility="", id_type="aadhaar",
                 id_number=numbers[1])
        birth = on - timedelta(weeks=7)
        give(session, refs["A"], "bcg", "BCG", birth)
        give(session, refs["A"], "hepb-birth", "HEPB", birth)
        give(session, refs["A"], "opv", "BOPV", birth)
        session.commit()
    return refs
