"""The kept due state (immunization.duestate): the due, zero-dose and defaulter lists and
the reminders read from the pending_dose table are the lists a live evaluation of the
rules gives, over many days after the refresh, for children on time, late, dropped out,
never vaccinated or given a dose too early, and pregnant women; the receivers keep it
right after a visit and a pregnancy outcome; the CLI and the worker refresh it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from cowin_kit.cli import main
from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_database
from cowin_kit.core.errors import DomainError
from cowin_kit.identity import services as identity
from cowin_kit.identity.models import StaffUser
from cowin_kit.immunization import duelists, duestate, reminders
from cowin_kit.immunization.models import DueRefresh, PendingDose
from cowin_kit.programme import due
from cowin_kit.registration import people
from cowin_kit.testing import IST, publish, today, valid_aadhaar
from cowin_kit.testing.routine_area import give
from cowin_kit.vaccination import visits
from cowin_kit.worker import Worker

DAYS = (0, 1, 6, 13, 20, 29, 41, 60, 75, 95, 130, 180, 250, 366, 480, 700)


def _bring(session, pack, actor, reference_id, *, until: date, late: int, stop_after: int):
    """Visits from birth: every dose due that day, ``late`` days after each opens, at
    most ``stop_after`` visits (then the family stops coming)."""
    plan = visits.due_today(session, pack, actor, reference_id, on=until)
    day = plan.birth_date
    made = 0
    while day <= until and made < stop_after:
        plan = visits.due_today(session, pack, actor, reference_id, on=day)
        doses = [{"product": item.products[0], "schedule": item.schedule.code,
                  "lot": "L-1"} for item in plan.due]
        if doses:
            visits.record_visit(session, pack, actor, reference_id=reference_id, doses=doses,
                                facility_code="F-TVM-1",
                                # at 10:00, or now if that is still ahead today
                                administered_at=min(datetime.combine(day, time(10), IST),
                                                    datetime.now(IST)))
            made += 1
        upcoming = [s.earliest for s in plan.statuses
                    if s.status == due.UPCOMING and s.earliest is not None and s.earliest > day]
        if not upcoming:
            return
        day = min(upcoming) + timedelta(days=late)


def seed(app) -> dict[str, str]:
    """Children of every age under five in two districts with varied histories, and
    pregnant women; reference ids by name."""
    publish(app, code="F-TVM-1")
    on = today()
    refs: dict[str, str] = {}
    with app.test_request_context(), get_database(app).session() as session:
        pack = active_pack()
        actor = identity.add_staff_user(session, "state.admin", "correct horse battery",
                                        role="national_admin")
        actor = session.get(StaffUser, actor.id)
        numbers = iter(valid_aadhaar(4, start=310000000000))
        children = [  # (name, age in days, district, late days, visits made, facility)
            ("Newborn", 0, "IN-KL-TVM", 0, 9, "F-TVM-1"),
            ("Ten days", 10, "IN-KL-TVM", 99, 0, ""),
            ("Three weeks", 21, "IN-KL-KLM", 0, 9, ""),
            ("Six weeks", 44, "IN-KL-TVM", 0, 9, "F-TVM-1"),
            ("Nine weeks", 63, "IN-KL-TVM", 30, 9, "F-TVM-1"),
            ("Zero", 80, "IN-KL-TVM", 0, 0, ""),
            ("Dropped", 150, "IN-KL-TVM", 0, 1, "F-TVM-1"),
            ("Late", 200, "IN-KL-KLM", 25, 9, ""),
            ("On time", 290, "IN-KL-TVM", 0, 9, "F-TVM-1"),
            ("Stopped twice", 420, "IN-KL-TVM", 10, 2, ""),
            ("Toddler", 520, "IN-KL-TVM", 3, 9, "F-TVM-1"),
            ("Two years", 760, "IN-KL-TVM", 40, 4, ""),
            ("Four years", 1500, "IN-KL-KLM", 0, 9, ""),
            ("Almost five", 1790, "IN-KL-TVM", 15, 5, "F-TVM-1"),
            ("Early", 50, "IN-KL-TVM", 0, 0, "F-TVM-1"),
        ]
        for n, (name, age, district, late, made, facility) in enumerate(children):
            view = people.register_person(
                session, pack, actor, name=name, birth_date=on - timedelta(days=age),
                gender="FM"[n % 2], mobile=f"98765100{n:02d}", location=district,
                facility=facility, guardian_name="Guardian", guardian_relation="mother")
            refs[name] = view.beneficiary.reference_id
            if made:
                _bring(session, pack, actor, refs[name], until=on, late=late, stop_after=made)
        # doses given too early (outside the grace): recorded, not counted, due again
        birth = on - timedelta(days=50)
        give(session, refs["Early"], "bcg", "BCG", birth)
        give(session, refs["Early"], "opv", "BOPV", birth + timedelta(days=3))
        give(session, refs["Early"], "dtp", "PENTA", birth + timedelta(days=20))
        session.commit()
        for name, registered, given in (("Mother new", 5, False), ("Mother Td", 40, True),
                                        ("Mother late", 120, False)):
            view = people.register_person(
                session, pack, actor, name=name, birth_date=date(on.year - 26, 5, 4),
                gender="F", mobile="9876510099", location="IN-KL-TVM", facility="F-TVM-1",
                id_type="aadhaar", id_number=next(numbers),
                pregnancy=people.PregnancyFacts(registered_on=on - timedelta(days=registered)))
            refs[name] = view.beneficiary.reference_id
            if given:
                start = on - timedelta(days=registered)
                plan = visits.due_today(session, pack, actor, refs[name], on=start)
                visits.record_visit(session, pack, actor, reference_id=refs[name], doses=[
                    {"product": i.products[0], "schedule": i.schedule.code, "lot": "TD-1"}
                    for i in plan.due], facility_code="F-TVM-1",
                    administered_at=datetime.combine(start, time(11), IST))
    return refs


def lists(app, on: date, *, live: bool, **place):
    out = {}
    with app.test_request_context(), get_database(app).session() as session:
        pack = active_pack()
        for kind, statuses in (("due", None), ("due", ["due"]), ("due", ["overdue"]),
                               ("zero-dose", None), ("defaulters", None),
                               ("defaulters", ["due", "overdue"])):
            result = duelists.due_list(session, pack, None, on=on, kind=kind,
                                       statuses=statuses, live=live, **place)
            out[(kind, tuple(statuses or ()))] = (result.rows, result.people)
        found = reminders.pending_reminders(session, pack, on, live=live)
        out["reminders"] = sorted((r.beneficiary_id, r.reason, r.due, tuple(sorted(r.doses)))
                                  for r in found)
    return out


def compare(app, days=DAYS) -> int:
    """Table-backed and live lists agree on every day; how many rows they had."""
    seen = 0
    for offset in days:
        on = today() + timedelta(days=offset)
        for place in ({"location_code": "IN-KL"}, {"facility_code": "F-TVM-1"},
                      {"location_code": "IN-KL-TVM"}):
            with app.test_request_context(), get_database(app).session() as session:
                assert duestate.usable(session, active_pack(), on, ("due", "overdue"))
            table, live = lists(app, on, live=False, **place), lists(app, on, live=True, **place)
            for key in live:
                assert table[key] == live[key], (offset, place, key)
            seen += sum(len(rows) for key, (rows, _n) in
                        ((k, v) for k, v in live.items() if k != "reminders"))
    return seen


def test_the_table_gives_the_live_lists_on_every_day(reg_app):
    refs = seed(reg_app)
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        pack = active_pack()
        assert not duestate.table_ready(session, pack)   # never refreshed: lists go live
        report = duestate.refresh_all(session, pack)
        assert report.people == len(refs) and report.rows > len(refs)
        assert duestate.table_ready(session, pack)
        assert not duestate.usable(session, pack, today() - timedelta(days=1), ["due"])
        assert not duestate.usable(session, pack, today(), ["upcoming"])
    rows = compare(reg_app)
    assert rows > 100
    # the lists of today hold what the children's histories say
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        result = duelists.due_list(session, active_pack(), None, on=today(),
                                   location_code="IN-KL")
    listed = {r.reference_id for r in result.rows}
    assert {refs["Zero"], refs["Dropped"], refs["Early"], refs["Mother new"]} <= listed
    early = {(r.schedule, r.dose) for r in result.rows if r.reference_id == refs["Early"]}
    assert ("dtp", 1) in early and ("bcg", 1) not in early   # PENTA at 20 days: not counted
    assert {r.status for r in result.rows} == {"due", "overdue"}


def test_receivers_keep_the_table_right_after_each_change(reg_app):
    refs = seed(reg_app)
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        pack = active_pack()
        duestate.refresh_all(session, pack)
        actor = session.scalars(select(StaffUser).where(StaffUser.username == "state.admin")).one()
        # the zero-dose child comes today: the list changes in the visit's transaction
        plan = visits.due_today(session, pack, actor, refs["Zero"])
        visits.record_visit(session, pack, actor, reference_id=refs["Zero"], doses=[
            {"product": i.products[0], "schedule": i.schedule.code, "lot": "L-2"}
            for i in plan.due], facility_code="F-TVM-1")
        # a pregnancy ends with a live birth: the mother's Td goes, the newborn comes
        mother = people.get_person(session, actor, refs["Mother new"])
        pregnancy_id = session.scalar(select(func.max(PendingDose.pregnancy_id)).where(
            PendingDose.beneficiary_id == mother.beneficiary.id))
        born = people.record_pregnancy_outcome(
            session, pack, actor, refs["Mother new"], pregnancy_id, outcome="live_birth",
            outcome_date=today(), newborns=[{"name": "Baby New", "gender": "F"}])
        refs["Baby New"] = born.newborns[0].beneficiary.reference_id
        # a new pregnancy of a registered woman
        woman = people.register_person(
            session, pack, actor, name="Mother later", birth_date=date(1999, 2, 2),
            gender="F", mobile="9876510098", location="IN-KL-TVM", facility="F-TVM-1",
            id_type="aadhaar", id_number=valid_aadhaar(1, start=320000000000)[0])
        people.register_pregnancy(session, pack, actor, woman.beneficiary.reference_id,
                                  registered_on=today())
        refs["Mother later"] = woman.beneficiary.reference_id
    compare(reg_app, days=(0, 3, 30, 90, 200))
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        result = duelists.due_list(session, active_pack(), None, on=today(),
                                   location_code="IN-KL", kind="zero-dose")
        listed = {r.reference_id for r in result.rows}
        assert refs["Zero"] not in listed
        everyone = {r.reference_id for r in duelists.due_list(
            session, active_pack(), None, on=today(), location_code="IN-KL").rows}
        assert {refs["Baby New"], refs["Mother later"]} <= everyone
        tomorrow = {r.reference_id for r in duelists.due_list(
            session, active_pack(), None, on=today() + timedelta(days=1),
            location_code="IN-KL").rows}
        assert refs["Mother new"] not in tomorrow   # her pregnancy ended today


def test_a_refused_visit_writes_no_state(reg_app):
    refs = seed(reg_app)
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        pack = active_pack()
        duestate.refresh_all(session, pack)
        before = sorted(session.execute(select(PendingDose.schedule, PendingDose.dose).where(
            PendingDose.beneficiary_id == people.get_person(
                session, session.scalars(select(StaffUser)).first(),
                refs["Zero"]).beneficiary.id)).all())
        actor = session.scalars(select(StaffUser).where(StaffUser.username == "state.admin")).one()
        try:
            visits.record_visit(session, pack, actor, reference_id=refs["Zero"], doses=[
                {"product": "BCG", "lot": "L"}, {"product": "NOPE", "lot": "L"}],
                facility_code="F-TVM-1")
        except DomainError:
            session.rollback()
        after = sorted(session.execute(select(PendingDose.schedule, PendingDose.dose).where(
            PendingDose.beneficiary_id == people.get_person(
                session, actor, refs["Zero"]).beneficiary.id)).all())
    assert before == after and ("bcg", 1) in after


def test_cli_refresh_and_the_workers_daily_job(reg_app, monkeypatch):
    seed(reg_app)
    settings = reg_app.config["COWIN_KIT"]
    monkeypatch.setenv("COWIN_KIT_DATABASE_URL", settings["DATABASE_URL"])
    monkeypatch.setenv("COWIN_KIT_INSTANCE_PATH", settings["INSTANCE_PATH"])
    monkeypatch.setenv("COWIN_KIT_ENV", "test")
    area = CliRunner().invoke(main, ["due-list", "refresh", "--location", "IN-KL-KLM"])
    assert area.exit_code == 0, area.output
    assert "refreshed 3 people" in area.stderr
    unknown = CliRunner().invoke(main, ["due-list", "refresh", "--location", "IN-XX"])
    assert unknown.exit_code != 0 and "location_not_found" in unknown.output
    with reg_app.app_context(), get_database(reg_app).session() as session:
        assert not duestate.table_ready(session, active_pack())   # one area is not all
    first = Worker(reg_app).run_round()
    assert first.due_state_refreshed == 18 and "due_state" not in first.failed
    again = Worker(reg_app).run_round()            # a restart the same day: not again
    assert again.due_state_refreshed is None
    whole = CliRunner().invoke(main, ["due-list", "refresh"])
    assert whole.exit_code == 0, whole.output
    with reg_app.app_context(), get_database(reg_app).session() as session:
        runs = session.scalars(select(DueRefresh).order_by(DueRefresh.id)).all()
        assert [r.location_code for r in runs] == ["IN-KL-KLM", None, None]
        assert all(r.finished_at is not None for r in runs)
        assert runs[1].rows == runs[2].rows == session.scalar(
            select(func.count()).select_from(PendingDose))   # idempotent
    listed = CliRunner().invoke(main, ["due-list", "--location", "IN-KL-TVM"])
    assert listed.exit_code == 0 and "Zero" in listed.stdout
