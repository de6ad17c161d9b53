"""Due list benchmark: the due list of one district holding CHILDREN children aged 0-5
years with their dose histories, on PostgreSQL with the India pack (its UIP routine
schedules), timed through the service the API, pages and CLI call
(cowin_kit.immunization.duelists.due_list) and through `cowin-kit due-list` as an
operator runs it; and the full refresh of the kept due state the list reads
(`cowin-kit due-list refresh`, the worker's nightly job). See docs/performance.md.

    .venv/bin/python bench/due_list.py [--children 200000] [--runs 3] [--json out.json]

Data (bulk-inserted with COPY): two children per household account, birth dates spread
evenly over five years before the day of the list, all living in Thiruvananthapuram. Each
child was taken to the UIP contact points (birth, 6, 10 and 14 weeks, 9 and 16 months, 5
years) with a falling chance (95% at birth down to 60% at 5 years, and a child missing a
contact misses a later one more often), each visit 0-45 days late, at a session day
(Wednesdays, as India's routine immunization days) and only if it is before the day of
the list; each visit gives the products of that contact. So histories are partial and
realistic in shape: on time, late, dropped out, never started (about 5% zero-dose).

The doses are COPied, bypassing the services (so no per-dose refresh); then the full
refresh computes every child's pending doses (timed: its rate is the nightly job's).

Figures: the full refresh (seconds, people per second, rows); the service's time for the
list read from the table (due and overdue; best and median of --runs), rows and people on
it, and the wall time of the CLI writing the CSV; with --live, also the list evaluated
live (the previous design, and what a list of other statuses costs), checked equal.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    DEFAULT_SERVER_URL, VENV_BIN, BenchInstance, dump_json, log, wait_for_quiet_machine,
)

DISTRICT = "IN-KL-TVM"
# (age in days of the contact, products given, chance of attending when on track)
CONTACTS = [
    (0, ("BCG", "BOPV", "HEPB"), 0.95),
    (42, ("BOPV", "PENTA", "ROTA", "FIPV", "PCV"), 0.92),
    (70, ("BOPV", "PENTA", "ROTA"), 0.88),
    (98, ("BOPV", "PENTA", "ROTA", "FIPV", "PCV"), 0.85),
    (274, ("MR", "JE", "PCV"), 0.80),
    (487, ("MR", "JE", "DPT", "BOPV"), 0.70),
    (1826, ("DPT",), 0.60),
]
SERIES = {"BCG": "bcg", "HEPB": "hepb-birth", "BOPV": "opv", "FIPV": "fipv", "PENTA": "dtp",
          "DPT": "dtp", "ROTA": "rotavirus", "PCV": "pcv", "MR": "mr", "JE": "je"}


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def populate(database_url: str, children: int, on: date, seed: int = 14) -> dict[str, int]:
    """Accounts, children and doses, bulk-inserted; counts."""
    import psycopg
    from sqlalchemy.engine import make_url

    rng = random.Random(seed)
    url = make_url(database_url).set(drivername="postgresql")
    now = datetime.now(timezone.utc)
    with psycopg.connect(url.render_as_string(hide_password=False)) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT id FROM location WHERE code = %s", (DISTRICT,))
        location_id = cursor.fetchone()[0]
        cursor.execute("SELECT id FROM gender ORDER BY id LIMIT 1")
        gender_id = cursor.fetchone()[0]
        cursor.execute("SELECT code, id FROM vaccine_product")
        products = dict(cursor.fetchall())
        cursor.execute("SELECT coalesce(max(id), 0) FROM citizen_account")
        first_account = cursor.fetchone()[0] + 1
        cursor.execute("SELECT coalesce(max(id), 0) FROM beneficiary")
        first_person = cursor.fetchone()[0] + 1
        households = (children + 1) // 2
        _copy(cursor, "citizen_account", ["id", "mobile", "locale", "created_at"],
              ((first_account + h, f"+9197{h:08d}", "hi", now) for h in range(households)))
        people = []
        doses = []
        for n in range(children):
            pid = first_person + n
            born = on - timedelta(days=rng.randrange(0, 5 * 365))
            people.append((pid, f"{70000000000000 + n:014d}", first_account + n // 2,
                           f"Child {n}", born.year, born, gender_id, "bench", "x",
                           f"REG-{n:08d}", location_id, now, now, False, 0))
            on_track = True
            counts: dict[str, int] = {}
            for age, given, chance in CONTACTS:
                if rng.random() >= (chance if on_track else chance * 0.5):
                    on_track = False
                    continue
                day = born + timedelta(days=age + rng.randrange(0, 46))
                day += timedelta(days=(2 - day.weekday()) % 7)  # the next Wednesday
                if day > on:
                    break
                moment = datetime(day.year, day.month, day.day, 5, tzinfo=timezone.utc)
                for code in given:
                    series = SERIES[code]
                    counts[series] = counts.get(series, 0) + 1
                    doses.append((pid, series, counts[series], products[code], moment, "L1",
                                  "", now, "imported"))
        _copy(cursor, "beneficiary",
              ["id", "reference_id", "account_id", "name", "birth_year", "birth_date",
               "gender_id", "consent_version", "secret_code_encrypted", "external_id",
               "location_id", "created_at", "updated_at", "comorbidity",
               "secret_code_failures"], people)
        _copy(cursor, "dose", ["beneficiary_id", "series", "dose_number", "product_id",
                               "administered_at", "lot", "vaccinator", "recorded_at",
                               "source"], doses)
        for table in ("citizen_account", "beneficiary", "dose"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT max(id) FROM {table}))")
            cursor.execute(f"ANALYZE {table}")
        connection.commit()
    return {"children": children, "doses": len(doses)}


def time_refresh(instance: BenchInstance) -> dict:
    """The full refresh of the kept due state (as `cowin-kit due-list refresh` and the
    worker run it), timed in one process."""
    os.environ.update(instance.env)
    from cowin_kit import create_app
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.immunization import duestate

    app = create_app()
    wait_for_quiet_machine()
    with app.test_request_context(), get_database(app).session() as session:
        started = time.perf_counter()
        report = duestate.refresh_all(session, active_pack())
        seconds = time.perf_counter() - started
        with session.connection().connection.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute("ANALYZE pending_dose")
        session.commit()
    get_database(app).dispose()
    log(f"refresh: {seconds:.1f} s, {report.people} people ({report.people / seconds:.0f}/s), "
        f"{report.rows} pending dose rows")
    return {"seconds": round(seconds, 1), "people": report.people, "rows": report.rows,
            "people_per_second": round(report.people / seconds)}


def time_service(instance: BenchInstance, on: date, runs: int, live: bool = False) -> dict:
    """The service's time for the district's due list, ``runs`` times in one process
    (``live``: evaluated live, and checked equal to the table's)."""
    os.environ.update(instance.env)
    from cowin_kit import create_app
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.immunization import duelists, duestate

    app = create_app()
    seconds = []
    result = None
    with app.test_request_context():
        with get_database(app).session() as session:
            if not live and not duestate.usable(session, active_pack(), on, ("due", "overdue")):
                raise RuntimeError("the list would not read the table (refresh first; --on "
                                   "must be today or later)")
        for _run in range(runs):
            wait_for_quiet_machine()
            with get_database(app).session() as session:
                started = time.perf_counter()
                result = duelists.due_list(session, active_pack(), None, on=on,
                                           location_code=DISTRICT, live=live)
                seconds.append(time.perf_counter() - started)
            log(f"service{' (live)' if live else ''}: {seconds[-1]:.2f} s, {result.people} "
                f"people, {len(result.rows)} rows of {result.evaluated} people read")
        if live:
            with get_database(app).session() as session:
                table = duelists.due_list(session, active_pack(), None, on=on,
                                          location_code=DISTRICT)
            if table.rows != result.rows:
                raise RuntimeError("the table's list differs from the live evaluation")
            log("live and table lists are identical")
    get_database(app).dispose()
    assert result is not None
    return {"seconds": [round(s, 2) for s in seconds], "best": round(min(seconds), 2),
            "median": round(statistics.median(seconds), 2), "people": result.people,
            "rows": len(result.rows), "evaluated": result.evaluated}


def time_cli(instance: BenchInstance, on: date) -> dict:
    wait_for_quiet_machine()
    output = instance.tmp / "due.csv"
    started = time.perf_counter()
    done = subprocess.run([str(VENV_BIN / "cowin-kit"), "due-list", "--location", DISTRICT,
                           "--on", on.isoformat(), "--format", "csv", "--output", str(output)],
                          env=instance.env, cwd=instance.tmp, capture_output=True, text=True,
                          timeout=1800)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"due-list failed:\n{done.stdout}{done.stderr}")
    lines = sum(1 for _ in io.open(output, encoding="utf-8")) - 1
    log(f"cli: {seconds:.1f} s wall, {lines} rows")
    return {"seconds": round(seconds, 2), "rows": lines}


def run(args: argparse.Namespace) -> dict:
    on = date.fromisoformat(args.on) if args.on else date.today()
    with BenchInstance(args.server_url, {"DATABASE_POOL_SIZE": 2}) as instance:
        started = time.perf_counter()
        counts = populate(instance.database_url, args.children, on)
        log(f"populated {counts['children']} children, {counts['doses']} doses in "
            f"{time.perf_counter() - started:.0f} s")
        refresh = time_refresh(instance)
        service = time_service(instance, on, args.runs)
        cli = time_cli(instance, on)
        live = time_service(instance, on, 1, live=True) if args.live else None
    return {"on": on.isoformat(), **counts, "refresh": refresh, "service": service,
            "cli": cli, **({"live": live} if live else {})}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--on", help="the day of the list (default today; the table "
                        "answers from today on)")
    parser.add_argument("--live", action="store_true",
                        help="also time the live evaluation and check it gives the same list")
    parser.add_argument("--server-url", default=os.environ.get("COWIN_KIT_BENCH_DATABASE_URL",
                                                               DEFAULT_SERVER_URL))
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    try:
        results = run(args)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        log(f"FAILED: {exc}")
        return 1
    print(json.dumps(results, indent=2))
    dump_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
