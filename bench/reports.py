"""The administrators' reports at national size (issue 23): how long each report takes to
answer from the aggregates (the dose tally and the person summary), against the live
computation from the dose table, at national, state and district scope. Method and
figures: docs/performance.md, "Reports at national size".

    .venv/bin/python bench/reports.py [--doses 20000000] [--facilities 20000]
        [--repeat 30] [--live-repeat 1] [--json out.json]

Set-up, in a fresh PostgreSQL database with the India pack (dropped at the end), each step
one INSERT ... SELECT generate_series: --facilities facilities spread over the pack's
places; adults with booked COVID-19 doses (a first dose on a day of the last year at a
facility, a second for about 70 % of them 4 to 12 weeks later, a third for about 15 %),
three fifths of the doses; children born over the last four years in the pack's places
with the routine doses of the India schedule by their ages (BCG, hepatitis B, OPV, penta,
rotavirus, PCV, MR; some missed), two fifths. Then the aggregates are built by the
commands an operator runs (`cowin-kit reports aggregates --rebuild`: the dose tally and the
person summary), timed.

Timed, in the benchmark's process (the app as a gunicorn worker builds it), through the
services the HTTP routes call, with real staff users (national, the largest state's
administrator, a district's): doses per day (30 days), coverage, dose-2 drop-out and the
routine indicators of last year's birth cohort, --repeat times each (p50, p99); then the
live computation (``*_live``) --live-repeat times, and the two answers compared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import zoneinfo
from datetime import date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
# the commands the harness runs (`cowin-kit db upgrade`) import this checkout's code
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])

from _harness import DEFAULT_SERVER_URL, BenchInstance, InProcessApp, log, run_bounded  # noqa: E402

# (series, dose number, product, age in days, share of children given it)
ROUTINE = (("bcg", 1, "BCG", 0, 0.95), ("hepb-birth", 1, "HEPB", 0, 0.8),
           ("opv", 1, "BOPV", 42, 0.93), ("opv", 2, "BOPV", 70, 0.9),
           ("opv", 3, "BOPV", 98, 0.87), ("dtp", 1, "PENTA", 42, 0.93),
           ("dtp", 2, "PENTA", 70, 0.9), ("dtp", 3, "PENTA", 98, 0.87),
           ("rotavirus", 1, "ROTA", 42, 0.85), ("rotavirus", 2, "ROTA", 70, 0.82),
           ("rotavirus", 3, "ROTA", 98, 0.8), ("pcv", 1, "PCV", 42, 0.8),
           ("pcv", 2, "PCV", 98, 0.77), ("mr", 1, "MR", 280, 0.9), ("mr", 2, "MR", 500, 0.8))
ROUTINE_PER_CHILD = 11.5  # about, once the doses not yet due by age are left out
BOOKED_PER_ADULT = 1.85


def _sql(connection, statement: str, **params) -> int:
    from sqlalchemy import text

    started = time.monotonic()
    result = connection.execute(text(statement), params)
    log(f"  {statement.split()[0]} {statement.split()[2]}: {result.rowcount} rows in "
        f"{time.monotonic() - started:.0f} s")
    return result.rowcount


def build(instance: BenchInstance, doses: int, facilities: int) -> dict:
    from sqlalchemy import text

    from cowin_kit.core.db import get_database

    started = time.monotonic()
    adults = int(doses * 0.6 / BOOKED_PER_ADULT)
    children = int(doses * 0.4 / ROUTINE_PER_CHILD)
    with InProcessApp(instance) as app:
        engine = get_database(app).engine
        with engine.begin() as connection:
            ids = dict(connection.execute(text("SELECT code, id FROM vaccine_product")).all())
            places = [row[0] for row in connection.execute(text(
                "SELECT id FROM location WHERE id NOT IN (SELECT parent_id FROM location "
                "WHERE parent_id IS NOT NULL) ORDER BY id"))]
            genders = [row[0] for row in connection.execute(text(
                "SELECT id FROM gender ORDER BY id"))]
            connection.execute(text("SELECT setseed(0.23)"))
            # the rows are made consistent: no foreign-key trigger per row while loading
            connection.execute(text("SET session_replication_role = replica"))
            _sql(connection, "INSERT INTO facility (code, name, names, location_id, address, "
                 "facility_type, fee_type, created_at) SELECT 'B-' || lpad(i::text, 6, '0'), "
                 "'Centre ' || i, '{}', (:places)[1 + i % cardinality(:places)], '', "
                 "'public', 'Free', now() FROM generate_series(0, :n - 1) AS i",
                 places=places, n=facilities)
            first_facility = connection.execute(text(
                "SELECT min(id) FROM facility WHERE code LIKE 'B-%'")).scalar_one()
            account = connection.execute(text(
                "INSERT INTO citizen_account (mobile, locale, created_at) VALUES "
                "('+919999999999', NULL, now()) RETURNING id")).scalar_one()
            common = ("INSERT INTO beneficiary (reference_id, account_id, name, birth_year, "
                      "birth_date, gender_id, comorbidity, consent_version, "
                      "secret_code_encrypted, location_id, registered_by, created_at, "
                      "updated_at, secret_code_failures) ")
            _sql(connection, common + "SELECT 'A' || lpad(i::text, 13, '0'), :account, "
                 "'Adult ' || i, 1940 + i % 65, NULL, (:genders)[1 + i % cardinality("
                 ":genders)], false, 'v1', 'x', NULL, '', now(), now(), 0 "
                 "FROM generate_series(1, :n) AS i", account=account, genders=genders,
                 n=adults)
            today = datetime.now(zoneinfo.ZoneInfo("Asia/Kolkata")).date()
            _sql(connection, common + "SELECT 'C' || lpad(i::text, 13, '0'), :account, "
                 "'Child ' || i, 0, :today - (random() * 1460)::int, "
                 "(:genders)[1 + i % cardinality(:genders)], false, 'v1', 'x', "
                 "(:places)[1 + (random() * 100000)::int % cardinality(:places)], '', "
                 "now(), now(), 0 FROM generate_series(1, :n) AS i",
                 account=account, genders=genders, places=places, today=today, n=children)
            connection.execute(text("UPDATE beneficiary SET birth_year = "
                                    "extract(year FROM birth_date) WHERE birth_date IS NOT NULL"))
            # booked doses: dose n of an adult (n - 1) gaps after the first, never later
            # than now; two products
            _sql(connection, "INSERT INTO dose (beneficiary_id, series, dose_number, "
                 "product_id, administered_at, lot, facility_id, vaccinator, recorded_at, "
                 "source) SELECT b.id, '', n, CASE WHEN b.id % 5 = 0 THEN :covaxin ELSE "
                 ":covishield END, now() - make_interval(days => p.first - (n - 1) * p.gap) "
                 "- make_interval(mins => ((b.id::bigint * 31) % 600)::int), 'LOT-' || (b.id % 97), "
                 "(:f0 + (b.id::bigint * 7919) % :nf)::int, '', now(), 'recorded' "
                 "FROM (SELECT id, (1 + (id::bigint * 104729) % 365)::int AS first, (28 + id % 57)::int AS gap, "
                 "random() AS r FROM beneficiary WHERE birth_date IS NULL) p "
                 "JOIN beneficiary b ON b.id = p.id CROSS JOIN generate_series(1, 3) AS n "
                 "WHERE p.first - (n - 1) * p.gap > 0 AND (n = 1 OR (n = 2 AND p.r < 0.72) "
                 "OR (n = 3 AND p.r < 0.16))",
                 covaxin=ids["COVAXIN"], covishield=ids["COVISHIELD"], f0=first_facility,
                 nf=facilities)
            values = ", ".join(f"('{s}', {n}, {ids[p]}, {age}, {share})"
                               for s, n, p, age, share in ROUTINE)
            _sql(connection, "INSERT INTO dose (beneficiary_id, series, dose_number, "
                 "product_id, administered_at, lot, facility_id, vaccinator, recorded_at, "
                 "source) SELECT c.id, r.series, r.number, r.product, "
                 "((c.birth_date + r.age + (random() * 20)::int)::timestamp "
                 "+ make_interval(hours => (4 + c.id % 8)::int)) AT TIME ZONE 'UTC', "
                 "'R-' || (c.id % 89), (:f0 + (c.id::bigint * 7919) % :nf)::int, '', now(), 'recorded' "
                 f"FROM beneficiary c CROSS JOIN (VALUES {values}) AS r(series, number, "
                 "product, age, share) WHERE c.birth_date IS NOT NULL "
                 "AND c.birth_date + r.age + 20 < :today AND random() < r.share "
                 "AND (r.number = 1 OR random() < 0.97)",
                 f0=first_facility, nf=facilities, today=today)
            # a routine series missing an earlier dose would be renumbered by the rules'
            # own counting; the reports count whatever is stored, so gaps are kept
            connection.execute(text("SET session_replication_role = DEFAULT"))
            connection.execute(text("ANALYZE"))
            counted = connection.execute(text(
                "SELECT count(*), count(*) FILTER (WHERE series = ''), "
                "pg_size_pretty(pg_total_relation_size('dose')) FROM dose")).one()
    loaded = time.monotonic() - started
    log(f"loaded {counted[0]} doses ({counted[1]} booked) in {loaded:.0f} s; dose table "
        f"and indexes {counted[2]}")
    aggregates = rebuild(instance)
    with InProcessApp(instance) as app:
        with get_database(app).engine.connect() as connection:
            aggregates["aggregate_rows"] = {table: connection.execute(text(
                f"SELECT count(*) FROM {table}")).scalar_one() for table in (
                    "dose_tally", "dose_total", "report_person", "report_cohort",
                    "report_dropout_day", "report_dropout_total")}
    log(f"aggregate rows: {aggregates['aggregate_rows']}")
    return {"doses": counted[0], "booked": counted[1], "routine": counted[0] - counted[1],
            "adults": adults, "children": children, "facilities": facilities,
            "places": len(places), "dose_table_size": counted[2],
            "load_seconds": round(loaded), **aggregates}


def rebuild(instance: BenchInstance) -> dict:
    """`cowin-kit reports aggregates --rebuild`, as an operator runs it, timed."""
    import subprocess

    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "cowin_kit.cli", "reports", "aggregates",
                           "--rebuild"], env=instance.env, cwd=REPO, capture_output=True,
                          text=True, timeout=6 * 3600)
    if done.returncode != 0:
        raise RuntimeError(f"reports aggregates --rebuild failed:\n{done.stdout}{done.stderr}")
    seconds = time.monotonic() - started
    log(f"aggregates rebuilt in {seconds:.0f} s: {done.stdout.strip()}")
    return {"aggregates_rebuild_seconds": round(seconds), "rebuild_output": done.stdout.strip()}


def _users(app) -> dict:
    from sqlalchemy import func, select

    from cowin_kit.core.db import get_database
    from cowin_kit.geography.models import Facility, Location
    from cowin_kit.identity import services as identity

    with app.app_context(), get_database(app).session() as session:
        # the district with the most facilities, and its state
        parent = Location.__table__.alias("parent")
        counts = session.execute(
            select(Location.code, parent.c.code, func.count(Facility.id))
            .join(Facility, Facility.location_id == Location.id)
            .join(parent, parent.c.id == Location.parent_id)
            .group_by(Location.code, parent.c.code)
            .order_by(func.count(Facility.id).desc())).all()
        district, state = counts[0][0], counts[0][1]
        for name, role, where in (("bench.national", "national_admin", None),
                                  ("bench.state", "district_admin", state),
                                  ("bench.district", "district_admin", district)):
            identity.add_staff_user(session, name, "correct horse battery", role=role,
                                    location_code=where)
        session.commit()
    return {"national": "bench.national", "state": f"bench.state ({state})",
            "district": f"bench.district ({district})"}


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def measure(instance: BenchInstance, repeat: int, live_repeat: int) -> dict:
    from sqlalchemy import literal, select

    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.identity.models import StaffUser
    from cowin_kit.reporting import services

    out: dict = {}
    with InProcessApp(instance, push_context=False, like_wsgi=True) as app:
        users = _users(app)
        out["scopes"] = users
        with app.test_request_context():
            pack = active_pack()
            tz = pack.document["timezone"]
            zero_dose_age = pack.routine.zero_dose_age
            cohort = datetime.now(zoneinfo.ZoneInfo(tz)).year - 1
            reports = {
                "doses_per_day": lambda s, u, live: (
                    services.doses_per_day_live if live else services.doses_per_day)(
                        s, u, tz_name=tz, days=30),
                "coverage": lambda s, u, live: (
                    services.coverage_by_region_live if live else services.coverage_by_region)(
                        s, u),
                "dropout": lambda s, u, live: (
                    services.dose2_dropout_live if live else services.dose2_dropout)(s, u),
                "immunization": lambda s, u, live: (
                    services.immunization_indicators_live if live
                    else services.immunization_indicators)(
                        s, u, cohort=cohort, tz_name=tz, zero_dose_age=zero_dose_age,
                        on=date(cohort + 2, 1, 1) if cohort + 2 <= date.today().year
                        else date.today()),
            }
            for scope, label in users.items():
                for name, call in reports.items():
                    # a session per call, as a request has
                    times, answer = [], None
                    for _ in range(repeat):
                        with get_database(app).session() as session:
                            user = session.scalars(select(StaffUser).where(
                                StaffUser.username == label.split()[0])).one()
                            started = time.perf_counter()
                            answer = call(session, user, False)
                            times.append((time.perf_counter() - started) * 1000)
                    live_times, same = [], None
                    for _ in range(live_repeat):
                        with get_database(app).session() as session:
                            user = session.scalars(select(StaffUser).where(
                                StaffUser.username == label.split()[0])).one()
                            started = time.perf_counter()
                            live = call(session, user, True)
                            live_times.append((time.perf_counter() - started) * 1000)
                            same = _same(answer, live)
                    row = {"p50_ms": round(statistics.median(times), 1),
                           "p99_ms": round(_percentile(times, 0.99), 1),
                           "max_ms": round(max(times), 1)}
                    if live_times:
                        row.update(live_median_ms=round(statistics.median(live_times), 1),
                                   equal_to_live=same)
                    out[f"{name} @ {scope}"] = row
                    log(f"{name} @ {label}: {row}")
            # the ceiling of the same run: what a report costs before it reads anything (a
            # session, the user read, one round trip), measured the same way
            times = []
            for _ in range(max(repeat, 30)):
                with get_database(app).session() as session:
                    session.scalars(select(StaffUser).where(
                        StaffUser.username == next(iter(users.values())).split()[0])).one()
                    started = time.perf_counter()
                    session.execute(select(literal(1))).scalar()
                    times.append((time.perf_counter() - started) * 1000)
            out["ceiling"] = {"p50_ms": round(statistics.median(times), 2),
                              "p99_ms": round(_percentile(times, 0.99), 2)}
            log(f"ceiling of the same run (a session, the user read, SELECT 1): {out['ceiling']}")
    return out


def _same(mine, live) -> bool:
    """The two engines' answers compared (their Location rows come from different
    sessions: compared by code)."""
    def plain(value):
        if hasattr(value, "code") and hasattr(value, "parent_id"):
            return value.code
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if hasattr(value, "__dataclass_fields__"):
            return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__}
        return value
    return plain(mine) == plain(live)


def run(args: argparse.Namespace) -> dict:
    load = os.getloadavg()
    started = time.monotonic()
    with BenchInstance(args.server_url, {}) as instance:
        log(f"building {args.doses} doses in {instance.name}")
        built = build(instance, args.doses, args.facilities)
        log(f"built: {built}")
        figures = measure(instance, args.repeat, args.live_repeat)
    return {"date": datetime.now().astimezone().isoformat(timespec="minutes"),
            "load_average_before": [round(x, 1) for x in load],
            "load_average_after": [round(x, 1) for x in os.getloadavg()],
            "built": built, "reports": figures,
            "total_seconds": round(time.monotonic() - started)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--doses", type=int, default=20_000_000)
    parser.add_argument("--facilities", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--live-repeat", type=int, default=1,
                        help="live computations per report and scope (0: none)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--server-url", default=DEFAULT_SERVER_URL)
    parser.add_argument("--total-timeout", type=float, default=4 * 3600)
    return run_bounded(run, parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
