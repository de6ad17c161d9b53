"""Bulk CSV imports of facilities and sessions: the service, the CLI and the admin API, on
every backend. A file is imported whole or not at all, every bad row is reported, and
re-running a file changes nothing."""

from __future__ import annotations

import io
from datetime import time

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.cli import main
from cowin_kit.provision.installer import install_pack
from cowin_kit.core.db import get_database
from cowin_kit.identity import services as identity
from cowin_kit.scheduling.imports import ImportInvalid, import_facilities, import_sessions
from cowin_kit.geography.models import Facility
from cowin_kit.scheduling.models import SessionDoseCapacity, SessionSlot, VaccinationSession

from cowin_kit.testing import BACKENDS, STAFF_PASSWORD as PASSWORD, iso_day as day, national_admin_token
from cowin_kit.testing import count_rows as _count

FACILITIES = """\
code,name,name_hi,location_code,address,postal_code,lat,long,fee_type,open,close
TVM-1,Medical College PHC,मेडिकल कॉलेज पीएचसी,IN-KL-TVM,Ulloor Road,695001,8.5241,76.9366,Free,09:00,17:00
TVM-2,General Hospital,,IN-KL-TVM,,695001,,,Paid,08:30,20:00
ND-1,Nirman Bhawan Dispensary,,IN-DL-ND,Maulana Azad Road,110001,28.6139,77.2090,Free,,
"""


def sessions_csv(seats: int = 10, slots: str = "09:00-11:00;11:00-13:00") -> str:
    return (
        "facility_code,date,vaccine,min_age,max_age,slots,capacity_dose1,capacity_dose2,fee\n"
        f"TVM-1,{day(3)},COVISHIELD,18,,{slots},{seats},5,\n"
        f"TVM-1,{day(4)},COVAXIN,15,17,09:00-12:00,20,,\n"
        f"TVM-2,{day(3)},COVISHIELD,45,,{slots},{seats},0,780.50\n"
    )


@pytest.fixture
def pack_session(db_session, india_pack):
    install_pack(db_session, india_pack)
    return db_session


def _sessions(session) -> dict[tuple[str, str, str], VaccinationSession]:
    from cowin_kit.programme.models import VaccineProduct as Product

    rows = session.execute(select(VaccinationSession, Facility.code, Product.code)
                           .join(Facility, Facility.id == VaccinationSession.facility_id)
                           .join(Product, Product.id == VaccinationSession.product_id))
    return {(code, s.session_date.isoformat(), vaccine): s for s, code, vaccine in rows}


def _problems(exc_info) -> list[str]:
    return [str(problem) for problem in exc_info.value.problems]


# --- the service --------------------------------------------------------------------------

def test_facilities_are_added_then_updated_in_place(pack_session):
    session = pack_session
    report = import_facilities(session, FACILITIES.encode(), file_name="facilities.csv")
    assert (report.rows, report.added, report.updated, report.unchanged) == (3, 3, 0, 0)
    tvm = session.scalars(select(Facility).where(Facility.code == "TVM-1")).one()
    assert tvm.names == {"hi": "मेडिकल कॉलेज पीएचसी"} and tvm.postal_code == "695001"
    assert (tvm.latitude, tvm.longitude) == (8.5241, 76.9366)
    assert (tvm.opens_at, tvm.closes_at, tvm.fee_type) == (time(9), time(17), "Free")
    nd = session.scalars(select(Facility).where(Facility.code == "ND-1")).one()
    assert nd.opens_at is None and nd.names == {} and nd.facility_type == "public"

    again = import_facilities(session, io.BytesIO(FACILITIES.encode()), file_name="facilities.csv")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    assert _count(session, Facility) == 3

    changed = FACILITIES.replace("General Hospital", "District General Hospital")
    report = import_facilities(session, changed.encode(), file_name="facilities.csv")
    assert (report.added, report.updated, report.unchanged) == (0, 1, 2)
    session.expire_all()
    assert session.scalars(select(Facility.name).where(Facility.code == "TVM-2")).one() \
        == "District General Hospital"
    assert session.scalars(select(Facility.id).where(Facility.code == "TVM-1")).one() == tvm.id
    actions = list(session.scalars(select(AuditEvent.action)))
    assert actions.count("facility.import") == 3
    assert actions.count("facility.create") == 3 and actions.count("facility.update") == 1


def test_columns_missing_from_the_file_are_left_as_they_are(pack_session):
    session = pack_session
    import_facilities(session, FACILITIES.encode(), file_name="facilities.csv")
    report = import_facilities(session, b"code,name,location_code\nTVM-1,Medical College PHC,"
                                        b"IN-KL-TVM\n", file_name="names.csv")
    assert (report.updated, report.unchanged) == (0, 1)
    session.expire_all()
    tvm = session.scalars(select(Facility).where(Facility.code == "TVM-1")).one()
    assert tvm.postal_code == "695001" and tvm.names == {"hi": "मेडिकल कॉलेज पीएचसी"}


def test_sessions_are_published_and_a_rerun_changes_nothing(pack_session):
    session = pack_session
    import_facilities(session, FACILITIES.encode(), file_name="facilities.csv")
    seen = []
    report = import_sessions(session, sessions_csv().encode(), file_name="sessions.csv",
                             progress=lambda *args: seen.append(args))
    assert (report.added, report.updated, report.unchanged) == (3, 0, 0)
    checking = [args for args in seen if args[0] == "checking"]
    assert checking[-1][1] == checking[-1][2] and checking[-1] == seen[0]
    assert seen[-1][0] == "writing" and seen[-1][1] == seen[-1][2]
    found = _sessions(session)
    first = found[("TVM-1", day(3), "COVISHIELD")]
    assert (first.min_age, first.max_age, first.status) == (18, None, "published")
    assert {c.dose_number: c.capacity for c in first.capacities} == {1: 10, 2: 5}
    assert [(s.label, s.capacity) for s in first.slots] == [("09:00-11:00", 8),
                                                           ("11:00-13:00", 7)]
    paid = found[("TVM-2", day(3), "COVISHIELD")]
    assert str(paid.fee) in ("780.50", "780.5") and [c.dose_number for c in paid.capacities] == [1]
    assert found[("TVM-1", day(4), "COVAXIN")].max_age == 17

    again = import_sessions(session, sessions_csv().encode(), file_name="sessions.csv")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    assert _count(session, VaccinationSession) == 3
    assert _count(session, SessionSlot) == 5 and _count(session, SessionDoseCapacity) == 4
    actions = list(session.scalars(select(AuditEvent.action)))
    assert actions.count("session.import") == 2 and actions.count("session.publish") == 3


def test_capacities_and_slots_of_existing_sessions_are_updated(pack_session):
    session = pack_session
    import_facilities(session, FACILITIES.encode(), file_name="facilities.csv")
    import_sessions(session, sessions_csv().encode(), file_name="sessions.csv")
    before = {key: s.id for key, s in _sessions(session).items()}
    report = import_sessions(session, sessions_csv(seats=30, slots="10:00-12:00").encode(),
                             file_name="sessions.csv")
    assert (report.added, report.updated, report.unchanged) == (0, 2, 1)
    session.expire_all()
    after = _sessions(session)
    assert {key: s.id for key, s in after.items()} == before
    first = after[("TVM-1", day(3), "COVISHIELD")]
    assert {c.dose_number: c.capacity for c in first.capacities} == {1: 30, 2: 5}
    assert [(s.label, s.capacity) for s in first.slots] == [("10:00-12:00", 35)]
    assert _count(session, SessionSlot) == 3
    assert "session.update" in session.scalars(select(AuditEvent.action)).all()


def _book(session, key, dose_number, seats, slot_label):
    """Seats taken as services.book takes them (the same counters)."""
    target = _sessions(session)[key]
    capacity = next(c for c in target.capacities if c.dose_number == dose_number)
    capacity.booked += seats
    slot = next(s for s in target.slots if s.label == slot_label)
    slot.booked += seats
    session.commit()


def test_seats_never_go_below_what_is_booked(pack_session):
    session = pack_session
    import_facilities(session, FACILITIES.encode(), file_name="facilities.csv")
    import_sessions(session, sessions_csv().encode(), file_name="sessions.csv")
    _book(session, ("TVM-1", day(3), "COVISHIELD"), 1, 8, "09:00-11:00")
    with pytest.raises(ImportInvalid) as refused:
        import_sessions(session, sessions_csv(seats=6, slots="11:00-13:00").encode(),
                        file_name="sessions.csv")
    assert _problems(refused) == [
        "sessions.csv:2: capacity_dose1: 8 seats are already booked; the capacity cannot go "
        "below that",
        "sessions.csv:2: slots: slot 09:00-11:00 has booked seats and cannot be removed",
    ]
    session.expire_all()
    # Nothing was written: not even TVM-2's row, which was fine on its own.
    assert {c.dose_number: c.capacity for c in
            _sessions(session)[("TVM-2", day(3), "COVISHIELD")].capacities} == {1: 10}

    # Down to exactly what is booked is allowed; each slot keeps at least its bookings.
    report = import_sessions(session, sessions_csv(seats=8).encode(), file_name="sessions.csv")
    assert (report.updated, report.unchanged) == (2, 1)
    session.expire_all()
    first = _sessions(session)[("TVM-1", day(3), "COVISHIELD")]
    assert {c.dose_number: (c.capacity, c.booked) for c in first.capacities} == {
        1: (8, 8), 2: (5, 0)}
    assert [(s.label, s.capacity, s.booked) for s in first.slots] == [
        ("09:00-11:00", 8, 8), ("11:00-13:00", 6, 0)]


def test_every_bad_facility_row_is_reported_and_nothing_is_written(pack_session):
    session = pack_session
    bad = (
        "code,name,location_code,postal_code,lat,long,fee_type,facility_type,open,close\n"
        "OK-1,Fine Centre,IN-KL-TVM,695001,8.5,76.9,Free,public,09:00,17:00\n"
        "BAD-1,,IN-XX-YY,012345,91,76.9,Gratis,army,17:00,09:00\n"
        "OK-1,Twice,IN-KL-TVM,,,,,,,\n"
        "BAD-2,No Long,IN-DL-ND,110001,28.6,,Free,,9am,\n"
        "BAD-3,Short row,IN-DL-ND\n"
    )
    with pytest.raises(ImportInvalid) as refused:
        import_facilities(session, bad.encode(), file_name="centres.csv")
    assert _problems(refused) == [
        "centres.csv:3: close: must be later than open",
        "centres.csv:3: facility_type: must be public or private",
        "centres.csv:3: fee_type: must be Free or Paid",
        "centres.csv:3: lat: must be a number from -90 to 90",
        "centres.csv:3: location_code: no location with code IN-XX-YY",
        "centres.csv:3: name: must not be empty",
        "centres.csv:3: postal_code: 012345 is not a valid postal code",
        "centres.csv:4: code: OK-1 is used twice (first on line 2)",
        "centres.csv:5: close: give both open and close, or neither",
        "centres.csv:5: long: give both lat and long, or neither",
        "centres.csv:6: (row): has 3 values, the header has 10 columns",
    ]
    assert refused.value.code == "invalid_csv" and refused.value.status == 422
    assert _count(session, Facility) == 0
    assert "facility.import" not in session.scalars(select(AuditEvent.action)).all()


def test_every_bad_session_row_is_reported_and_nothing_is_written(pack_session):
    session = pack_session
    import_facilities(session, FACILITIES.encode(), file_name="facilities.csv")
    bad = (
        "facility_code,date,vaccine,min_age,max_age,slots,capacity_dose1,capacity_dose2,"
        "capacity_dose4,fee\n"
        f"TVM-1,{day(3)},COVISHIELD,18,,09:00-11:00,10,,,\n"
        f"NOPE,{day(3)},SPUTNIK,18,,09:00-11:00,10,,,\n"
        f"TVM-1,{day(-1)},COVISHIELD,45,30,11:00-09:00,-1,,,\n"
        f"TVM-1,31-12-2030,COVAXIN,x,,09:00-11:00;10:00-12:00,0,0,0,\n"
        f"TVM-1,{day(3)},COVISHIELD,18,,09:00-10:00,5,,3,250\n"
        f"TVM-2,{day(5)},CORBEVAX,12,,09:00-11:00,5,,,12.345\n"
    )
    with pytest.raises(ImportInvalid) as refused:
        import_sessions(session, bad.encode(), file_name="sessions.csv")
    assert _problems(refused) == [
        "sessions.csv:3: facility_code: no facility with code NOPE",
        "sessions.csv:3: vaccine: no vaccine with code SPUTNIK",
        "sessions.csv:4: capacity_dose1: must be a whole number from 0 to 100000",
        "sessions.csv:4: date: is in the past",
        "sessions.csv:4: max_age: must not be below min_age",
        "sessions.csv:4: slots: slot 11:00-09:00 ends before it starts",
        "sessions.csv:5: capacity_dose1: at least one dose needs seats (a capacity_doseN "
        "above 0)",
        "sessions.csv:5: date: must be a date like 2030-01-31",
        "sessions.csv:5: min_age: must be a whole number from 0 to 150",
        "sessions.csv:5: slots: slots overlap",
        "sessions.csv:6: capacity_dose4: vaccine COVISHIELD has no dose 4",
        "sessions.csv:6: fee: must be 0: the facility is free of charge",
        "sessions.csv:7: fee: must be an amount like 250 or 250.50",
    ]
    assert _count(session, VaccinationSession) == 0

    duplicate = ("facility_code,date,vaccine,slots,capacity_dose1\n"
                 f"TVM-1,{day(3)},COVISHIELD,09:00-11:00,10\n"
                 f"TVM-1,{day(3)},COVISHIELD,11:00-13:00,10\n")
    with pytest.raises(ImportInvalid) as refused:
        import_sessions(session, duplicate.encode(), file_name="sessions.csv")
    assert _problems(refused) == [
        "sessions.csv:3: facility_code: this facility, date and vaccine are already on line 2"]


@pytest.mark.parametrize("kind, content, expected", [
    ("facilities", b"", ["f.csv:1: (file): file is empty"]),
    ("facilities", b"code,name,colour\nX,Y,red\n",
     ["f.csv:1: colour: unknown column", "f.csv:1: location_code: required column is missing"]),
    ("facilities", b"code,name,location_code,name_fr\n",
     ["f.csv:1: name_fr: unknown column"]),
    ("facilities", b"code,name,location_code,lat\n",
     ["f.csv:1: long: give both lat and long columns, or neither"]),
    ("facilities", b"code,name,location_code\nA,\xff,IN-DL\n", ["f.csv:2: (file): not UTF-8 text"]),
    ("sessions", b"facility_code,date,vaccine,slots\n",
     ["f.csv:1: capacity_dose1: at least one capacity_doseN column is needed"]),
    ("sessions", b"facility_code,date,vaccine,slots,capacity_dose1,capacity_dose1\n",
     ["f.csv:1: capacity_dose1: column appears twice"]),
])
def test_header_and_file_problems(pack_session, kind, content, expected):
    importer = import_facilities if kind == "facilities" else import_sessions
    with pytest.raises(ImportInvalid) as refused:
        importer(pack_session, content, file_name="f.csv")
    assert _problems(refused) == expected


def test_scoped_actor_may_only_import_inside_their_area(pack_session):
    session = pack_session
    import_facilities(session, FACILITIES.encode(), file_name="facilities.csv")
    user = identity.create_staff_user(session, "tvm.admin", PASSWORD)
    identity.grant_role(session, user, "district_admin", location_code="IN-KL-TVM")
    session.commit()
    mixed = sessions_csv() + f"ND-1,{day(3)},COVAXIN,18,,09:00-11:00,10,,\n"
    with pytest.raises(ImportInvalid) as refused:
        import_sessions(session, mixed.encode(), file_name="s.csv", actor=user)
    assert _problems(refused) == [
        "s.csv:5: facility_code: is outside the area where you may publish sessions"]
    report = import_sessions(session, sessions_csv().encode(), file_name="s.csv", actor=user)
    assert report.added == 3


def test_a_dry_run_counts_but_writes_nothing(pack_session):
    report = import_facilities(pack_session, FACILITIES.encode(), file_name="f.csv",
                               dry_run=True)
    assert (report.added, report.dry_run) == (3, True)
    assert _count(pack_session, Facility) == 0


# --- CLI ----------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=BACKENDS)
def cli(request, init_instance):
    folder = init_instance(request.param)

    def invoke(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False,
                                  env={"COWIN_KIT_INSTANCE_PATH": str(folder)})
    return invoke


def test_cli_imports_and_reruns(cli, tmp_path):
    facilities = tmp_path / "facilities.csv"
    facilities.write_text(FACILITIES, encoding="utf-8")
    sessions = tmp_path / "sessions.csv"
    sessions.write_text(sessions_csv(), encoding="utf-8")
    checked = cli("facilities", "import", facilities, "--check")
    assert checked.exit_code == 0, checked.output
    assert "would give 3 added, 0 updated, 0 unchanged" in checked.output
    first = cli("facilities", "import", facilities)
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "facilities: 3 added, 0 updated, 0 unchanged"
    result = cli("sessions", "import", sessions)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "sessions: 3 added, 0 updated, 0 unchanged"
    again = cli("sessions", "import", sessions)
    assert again.output.strip() == "sessions: 0 added, 0 updated, 3 unchanged"


def test_cli_reports_every_problem_and_exits_1(cli, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,location_code\nX-1,One,IN-NOWHERE\nX-2,,IN-KL-TVM\n",
                   encoding="utf-8")
    result = cli("facilities", "import", bad)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{bad}:2: location_code: no location with code IN-NOWHERE",
        f"{bad}:3: name: must not be empty",
        f"error: 2 problems in {bad}; nothing was imported.",
    ]
    missing = cli("sessions", "import", tmp_path / "absent.csv")
    assert missing.exit_code == 2 and "does not exist" in missing.output


# --- admin API ----------------------------------------------------------------------------

def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_api_upload_as_csv_body_and_as_multipart(reg_app):
    client = reg_app.test_client()
    token = national_admin_token(reg_app, client)
    answer = client.post("/api/v1/admin/facilities/import", data=FACILITIES.encode(),
                         content_type="text/csv", headers=_bearer(token))
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"rows": 3, "added": 3, "updated": 0, "unchanged": 0}
    answer = client.post("/api/v1/admin/sessions/import", headers=_bearer(token),
                         data={"file": (io.BytesIO(sessions_csv().encode()), "week.csv")},
                         content_type="multipart/form-data")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["added"] == 3

    bad = sessions_csv().replace("COVAXIN", "NOVAVAX")
    refused = client.post("/api/v1/admin/sessions/import", data=bad, content_type="text/csv",
                          headers=_bearer(token))
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    body = refused.get_json()
    assert body["code"] == "invalid_csv"
    assert body["rows"] == [{"line": 3, "column": "vaccine",
                             "message": "no vaccine with code NOVAVAX"}]
    assert client.post("/api/v1/admin/facilities/import", data=FACILITIES,
                       content_type="text/csv").status_code == 401
    wrong = client.post("/api/v1/admin/facilities/import", json={"code": "x"},
                        headers=_bearer(token))
    assert wrong.status_code == 422 and wrong.get_json()["code"] == "invalid_upload"


def test_api_refuses_rows_outside_a_district_admins_area(reg_app):
    client = reg_app.test_client()
    national_admin_token(reg_app, client)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        user = identity.create_staff_user(session, "tvm.admin", PASSWORD)
        identity.grant_role(session, user, "district_admin", location_code="IN-KL-TVM")
        helper = identity.create_staff_user(session, "tvm.vaccinator", PASSWORD)
        session.commit()
    token = client.post("/api/v1/staff/sign-in", json={"username": "tvm.admin",
                                                       "password": PASSWORD}).get_json()["token"]
    refused = client.post("/api/v1/admin/facilities/import", data=FACILITIES,
                          content_type="text/csv", headers=_bearer(token))
    assert refused.status_code == 422
    assert refused.get_json()["rows"] == [{
        "line": 4, "column": "location_code",
        "message": "is outside the area where you may manage facilities"}]
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert session.scalar(select(func.count()).select_from(Facility)) == 0
    inside = "\n".join(FACILITIES.splitlines()[:3]) + "\n"
    allowed = client.post("/api/v1/admin/facilities/import", data=inside,
                          content_type="text/csv", headers=_bearer(token))
    assert allowed.status_code == 200 and allowed.get_json()["added"] == 2

    other = client.post("/api/v1/staff/sign-in", json={"username": helper.username,
                                                       "password": PASSWORD}).get_json()["token"]
    forbidden = client.post("/api/v1/admin/facilities/import", data=inside,
                            content_type="text/csv", headers=_bearer(other))
    assert forbidden.status_code == 403 and forbidden.get_json()["code"] == "forbidden"
