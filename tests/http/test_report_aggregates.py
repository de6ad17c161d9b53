"""The administrators' reports answered from the aggregates (dose tally, person summary)
equal the live computation from the dose table, on random data written through the paths
that write doses and people (the ORM, the booked-dose recording service, the bulk import,
corrections, a merge), at national, state, district and facility scope, for several report
days; the aggregates kept as things were written equal the ones a rebuild computes; a
database upgraded with people already in it answers live until the rebuild."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, delete, select

from cowin_kit.config.runtime import active_pack
from cowin_kit.core import durations, migrate
from cowin_kit.core.db import get_database
from cowin_kit.corrections import merges
from cowin_kit.geography.models import Facility, Location
from cowin_kit.identity import services as identity
from cowin_kit.identity.models import StaffUser
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration import people as people_service
from cowin_kit.registration import services as registration
from cowin_kit.registration import tally
from cowin_kit.registration.models import Beneficiary, CitizenAccount, Dose
from cowin_kit.reporting import aggregated, services, summary
from cowin_kit.scheduling import sessions as scheduling
from cowin_kit.testing import IST, record_first_dose, valid_aadhaar
from cowin_kit.vaccination.imports import import_vaccinations

FACILITIES = {"F-TVM-1": "IN-KL-TVM", "F-TVM-2": "IN-KL-TVM", "F-EKM-1": "IN-KL-EKM",
              "F-KKD-1": "IN-KL-KKD", "F-MUM-1": "IN-MH", "F-CHN-1": "IN-TN",
              "F-DL-1": "IN-DL-CD"}
AREAS = ("IN-KL-TVM", "IN-KL-EKM", "IN-KL-KKD", "IN-KL-KLM", "IN-TN", "IN-DL-CD")
ROUTINE = (("dtp", "PENTA"), ("dtp", "DPT"), ("mr", "MR"), ("bcg", "BCG"), ("opv", "BOPV"))


def _adults(session, pack, n: int, rng: random.Random) -> list[int]:
    ids = []
    numbers = valid_aadhaar(n, start=400000000000)
    for index in range(n):
        account = CitizenAccount(mobile=f"+9196{index:08d}")
        session.add(account)
        session.flush()
        view = registration.add_beneficiary(
            session, pack, account, name=f"Adult {index}", birth_year=rng.randint(1940, 2005),
            gender=rng.choice(["F", "M"]), id_type="aadhaar", id_number=numbers[index],
            consent_version="v1")
        ids.append(view.beneficiary.id)
    session.commit()
    return ids


def _children(session, pack, actor, n: int, rng: random.Random) -> list[int]:
    ids = []
    for index in range(n):
        born = date(2023, 1, 1) + timedelta(days=rng.randint(0, 3 * 365))
        view = people_service.register_person(
            session, pack, actor, mobile=f"98770{index:05d}", name=f"Child {index}",
            birth_date=born, gender=rng.choice(["F", "M"]), guardian_name="Amma",
            guardian_relation="mother", location=rng.choice(AREAS), facility="")
        session.commit()
        ids.append(view.beneficiary.id)
    return ids


def _at(day: date, rng: random.Random) -> datetime:
    """A moment of ``day`` in India, at any hour (some fall on another UTC day)."""
    return datetime.combine(day, time(rng.randint(0, 23), rng.randint(0, 59)), IST
                            ).astimezone(timezone.utc)


@pytest.fixture
def world(reg_app):
    """Random people and doses, then corrections of every kind; the report users."""
    rng = random.Random(2031)
    now = datetime.now(timezone.utc)
    app = reg_app
    with app.test_request_context(), get_database(app).session() as session:
        pack = active_pack()
        for code, district in FACILITIES.items():
            scheduling.upsert_facility(session, code=code, name=f"PHC {code}",
                                       location_code=district, fee_type="Free")
        actor = identity.add_staff_user(session, "agg.national", "correct horse battery",
                                        role="national_admin")
        identity.add_staff_user(session, "agg.state", "correct horse battery",
                                role="district_admin", location_code="IN-KL")
        identity.add_staff_user(session, "agg.district", "correct horse battery",
                                role="district_admin", location_code="IN-KL-TVM")
        identity.add_staff_user(session, "agg.facility", "correct horse battery",
                                role="facility_admin", facility_code="F-TVM-1")
        session.commit()
        actor = session.get(StaffUser, actor.id)
        adults = _adults(session, pack, 36, rng)
        adults, fresh = adults[:32], adults[32:]
        children = _children(session, pack, actor, 40, rng)
        facilities = dict(session.execute(select(Facility.code, Facility.id)).all())
        products = dict(session.execute(select(VaccineProduct.code, VaccineProduct.id)).all())
        covid = [products["COVISHIELD"], products["COVAXIN"]]
        born = dict(session.execute(select(Beneficiary.id, Beneficiary.birth_date)
                                    .where(Beneficiary.id.in_(children))).all())

        def place():
            return None if rng.random() < 0.05 else facilities[rng.choice(list(FACILITIES))]

        for person in adults:  # booked doses: first, often a second, sometimes a third
            product = rng.choice(covid)
            first = (now - timedelta(days=rng.randint(0, 150))).astimezone(IST).date()
            numbers = [1] + ([2] if rng.random() < 0.6 else []) + (
                [3] if rng.random() < 0.2 else [])
            for number in numbers:
                day = min(first + timedelta(days=rng.randint(20, 90) * (number - 1)),
                          now.astimezone(IST).date())
                session.add(Dose(beneficiary_id=person, series="", dose_number=number,
                                 product_id=product, lot="L", facility_id=place(),
                                 administered_at=min(_at(day, rng), now)))
        for child in children:  # routine doses by age, and one campaign's
            given = {series: 0 for series, _code in ROUTINE}
            for series, code in ROUTINE:
                for _ in range(rng.choice([0, 1, 2, 3, 3])):
                    day = born[child] + timedelta(days=rng.randint(0, 800))
                    if day > now.astimezone(IST).date() - timedelta(days=1):
                        continue
                    given[series] += 1
                    session.add(Dose(beneficiary_id=child, series=series,
                                     dose_number=given[series], product_id=products[code],
                                     lot="R", facility_id=place(),
                                     administered_at=_at(day, rng)))
            if rng.random() < 0.2:
                session.add(Dose(beneficiary_id=child, series="campaign:MR-2025",
                                 dose_number=1, product_id=products["MR"], lot="C",
                                 facility_id=place(),
                                 administered_at=now - timedelta(days=rng.randint(1, 300))))
        session.commit()

        # corrections through the ORM: deleted, re-dated, moved, other product, other person
        doses = list(session.scalars(select(Dose).order_by(Dose.id)))
        rng.shuffle(doses)
        for dose in doses[:12]:
            session.delete(dose)
        for dose in doses[12:24]:
            dose.administered_at = dose.administered_at - timedelta(days=rng.randint(1, 40))
        for dose in doses[24:32]:
            dose.facility_id = facilities[rng.choice(list(FACILITIES))]
        for dose in doses[32:36]:
            if dose.series == "":
                dose.product_id = covid[0] if dose.product_id == covid[1] else covid[1]
        session.commit()
        taken = {(d.beneficiary_id, d.series, d.dose_number)
                 for d in session.scalars(select(Dose))}
        for dose in doses[36:60]:
            target = rng.choice(children if dose.series else adults)
            if (target, dose.series, dose.dose_number) not in taken:
                taken.discard((dose.beneficiary_id, dose.series, dose.dose_number))
                taken.add((target, dose.series, dose.dose_number))
                dose.beneficiary_id = target
        session.commit()
        for person in session.scalars(select(Beneficiary).where(
                Beneficiary.id.in_(rng.sample(children, 10)))):
            person.birth_date = person.birth_date - timedelta(days=rng.randint(1, 200))
            person.birth_year = person.birth_date.year
            person.location_id = session.scalar(select(Location.id).where(
                Location.code == rng.choice(AREAS)))
        session.commit()
        # a merge of two children (their doses move, numbered anew) through the service
        refs = dict(session.execute(select(Beneficiary.id, Beneficiary.reference_id)
                                    .where(Beneficiary.id.in_(children[:4]))).all())
        merges.merge(session, actor, refs[children[0]], refs[children[1]],
                     reason="same child registered twice")
        # and another undone (its doses put back without the ORM)
        undone = merges.merge(session, actor, refs[children[2]], refs[children[3]],
                              reason="same child registered twice")
        merges.undo_merge(session, actor, undone.id, reason="two different children")
        fresh_refs = list(session.scalars(select(Beneficiary.reference_id)
                                          .where(Beneficiary.id.in_(fresh))))
    # doses written without the ORM: the bulk import, and a booked dose recorded
    day = (datetime.now(IST).date() - timedelta(days=40)).isoformat()
    text = "beneficiary_reference_id,vaccine,dose,date,lot,facility_code,vaccinator\n" + \
        "".join(f"{ref},COVAXIN,1,{day},LOT-9,F-EKM-1,Import\n" for ref in fresh_refs)
    with app.app_context(), get_database(app).session() as session:
        import_vaccinations(session, text.encode(), file_name="doses.csv")
    record_first_dose(app, app.test_client())
    return app


def _cli(app, *args):
    from cowin_kit.cli import main

    settings = app.config["COWIN_KIT"]
    return CliRunner().invoke(main, ["reports", *args], env={
        "COWIN_KIT_DATABASE_URL": settings["DATABASE_URL"], "COWIN_KIT_ENV": "test",
        "COWIN_KIT_INSTANCE_PATH": settings["INSTANCE_PATH"]})


def _users(session) -> dict[str, StaffUser]:
    return {u.username: u for u in session.scalars(select(StaffUser).where(
        StaffUser.username.like("agg.%")))}


def _compare_all(app, expect_aggregates: bool = True) -> int:
    """Every report by both engines for each user, parent and day; how many compared."""
    compared = 0
    rng = random.Random(5)
    with app.test_request_context(), get_database(app).session() as session:
        tz = active_pack().document["timezone"]
        zero_dose_age = active_pack().routine.zero_dose_age
        today = datetime.now(IST).date()
        for name, user in sorted(_users(session).items()):
            scope = services.report_scope(user)
            assert aggregated.answers(session, scope, tz, people=True) == (
                expect_aggregates and name != "agg.facility")
            parents = [None] if name != "agg.national" else [None, "IN-KL", "IN-KL-TVM"]
            for parent in parents:
                assert services.coverage_by_region(session, user, parent_code=parent) == \
                    services.coverage_by_region_live(session, user, parent_code=parent)
                for _ in range(3):
                    moment = datetime.now(timezone.utc) - timedelta(
                        days=rng.randint(0, 60), minutes=rng.randint(0, 1440))
                    assert services.dose2_dropout(session, user, parent_code=parent,
                                                  now=moment) == \
                        services.dose2_dropout_live(session, user, parent_code=parent,
                                                    now=moment)
                for cohort in (2023, 2024, 2025):
                    for on in (date(cohort, 12, 31), date(cohort + 1, 6, 30),
                               date(cohort + 2, 3, 1) + timedelta(days=rng.randint(0, 60)),
                               today):
                        arguments = dict(cohort=cohort, tz_name=tz, parent_code=parent,
                                         zero_dose_age=zero_dose_age, on=on)
                        assert services.immunization_indicators(session, user, **arguments) \
                            == services.immunization_indicators_live(session, user,
                                                                     **arguments)
                        compared += 1
            for days, last in ((30, None), (200, None), (10, today - timedelta(days=50))):
                assert services.doses_per_day(session, user, tz_name=tz, days=days,
                                              last_day=last) == \
                    services.doses_per_day_live(session, user, tz_name=tz, days=days,
                                                last_day=last)
                compared += 1
    return compared


def test_the_aggregates_answer_as_the_live_computation(world):
    app = world
    with app.test_request_context(), get_database(app).session() as session:
        # the figures are not all empty: the comparison compares something
        national = _users(session)["agg.national"]
        report = services.immunization_indicators(
            session, national, cohort=2024, tz_name="Asia/Kolkata", on=date(2026, 12, 1),
            zero_dose_age=durations.parse("12m"))
        assert sum(r.figures.registered for r in report.rows) > 10
        assert sum(r.figures.count("DTP1") for r in report.rows) > 0
        _regions, dropout = services.dose2_dropout(session, national)
        assert sum(r.due for r in dropout) > 5 and sum(r.missing for r in dropout) > 0
        daily = services.doses_per_day(session, national, tz_name="Asia/Kolkata", days=200)
        assert sum(d.total for d in daily) > 30
        # kept as written = computed again from the doses
        assert summary.differences(session) == 0
        counted = +tally.tally_from_doses(session, IST)
        assert tally.stored(session) == counted
        assert tally.stored_days(session) == tally.days_of(counted)
    assert _compare_all(app) > 50


def test_the_rebuild_computes_the_same_and_a_broken_summary_is_found(world):
    app = world
    with app.test_request_context(), get_database(app).session() as session:
        before = summary.stored_counts(session)
        session.execute(delete(summary.report_dropout_total))
        session.commit()
        assert summary.differences(session) > 0
    result = _cli(app, "aggregates")
    assert result.exit_code == 1 and "0 rows differed" in result.output
    assert "count rows differed" in result.output and "aggregates --rebuild" in result.output
    result = _cli(app, "aggregates", "--rebuild")
    assert result.exit_code == 0, result.output
    assert "people summarized; rebuilt" in result.output
    with app.test_request_context(), get_database(app).session() as session:
        after = summary.stored_counts(session)
        assert (after.cohort, after.day, after.total) == (before.cohort, before.day,
                                                          before.total)
    assert _cli(app, "aggregates").exit_code == 0
    _compare_all(app)


def test_an_upgraded_database_answers_live_until_the_rebuild(world, database_url):
    app = world
    engine = create_engine(database_url)
    try:
        migrate.downgrade(engine, "0030")
        migrate.upgrade(engine)
    finally:
        migrate.upgrade(engine)
        engine.dispose()
    with app.test_request_context(), get_database(app).session() as session:
        assert summary.is_stale(session)
    _compare_all(app, expect_aggregates=False)  # the live computation answers
    waiting = _cli(app, "aggregates")
    assert waiting.exit_code == 1 and "waiting for its first rebuild" in waiting.output
    result = _cli(app, "aggregates", "--rebuild")
    assert result.exit_code == 0, result.output
    with app.test_request_context(), get_database(app).session() as session:
        assert not summary.is_stale(session)
    _compare_all(app)


def test_parallel_writers_keep_the_summary_exact_on_postgresql(pg_app):
    """Eight writers at once give the same children and adults doses (one writer a
    person's first dose, another their second or their next routine dose): every
    difference is added once (a person's summary is computed under their row's lock), and
    no two writers deadlock."""
    import threading

    app = pg_app
    rng = random.Random(11)
    with app.test_request_context(), get_database(app).session() as session:
        pack = active_pack()
        scheduling.upsert_facility(session, code="F-TVM-1", name="PHC", fee_type="Free",
                                   location_code="IN-KL-TVM")
        actor = identity.add_staff_user(session, "agg.national", "correct horse battery",
                                        role="national_admin")
        session.commit()
        actor = session.get(StaffUser, actor.id)
        adults = _adults(session, pack, 16, rng)
        children = _children(session, pack, actor, 16, rng)
        facility = session.scalar(select(Facility.id).where(Facility.code == "F-TVM-1"))
        products = dict(session.execute(select(VaccineProduct.code, VaccineProduct.id)).all())
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    at = datetime.now(timezone.utc) - timedelta(days=2)

    def writer(index: int) -> None:
        try:
            with app.test_request_context(), get_database(app).session() as session:
                barrier.wait(timeout=30)
                for person in adults:  # writers 0 and 1 give every adult dose 1 and 2
                    if index < 2:
                        session.add(Dose(beneficiary_id=person, dose_number=index + 1,
                                         product_id=products["COVISHIELD"], lot="L",
                                         facility_id=facility,
                                         administered_at=at - timedelta(days=40 * (1 - index))))
                        session.commit()
                for person in children:  # the others: one routine series each
                    if index >= 2:
                        series, code = ROUTINE[index % len(ROUTINE)]
                        series = f"{series}-{index}"
                        session.add(Dose(beneficiary_id=person, series=series, dose_number=1,
                                         product_id=products[code], lot="R",
                                         facility_id=facility, administered_at=at))
                        session.commit()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors
    with app.test_request_context(), get_database(app).session() as session:
        assert summary.differences(session) == 0
        kept = summary.stored_counts(session)
        assert sum(kept.total.values()) == 16 and kept.total  # every adult: dose 1, with 2
        assert all(dose2 for (_l, _p, dose2) in kept.total)
        assert sum(c["any_dose"] for c in kept.cohort.values()) == 16


def test_the_summary_follows_commits_not_rolled_back_writes(world):
    """People written in a transaction are summarized when it commits (once, however
    often it flushed); a rolled-back write leaves the counts as they were."""
    app = world

    def counts(session):
        stored = summary.stored_counts(session)
        return stored.cohort, stored.day, stored.total

    with app.test_request_context(), get_database(app).session() as session:
        before = counts(session)
        children = session.scalars(select(Beneficiary).where(Beneficiary.birth_date.is_not(None))
                                   .order_by(Beneficiary.id).limit(2)).all()
        first, second = children
        first.birth_date -= timedelta(days=400)
        session.flush()
        first.birth_date -= timedelta(days=1)
        session.flush()
        session.rollback()
        assert counts(session) == before and summary.differences(session) == 0
        second.birth_date += timedelta(days=30)
        session.flush()
        second.birth_date += timedelta(days=1)
        session.commit()
        assert counts(session) != before
        assert summary.differences(session) == 0
    _compare_all(app)
