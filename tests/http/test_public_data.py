"""The public dashboard and open data: figures from the dose tally equal an independent
count of the dose table on random data (written through every path that writes doses),
small counts are suppressed, the CSV has the documented columns, answers are cached with
ETags, and the migration fills the tally from the doses already there."""

from __future__ import annotations

import csv
import io
import random
import re
import zoneinfo
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, func, select

from cowin_kit.config.runtime import active_pack
from cowin_kit.core import migrate
from cowin_kit.core.db import get_database
from cowin_kit.geography.models import Facility, Location
from cowin_kit.identity.models import Gender
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration import services as registration
from cowin_kit.registration import tally
from cowin_kit.registration.models import Beneficiary, CitizenAccount, Dose
from cowin_kit.reporting import public_rules
from cowin_kit.scheduling import sessions as scheduling
from cowin_kit.testing import valid_aadhaar
from cowin_kit.vaccination.imports import import_vaccinations

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "open-data.md"
# facility -> district; Kerala has three districts' worth, Delhi one small facility
FACILITIES = {"F-TVM-1": "IN-KL-TVM", "F-TVM-2": "IN-KL-TVM", "F-EKM-1": "IN-KL-EKM",
              "F-KKD-1": "IN-KL-KKD", "F-MUM-1": "IN-MH", "F-CHN-1": "IN-TN",
              "F-DL-1": "IN-DL-CD"}


def _people(session, pack, n: int, rng: random.Random) -> list[int]:
    ids = []
    numbers = valid_aadhaar(n, start=300000000000)
    for index in range(n):
        account = CitizenAccount(mobile=f"+9197{index:08d}")
        session.add(account)
        session.flush()
        view = registration.add_beneficiary(
            session, pack, account, name=f"Person {index}", birth_year=rng.randint(1940, 2005),
            gender=rng.choice(["F", "M", "F", "M", "T"]), id_type="aadhaar", id_number=numbers[index],
            consent_version="v1")
        ids.append(view.beneficiary.id)
    session.commit()
    return ids


@pytest.fixture
def random_doses(reg_app):
    """40 people, 7 facilities, 300 doses over 60 days through the ORM; then some doses
    deleted, moved and re-dated, some people's sex and birth year corrected, and doses
    imported from a CSV file (written without the ORM)."""
    rng = random.Random(25)
    now = datetime.now(timezone.utc)
    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        pack = active_pack()
        for code, district in FACILITIES.items():
            scheduling.upsert_facility(session, code=code, name=f"PHC {code}",
                                       location_code=district, fee_type="Free")
        session.commit()
        people = _people(session, pack, 43, rng)
        people, fresh = people[:40], people[40:]
        facilities = {c: i for c, i in session.execute(select(Facility.code, Facility.id))}
        products = {c: i for c, i in session.execute(select(VaccineProduct.code,
                                                            VaccineProduct.id))}
        covid = [products["COVISHIELD"], products["COVAXIN"]]
        routine = [(code, products[code]) for code in ("PENTA", "MR", "BCG")]
        used: set = set()
        i = 0
        while i < 300:
            facility = None if i % 50 == 0 else facilities[
                "F-DL-1" if i % 100 == 7 else rng.choice(
                    [c for c in FACILITIES if c != "F-DL-1"])]
            if rng.random() < 0.7:
                product, series, number = rng.choice(covid), "", rng.choice([1, 1, 2, 3])
            else:
                code, product = rng.choice(routine)
                series, number = f"S-{code}", rng.randint(1, 3)
            person = rng.choice(people)
            if (person, series, number) in used:
                continue
            used.add((person, series, number))
            i += 1
            session.add(Dose(beneficiary_id=person, series=series,
                             dose_number=number, product_id=product, lot="LOT-1",
                             facility_id=facility,
                             administered_at=now - timedelta(days=rng.randint(0, 60),
                                                             minutes=rng.randint(0, 1400))))
        session.commit()
        doses = list(session.scalars(select(Dose).order_by(Dose.id)))
        for dose in doses[:5]:
            session.delete(dose)
        for dose in doses[5:10]:
            dose.facility_id = facilities["F-MUM-1"]
            dose.administered_at = now - timedelta(days=1)
        session.commit()
        for person in session.scalars(select(Beneficiary).where(
                Beneficiary.id.in_(people[:3]))):
            person.gender_id = session.scalar(select(Gender.id).where(Gender.code == "T"))
            person.birth_year = 1999
        session.commit()
        refs = list(session.scalars(select(Beneficiary.reference_id).where(
            Beneficiary.id.in_(fresh))))
    day = (datetime.now(IST).date() - timedelta(days=3)).isoformat()
    text = "beneficiary_reference_id,vaccine,dose,date,lot,facility_code,vaccinator\n" + \
        "".join(f"{ref},COVAXIN,1,{day},LOT-9,F-EKM-1,Import\n" for ref in refs)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        import_vaccinations(session, text.encode(), file_name="doses.csv")
    return reg_app


def _independent(app) -> dict:
    """Counts straight from the dose table: by state, by day, today, by product."""
    with app.app_context(), get_database(app).session() as session:
        parents = {i: (p, c, lvl) for i, p, c, lvl in session.execute(
            select(Location.id, Location.parent_id, Location.code, Location.level))}
        rows = session.execute(select(Dose.administered_at, Facility.location_id,
                                      VaccineProduct.code, Dose.series, Dose.dose_number)
                               .join(VaccineProduct, VaccineProduct.id == Dose.product_id)
                               .outerjoin(Facility, Facility.id == Dose.facility_id)).all()
    today = datetime.now(IST).date()
    by_state, by_product, by_day_state = Counter(), Counter(), Counter()
    total = first = today_count = 0
    for at, location_id, product, series, number in rows:
        at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        day = at.astimezone(IST).date()
        total += 1
        first += (series == "" and number == 1)
        today_count += day == today
        by_product[product] += 1
        if location_id is not None:
            state = location_id
            while parents[state][2] > 1:
                state = parents[state][0]
            by_state[parents[state][1]] += 1
            by_day_state[(day.isoformat(), parents[state][1])] += 1
    return {"total": total, "first": first, "today": today_count, "by_state": by_state,
            "by_product": by_product, "by_day_state": by_day_state}


def _shown(n: int) -> int | str:
    return public_rules.shown(n, 5)


def test_the_tally_follows_every_write_and_the_figures_equal_the_dose_table(random_doses):
    app = random_doses
    with app.app_context(), get_database(app).session() as session:
        computed = +tally.tally_from_doses(session, IST)
        assert tally.stored(session) == computed
        assert tally.stored_totals(session) == tally.totals_of(computed)
    expected = _independent(app)
    client = app.test_client()
    summary = client.get("/api/v1/open-data/summary").get_json()
    assert summary["doses"] == _shown(expected["total"]) == 298
    assert summary["people_first_dose"] == _shown(expected["first"])
    assert summary["doses_today"] == _shown(expected["today"])
    states = {a["code"]: a["total"] for a in summary["areas"]}
    assert {c: n for c, n in states.items() if n} == {
        c: _shown(n) for c, n in expected["by_state"].items()}
    assert states["IN-DL"] == "<5"                       # the small facility is hidden
    assert summary["by_product"] == {p: _shown(n) for p, n in
                                     sorted(expected["by_product"].items())}

    # open data: per day and state, over the last 31 days (the most one answer holds)
    start = (datetime.now(IST).date() - timedelta(days=30)).isoformat()
    answer = client.get(f"/api/v1/open-data/doses.csv?from={start}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    numeric = Counter()
    for row in rows:
        if row["doses"].isdigit():
            numeric[(row["date"], row["area_code"])] += int(row["doses"])
        else:
            assert row["doses"] == "<5"
    # every published cell adds up to no more than the true count of its day and state,
    # and where no cell of a day and state was suppressed, exactly to it
    suppressed = {(r["date"], r["area_code"]) for r in rows if not r["doses"].isdigit()}
    for key, count in expected["by_day_state"].items():
        if key[0] < start:
            continue
        if key not in suppressed:
            assert numeric[key] == count, key
        else:
            assert numeric[key] < count


def test_a_dose_recorded_by_a_vaccinator_is_counted(reg_app):
    """record_dose writes its dose without the ORM (one statement with its outbox row and
    audit event): it counts the dose in the tally itself."""
    from cowin_kit.audit.services import acting_as, cli_actor
    from cowin_kit.identity import services as identity
    from cowin_kit.vaccination import services as vaccination

    with reg_app.test_request_context(), get_database(reg_app).session() as session:
        pack = active_pack()
        facility = scheduling.upsert_facility(session, code="F-TVM-9", name="PHC 9",
                                              location_code="IN-KL-TVM", fee_type="Free")
        user = identity.create_staff_user(session, "vax.tally", "correct horse battery")
        session.commit()
        identity.grant_role(session, user, "vaccinator", facility_code="F-TVM-9")
        session.commit()
        person = _people(session, pack, 1, random.Random(3))[0]
        reference = session.get(Beneficiary, person).reference_id
        with acting_as(cli_actor()):
            vaccination.record_dose(session, pack, user, facility=facility,
                                    reference_id=reference, product_code="COVISHIELD",
                                    lot="4121Z005")
        counted = +tally.tally_from_doses(session, IST)
        assert sum(counted.values()) == 1
        assert tally.stored(session) == counted
        assert tally.stored_totals(session) == tally.totals_of(counted)


def test_an_area_page_and_its_drill_down(random_doses):
    client = random_doses.test_client()
    kerala = client.get("/api/v1/open-data/summary?area=IN-KL").get_json()
    districts = {a["code"]: a["total"] for a in kerala["areas"]}
    assert set(districts) >= {"IN-KL-TVM", "IN-KL-EKM", "IN-KL-KKD"}
    assert kerala["doses"] == sum(n for n in districts.values() if isinstance(n, int)) or \
        any(isinstance(n, str) for n in districts.values())
    page = client.get("/statistics/IN-KL", headers={"Accept-Language": "hi"})
    assert page.status_code == 200 and 'lang="hi"' in page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert "/statistics/IN-KL-TVM" in html and "<svg" in html
    # the lowest level has no page below it
    district = client.get("/api/v1/open-data/summary?area=IN-KL-TVM").get_json()
    assert district["areas"] == []
    missing = client.get("/api/v1/open-data/summary?area=IN-XX")
    assert missing.status_code == 404 and missing.get_json()["code"] == "area_not_found"


def test_bad_queries_are_refused_plainly(reg_app):
    client = reg_app.test_client()
    for query, code in (("from=2026-13-01", "invalid_date"),
                        ("from=2026-02-01&to=2026-01-01", "invalid_range"),
                        ("from=2020-01-01&to=2022-01-01", "range_too_long"),
                        ("level=9", "invalid_level"), ("colour=red", None)):
        answer = client.get(f"/api/v1/open-data/doses.json?{query}")
        assert answer.status_code in (400, 422), query
        assert answer.mimetype == "application/problem+json"
        if code:
            assert answer.get_json()["code"] == code


def test_answers_are_cached_with_etags(reg_app):
    client = reg_app.test_client()
    first = client.get("/api/v1/open-data/doses.csv")
    assert first.headers["Cache-Control"] == "public, max-age=60"
    again = client.get("/api/v1/open-data/doses.csv",
                       headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_the_csv_has_the_documented_columns(reg_app):
    text = DOCS.read_text(encoding="utf-8")
    table = text[text.index("have these columns:"):text.index("Rows with no doses")]
    documented = re.findall(r"^\| `([a-z_]+)` \|", table, re.M)
    header = reg_app.test_client().get("/api/v1/open-data/doses.csv").get_data(
        as_text=True).splitlines()[0]
    assert header.split(",") == list(public_rules.OPEN_DATA_COLUMNS) == documented


@pytest.mark.parametrize("count, shown", [(0, 0), (1, "<5"), (4, "<5"), (5, 5), (90, 90)])
def test_suppression_rule(count, shown):
    assert public_rules.shown(count, 5) == shown


def test_the_migration_fills_the_tally_from_the_doses_there(random_doses, database_url):
    app = random_doses
    engine = create_engine(database_url)
    try:
        with app.app_context(), get_database(app).session() as session:
            expected = +tally.tally_from_doses(session, IST)
            session.execute(delete(tally.DoseTally))
            session.execute(delete(tally.DoseTotal))
            session.commit()
        migrate.downgrade(engine, "0025")
        migrate.upgrade(engine)
        with app.app_context(), get_database(app).session() as session:
            assert tally.stored(session) == expected
            assert tally.stored_totals(session) == tally.totals_of(expected)
    finally:
        migrate.upgrade(engine)
        engine.dispose()


def test_the_cli_checks_and_rebuilds_the_tally(random_doses):
    from click.testing import CliRunner

    from cowin_kit.cli import main

    app = random_doses
    runner = CliRunner()
    settings = app.config["COWIN_KIT"]
    env = {"COWIN_KIT_DATABASE_URL": settings["DATABASE_URL"], "COWIN_KIT_ENV": "test",
           "COWIN_KIT_INSTANCE_PATH": settings["INSTANCE_PATH"]}
    kept = runner.invoke(main, ["reports", "tally"], env=env)
    assert kept.exit_code == 0, kept.output
    assert "298 doses" in kept.output and "0 rows differed" in kept.output
    with app.app_context(), get_database(app).session() as session:
        row = session.scalars(select(tally.DoseTally).where(tally.DoseTally.count > 0)).first()
        row.count += 7
        session.commit()
    differs = runner.invoke(main, ["reports", "tally"], env=env)
    assert differs.exit_code == 1 and "1 rows differed" in differs.output
    rebuilt = runner.invoke(main, ["reports", "tally", "--rebuild"], env=env)
    assert rebuilt.exit_code == 0 and "rebuilt" in rebuilt.output
    assert runner.invoke(main, ["reports", "tally"], env=env).exit_code == 0


def test_parallel_doses_counted_exactly_on_postgresql(pg_app):
    """Eight writers at once, every dose landing in the same few tally rows: each commit
    adds its own counts (the upsert waits for the row, never loses an increment), and no
    two writers deadlock (rows are touched in key order)."""
    import threading

    app = pg_app
    rng = random.Random(7)
    with app.test_request_context(), get_database(app).session() as session:
        scheduling.upsert_facility(session, code="F-TVM-1", name="PHC", fee_type="Free",
                                   location_code="IN-KL-TVM")
        session.commit()
        people = _people(session, active_pack(), 48, rng)
        facility = session.scalar(select(Facility.id).where(Facility.code == "F-TVM-1"))
        products = list(session.scalars(select(VaccineProduct.id).where(
            VaccineProduct.code.in_(["COVISHIELD", "COVAXIN"]))))
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    at = datetime.now(timezone.utc) - timedelta(hours=1)

    def writer(chunk: list[int]) -> None:
        try:
            with app.app_context(), get_database(app).session() as session:
                barrier.wait(timeout=30)
                for person in chunk:
                    for number, product in enumerate(products, start=1):
                        session.add(Dose(beneficiary_id=person, dose_number=number,
                                         product_id=product, lot="L", facility_id=facility,
                                         administered_at=at))
                    session.commit()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(people[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with app.app_context(), get_database(app).session() as session:
        stored = tally.stored(session)
        assert stored == +tally.tally_from_doses(session, IST)
        assert tally.stored_totals(session) == tally.totals_of(stored)
        assert sum(stored.values()) == 96


def test_routine_indicators_with_coverage_where_the_pack_counts_the_children(random_doses):
    """DTP1/DTP3/MCV1/MCV2 of the last 12 months (PENTA carries DTP, MR carries MCV) equal
    a count of the dose table, and coverage is that over the area's infants."""
    from cowin_kit.geography.models import PopulationFigure

    app = random_doses
    with app.app_context(), get_database(app).session() as session:
        kerala = session.scalar(select(Location.id).where(Location.code == "IN-KL"))
        districts = list(session.scalars(select(Location.id).where(
            Location.parent_id == kerala)))
        year = session.scalar(select(func.max(PopulationFigure.year)))
        for number, place in enumerate(districts[:2]):  # India's figures are by sex
            for sex in ("M", "F"):
                session.add(PopulationFigure(location_id=place, year=year, age_band="0-0",
                                             sex=sex, count=75 + number * 25))
        session.commit()
        ids = {kerala, *districts}
        since = datetime.now(IST).date() - timedelta(days=364)
        expected = Counter()
        for number, code, location, at in session.execute(
                select(Dose.dose_number, VaccineProduct.code, Facility.location_id,
                       Dose.administered_at)
                .join(VaccineProduct, VaccineProduct.id == Dose.product_id)
                .join(Facility, Facility.id == Dose.facility_id)
                .where(Dose.series != "")):
            at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
            if location in ids and at.astimezone(IST).date() >= since:
                expected[{("PENTA", 1): "DTP1", ("PENTA", 3): "DTP3", ("MR", 1): "MCV1",
                          ("MR", 2): "MCV2"}.get((code, number))] += 1
    answer = app.test_client().get("/api/v1/open-data/summary?area=IN-KL").get_json()
    rows = {r["code"]: r for r in answer["routine_indicators"]}
    for code in ("DTP1", "DTP3", "MCV1"):
        n = expected[code]
        assert rows[code]["doses"] == _shown(n), code
        assert rows[code]["population"] == 350
        assert rows[code]["coverage_percent"] == (None if 0 < n < 5 else round(100 * n / 350, 1))
    assert rows["MCV2"]["population"] is None and rows["MCV2"]["coverage_percent"] is None
    dtp1, dtp3 = expected["DTP1"], expected["DTP3"]
    assert rows["DTP1-DTP3"]["dropout_percent"] == (
        round(100 * (dtp1 - dtp3) / dtp1, 1) if dtp1 >= 5 and dtp3 >= 5 else None)
