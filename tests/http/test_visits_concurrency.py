"""Parallel visits for the same person and series on PostgreSQL: never two doses with the
same number; the loser gets a clean Conflict (or, when it reads after the winner's commit,
the due rules' refusal) and writes nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, text

from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_database
from cowin_kit.core.errors import Conflict
from cowin_kit.identity.models import StaffUser
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.vaccination import visits
from cowin_kit.testing import auth, publish, staff_token, today

PEOPLE = "/api/v1/staff/people"


def _children(app, client, token, n: int) -> list[str]:
    refs = []
    for i in range(n):
        response = client.post(PEOPLE, headers=auth(token), json={
            "name": f"Child {i}", "birth_date": (today() - timedelta(days=42)).isoformat(),
            "gender": "F", "mobile": f"98765{i:05d}", "location": "IN-KL-TVM",
            "guardian_name": "Guardian", "guardian_relation": "mother"})
        assert response.status_code == 201, response.get_json()
        refs.append(response.get_json()["reference_id"])
    return refs


def test_parallel_visits_never_give_one_series_two_doses_with_one_number(pg_app):
    app = pg_app
    client = app.test_client()
    publish(app, code="F-TVM-1")
    token = staff_token(app, client, "anm.race", "vaccinator", facility_code="F-TVM-1")
    refs = _children(app, client, token, 5)

    def attempt(i: int):
        response = app.test_client().post("/api/v1/vaccinator/visits", headers=auth(token), json={
            "reference_id": refs[i % len(refs)],
            "doses": [{"vaccine": "PENTA", "lot": f"PN-{i}"}, {"vaccine": "ROTA", "lot": "R"}]})
        return refs[i % len(refs)], response.status_code, (response.get_json() or {}).get("code")

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(attempt, range(40)))
    for ref in refs:
        mine = [(status, code) for r, status, code in results if r == ref]
        assert sum(1 for status, _code in mine if status == 201) == 1, mine
        assert all((status, code) in {(409, "dose_already_recorded"), (422, "dose_too_early")}
                   for status, code in mine if status != 201), mine
    with app.app_context(), get_database(app).session() as session:
        rows = session.execute(select(Dose.series, func.count()).group_by(Dose.series)).all()
        assert dict(rows) == {"dtp": 5, "rotavirus": 5}
        assert session.scalar(select(func.max(Dose.dose_number))) == 1


def test_a_visit_meeting_another_in_flight_gets_a_conflict_and_writes_nothing(pg_app):
    """Another visit has inserted dose 1 of the series and not yet committed: this visit
    read no dose, waits on the unique index, and gets Conflict once the other commits."""
    app = pg_app
    client = app.test_client()
    publish(app, code="F-TVM-1")
    token = staff_token(app, client, "anm.race", "vaccinator", facility_code="F-TVM-1")
    (ref,) = _children(app, client, token, 1)
    engine = get_database(app).engine
    with app.app_context(), get_database(app).session() as session:
        person_id = session.scalar(select(Beneficiary.id).where(Beneficiary.reference_id == ref))
        penta = session.scalar(text("SELECT id FROM vaccine_product WHERE code = 'PENTA'"))
    other = engine.connect()
    transaction = other.begin()
    other.execute(text(
        "INSERT INTO dose (beneficiary_id, series, dose_number, product_id, administered_at, "
        "lot, vaccinator, recorded_at, source) VALUES (:p, 'dtp', 1, :product, :at, 'OTHER', "
        "'anm.other', :at, 'recorded')"),
        {"p": person_id, "product": penta, "at": datetime.now(timezone.utc)})
    outcome: dict[str, object] = {}
    started = threading.Event()

    def visit():
        with app.test_request_context(), get_database(app).session() as session:
            user = session.scalars(select(StaffUser).where(StaffUser.username == "anm.race")).one()
            started.set()
            try:
                visits.record_visit(session, active_pack(), user, reference_id=ref, doses=[
                    {"product": "ROTA", "lot": "R-1"}, {"product": "PENTA", "lot": "PN-1"}])
            except Conflict as exc:
                outcome["code"] = exc.code
            else:
                outcome["code"] = "recorded"

    worker = threading.Thread(target=visit)
    worker.start()
    started.wait(10)
    worker.join(1.0)  # it waits on the other visit's uncommitted dose 1
    assert worker.is_alive()
    transaction.commit()
    other.close()
    worker.join(30)
    assert outcome == {"code": "dose_already_recorded"}
    with app.app_context(), get_database(app).session() as session:
        lots = session.scalars(select(Dose.lot).where(Dose.beneficiary_id == person_id))
        assert list(lots) == ["OTHER"]  # nothing of the refused visit, ROTA included
