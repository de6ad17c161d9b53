"""Due lists through the service (immunization.duelists): who is on the due, zero-dose and
defaulter lists of an area or facility, status filters, and who may read them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_database
from cowin_kit.core.errors import Forbidden, InvalidInput, NotFound
from cowin_kit.identity.models import StaffUser
from cowin_kit.immunization import duelists
from cowin_kit.testing import create_staff, today

from cowin_kit.testing.routine_area import seed_area


def run(app, username=None, **options):
    with app.test_request_context(), get_database(app).session() as session:
        actor = None
        if username:
            actor = session.scalars(select(StaffUser).where(StaffUser.username == username)).one()
        return duelists.due_list(session, active_pack(), actor, on=today(), **options)


def by_person(result):
    out: dict[str, list[tuple[str, int, str]]] = {}
    for row in result.rows:
        out.setdefault(row.reference_id, []).append((row.schedule, row.dose, row.status))
    return out


def test_the_due_list_of_a_district(reg_app):
    refs = seed_area(reg_app)
    result = run(reg_app, location_code="IN-KL-TVM")
    people = by_person(result)
    assert set(people) == {refs["A"], refs["B"], refs["D"]}   # not Kollam's C, not E
    six_weeks = {(s, d) for s, d, _status in people[refs["A"]]}
    assert six_weeks == {("opv", 2), ("dtp", 1), ("rotavirus", 1), ("fipv", 1), ("pcv", 1)}
    assert all(status == "due" for *_x, status in people[refs["A"]])
    assert ("td-pregnancy", 1, "due") in people[refs["D"]]
    assert {s for s, _d, _st in people[refs["B"]]} >= {"bcg", "dtp", "opv"}
    row = next(r for r in result.rows if r.reference_id == refs["A"])
    assert row.external_id == "H-A" and row.name == "Anu"
    assert row.earliest <= today() and row.due <= today()
    # grouped by person: each person's rows are together
    seen = [r.reference_id for r in result.rows]
    assert seen == sorted(seen, key=seen.index)
    state = run(reg_app, location_code="IN-KL")
    assert set(by_person(state)) == {refs["A"], refs["B"], refs["C"], refs["D"]}


def test_facility_list_status_filter_and_lists(reg_app):
    refs = seed_area(reg_app)
    facility = by_person(run(reg_app, facility_code="F-TVM-1"))
    assert set(facility) == {refs["A"]}
    upcoming = run(reg_app, location_code="IN-KL-TVM", statuses=["upcoming"])
    assert {r.status for r in upcoming.rows} == {"upcoming"}
    assert refs["A"] in by_person(upcoming)
    done = by_person(run(reg_app, location_code="IN-KL-TVM", statuses=["done"]))
    assert set(done) == {refs["A"]} and len(done[refs["A"]]) == 3
    zero = run(reg_app, location_code="IN-KL-TVM", kind="zero-dose")
    assert set(by_person(zero)) == {refs["B"]}       # A had birth doses; D is no child
    defaulters = run(reg_app, location_code="IN-KL-TVM", kind="defaulters")
    assert set(by_person(defaulters)) == {refs["B"]}
    assert {r.status for r in defaulters.rows} == {"overdue"}
    with pytest.raises(InvalidInput):
        run(reg_app, location_code="IN-KL-TVM", statuses=["late"])
    with pytest.raises(InvalidInput):
        run(reg_app, location_code="IN-KL-TVM", kind="everyone")
    with pytest.raises(NotFound):
        run(reg_app, location_code="IN-XX")


def test_staff_see_their_own_area_only(reg_app):
    refs = seed_area(reg_app)
    create_staff(reg_app, "dio.tvm", "district_admin", location_code="IN-KL-TVM")
    create_staff(reg_app, "anm.tvm", "vaccinator", facility_code="F-TVM-1")
    create_staff(reg_app, "checker", "verifier")
    assert refs["B"] in by_person(run(reg_app, "dio.tvm", location_code="IN-KL-TVM"))
    with pytest.raises(Forbidden):
        run(reg_app, "dio.tvm", location_code="IN-KL")        # the state: above them
    with pytest.raises(Forbidden):
        run(reg_app, "dio.tvm", location_code="IN-KL-KLM")    # the sibling district
    assert set(by_person(run(reg_app, "anm.tvm", facility_code="F-TVM-1"))) == {refs["A"]}
    with pytest.raises(Forbidden):
        run(reg_app, "anm.tvm", location_code="IN-KL-TVM")    # a facility grant: its list
    with pytest.raises(Forbidden):
        run(reg_app, "checker", location_code="IN-KL-TVM")
