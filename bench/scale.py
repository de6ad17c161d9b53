"""Availability at national scale: findByDistrict's server time with 100,000 facilities and
1,000,000 sessions in PostgreSQL, cache off, and the query plans it runs. Method and
figures: docs/performance.md.

    .venv/bin/python bench/scale.py [--facilities 100000] [--sessions 1000000]
        [--districts 750] [--samples 300] [--json out.json] [--plans plans.txt]

Loading (bounded by --load-timeout, set-based SQL on the server, not through the app):
the India pack has 50 districts; --districts tops that up with synthetic districts under
the pack's states (India has about 750), so a district holds about facilities/districts
centres as in CoWIN rather than 2,000. Then, each as one INSERT ... SELECT generate_series:
the facilities (round-robin over the districts), the sessions (facility x day over
sessions/facilities days from tomorrow, inserted day by day as they would be published),
two dose capacities and three slots per session; VACUUM ANALYZE. No audit events are
written (the CSV import path, timed in bench/imports.py, writes one per session).

Measuring (in this process, Flask test client on that database, AVAILABILITY_CACHE_SECONDS=0,
search limits out of the way, and after start-up `gc.freeze()` as cowin_kit/wsgi.py does
in a gunicorn worker): --samples requests
GET /api/v2/appointment/sessions/public/findByDistrict for random (seeded) districts and
days; each request timed around the whole WSGI call (so the figure includes Flask, the
rate-limit check and JSON encoding, i.e. it is an upper bound of the view's time); the same
list twice (pass 1 with the buffer cache as the load left it, pass 2 warm). The statements
of one request are then replayed with EXPLAIN (ANALYZE, BUFFERS).

Next to the wall-clock percentiles, per request: the CPU time of this process around the
same WSGI call (cpu_p50_ms, cpu_p99_ms, cpu_mean_ms: time.process_time, i.e. Flask, the
view, the driver and JSON encoding, not the database), and the CPU of the PostgreSQL
backends serving the app's pool over the pass divided by the requests (db_cpu_mean_ms,
from /proc: the server must run on this machine). Unlike wall-clock times, these change
less when other work shares the machine; others_busy_pct is the share of the machine's CPU
that other processes used during the pass.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    run_bounded,
    DEFAULT_SERVER_URL, BenchInstance, InProcessApp, log, machine_cpu, percentile, process_cpu,
    wait_for_quiet_machine,
)



def load(instance: BenchInstance, facilities: int, sessions: int, districts: int,
         timeout_s: float) -> dict:
    from sqlalchemy import create_engine, text

    days = -(-sessions // facilities)
    first = datetime.now(zoneinfo.ZoneInfo("Asia/Kolkata")).date() + timedelta(days=1)
    engine = create_engine(instance.database_url, isolation_level="AUTOCOMMIT")
    timings: dict[str, float] = {}
    steps = [
        ("districts", """
            INSERT INTO location (code, parent_id, level, name, names)
            SELECT 'IN-X-' || i, s.ids[1 + i % array_length(s.ids, 1)], 2,
                   'Synthetic District ' || i, '{}'::jsonb
            FROM (SELECT array_agg(id ORDER BY id) AS ids FROM location WHERE level = 1) s,
                 generate_series(1, GREATEST(0, :districts
                     - (SELECT count(*) FROM location WHERE level = 2))) AS i"""),
        ("facilities", """
            INSERT INTO facility (code, name, names, location_id, address, postal_code,
                                  latitude, longitude, facility_type, fee_type, opens_at,
                                  closes_at, created_at)
            SELECT 'SF' || lpad(i::text, 7, '0'), 'Centre ' || i, '{}'::jsonb,
                   d.ids[1 + i % array_length(d.ids, 1)], i || ' Hospital Road',
                   (110001 + i % 8000)::text, 8 + (i % 2800) / 100.0, 68 + (i % 2900) / 100.0,
                   'public', CASE WHEN i % 10 = 0 THEN 'Paid' ELSE 'Free' END,
                   '09:00', '17:00', now()
            FROM (SELECT array_agg(id ORDER BY id) AS ids FROM location WHERE level = 2) d,
                 generate_series(0, :facilities - 1) AS i"""),
        ("sessions", """
            INSERT INTO vaccination_session (id, facility_id, session_date, product_id,
                                             min_age, max_age, fee, status, created_at)
            SELECT gen_random_uuid()::text, f.id, CAST(:first AS date) + day,
                   p.ids[1 + f.id % array_length(p.ids, 1)],
                   CASE WHEN f.id % 4 = 0 THEN 45 ELSE 18 END, NULL,
                   CASE WHEN f.fee_type = 'Paid' THEN 250 ELSE 0 END, 'published', now()
            FROM generate_series(0, :days - 1) AS day
            CROSS JOIN facility f
            CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM vaccine_product) p
            WHERE f.code LIKE 'SF%'
            ORDER BY day, f.id
            LIMIT :sessions"""),
        ("dose capacities", """
            INSERT INTO session_dose_capacity (session_id, dose_number, capacity, booked)
            SELECT id, dose, CASE dose WHEN 1 THEN 100 ELSE 50 END, (hashtext(id) & 31)
            FROM vaccination_session CROSS JOIN (VALUES (1), (2)) AS d(dose)"""),
        ("slots", """
            INSERT INTO session_slot (session_id, starts_at, ends_at, capacity, booked)
            SELECT id, t.s, t.e, 50, 0 FROM vaccination_session
            CROSS JOIN (VALUES (TIME '09:00', TIME '11:00'), (TIME '11:00', TIME '13:00'),
                               (TIME '14:00', TIME '16:00')) AS t(s, e)"""),
        ("vacuum analyze", "VACUUM ANALYZE"),
    ]
    params = {"districts": districts, "facilities": facilities, "sessions": sessions,
              "days": days, "first": first.isoformat()}
    try:
        with engine.connect() as connection:
            connection.execute(text(f"SET statement_timeout = '{int(timeout_s)}s'"))
            started = time.monotonic()
            for name, sql in steps:
                step = time.monotonic()
                connection.execute(text(sql), params)
                timings[name] = round(time.monotonic() - step, 1)
                log(f"load {name}: {timings[name]} s")
                if time.monotonic() - started > timeout_s:
                    raise RuntimeError(f"loading took more than {timeout_s:.0f} s")
            counts = dict(connection.execute(text(
                "SELECT 'facilities', count(*) FROM facility UNION ALL "
                "SELECT 'sessions', count(*) FROM vaccination_session UNION ALL "
                "SELECT 'dose capacities', count(*) FROM session_dose_capacity UNION ALL "
                "SELECT 'slots', count(*) FROM session_slot UNION ALL "
                "SELECT 'districts', count(*) FROM location WHERE level = 2")).all())
            size = connection.scalar(text(
                "SELECT pg_size_pretty(pg_database_size(current_database()))"))
    finally:
        engine.dispose()
    return {"seconds": timings, "rows": counts, "database_size": size, "days": days,
            "first_day": first.isoformat()}


def measure(instance: BenchInstance, samples: int, days: int, first: str, seed: int) -> dict:
    from sqlalchemy import event, text

    from cowin_kit.core.db import get_database, get_session

    with InProcessApp(instance, push_context=False, like_wsgi=True,
                      AVAILABILITY_CACHE_SECONDS=0,
                      SEARCH_LIMITS_PER_IP="100000000/minute") as app:
        with app.app_context():
            districts = list(get_session().scalars(text(
                "SELECT id FROM location WHERE level = 2 ORDER BY id")))
        start = datetime.fromisoformat(first).date()
        rng = random.Random(seed)
        picks = [(rng.choice(districts), start + timedelta(days=rng.randrange(days)))
                 for _ in range(samples)]
        urls = [f"/api/v2/appointment/sessions/public/findByDistrict?district_id={d}"
                f"&date={day:%d-%m-%Y}" for d, day in picks]
        client = app.test_client()
        statements: list[tuple[str, object]] = []
        recording = [False]
        engine = get_database(app).engine

        @event.listens_for(engine, "before_cursor_execute")
        def _record(_conn, _cursor, statement, parameters, _context, _many):
            if recording[0]:
                statements.append((statement, parameters))

        busy = wait_for_quiet_machine()
        passes = []
        for attempt in (1, 2):
            times, cpus, sizes, counts = [], [], [], []
            db_cpu0 = {pid: process_cpu(pid) for pid in instance.backend_pids()}
            machine0 = machine_cpu()
            for url in urls:
                statements.clear()
                recording[0] = True
                c0 = time.process_time()
                t0 = time.perf_counter()
                answer = client.get(url)
                elapsed = time.perf_counter() - t0
                cpu = time.process_time() - c0
                recording[0] = False
                if answer.status_code != 200:
                    raise RuntimeError(f"{url}: {answer.status_code} {answer.data[:300]!r}")
                times.append(1000 * elapsed)
                cpus.append(1000 * cpu)
                sizes.append(len(answer.get_json()["sessions"]))
                counts.append(len(statements))
            # backends the pool opened during the pass count from 0
            db_cpu = sum(process_cpu(pid) - db_cpu0.get(pid, 0.0)
                         for pid in instance.backend_pids())
            machine1 = machine_cpu()
            # CPU the rest of the machine used meanwhile (not this process, not the pool's
            # backends), as a share of the whole machine: other work sharing the cores
            others = ((machine1[0] - machine0[0]) - sum(cpus) / 1000 - db_cpu) \
                / max(machine1[1] - machine0[1], 1e-9)
            ordered = sorted(times)
            ordered_cpu = sorted(cpus)
            passes.append({"pass": attempt, "requests": len(times),
                           "p50_ms": round(percentile(ordered, 0.50), 2),
                           "p90_ms": round(percentile(ordered, 0.90), 2),
                           "p99_ms": round(percentile(ordered, 0.99), 2),
                           "max_ms": round(ordered[-1], 2),
                           "mean_ms": round(statistics.mean(times), 2),
                           "cpu_p50_ms": round(percentile(ordered_cpu, 0.50), 2),
                           "cpu_p99_ms": round(percentile(ordered_cpu, 0.99), 2),
                           "cpu_mean_ms": round(statistics.mean(cpus), 2),
                           "db_cpu_mean_ms": round(1000 * db_cpu / len(times), 2),
                           "others_busy_pct": round(100 * max(0.0, others), 1),
                           "sessions_per_answer_median": statistics.median(sizes),
                           "sessions_per_answer_max": max(sizes),
                           "statements_per_request": statistics.median(counts)})
            log(f"pass {attempt}: {passes[-1]}")
        # the statements of one typical request (median answer size), then EXPLAIN them
        median_size = statistics.median(sizes)
        url = urls[min(range(len(sizes)), key=lambda i: abs(sizes[i] - median_size))]
        statements.clear()
        recording[0] = True
        client.get(url)
        recording[0] = False
        plans = []
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            for statement, parameters in statements:
                if (not statement.lstrip().upper().startswith("SELECT")
                        or statement.strip() == "SELECT 1"):
                    continue
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                plans.append({"statement": statement,
                              "plan": "\n".join(row[0] for row in cursor.fetchall())})
            raw.rollback()
        finally:
            raw.close()
    return {"machine_busy_before": busy, "passes": passes, "explained_url": url,
            "plans": plans}


def run(args: argparse.Namespace) -> dict:
    results: dict = {"benchmark": "scale", "facilities": args.facilities,
                     "sessions": args.sessions, "districts": args.districts}
    with BenchInstance(args.server_url, {"DATABASE_POOL_SIZE": 2}) as instance:
        log(f"database {instance.name}: loading")
        results["load"] = load(instance, args.facilities, args.sessions, args.districts,
                               args.load_timeout)
        results["find_by_district"] = measure(instance, args.samples, results["load"]["days"],
                                              results["load"]["first_day"], args.seed)
    if args.plans:
        with open(args.plans, "w") as out:
            for item in results["find_by_district"]["plans"]:
                out.write(item["statement"] + "\n\n" + item["plan"] + "\n\n" + "-" * 72 + "\n")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--facilities", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--districts", type=int, default=750,
                        help="districts in all (the pack's 50 topped up with synthetic ones)")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--server-url", default=os.environ.get("COWIN_KIT_BENCH_DATABASE_URL",
                                                               DEFAULT_SERVER_URL))
    parser.add_argument("--load-timeout", type=float, default=900)
    parser.add_argument("--total-timeout", type=float, default=1500)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--plans", help="also write the EXPLAIN (ANALYZE, BUFFERS) plans here")
    args = parser.parse_args()

    return run_bounded(run, args)


if __name__ == "__main__":
    sys.exit(main())
