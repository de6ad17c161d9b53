"""Costs as the data grows: CPU per request of registration, booking, dose recording +
certificate issuing, availability (cached and uncached) and the routine immunization due
list, on one PostgreSQL database grown to national size (1 k -> 100 k -> 1 M -> 10 M
people), each compared with its figure on the smallest database. Method and figures:
docs/performance.md, "Costs as the data grows"; the capacity model built on them:
docs/capacity.md.

    .venv/bin/python bench/national.py [--sizes 1000,100000,1000000,10000000] [--keep]
        [--requests 300] [--plot docs/img/national-cost.png] [--json out.json]

Build (bench/_national_build.py, timed per phase and printed): a fresh database with the
India pack (`cowin-kit db upgrade`, `pack install`), grown in steps to each size: people
(8 % children under 6 with UIP histories, the rest adults with 0-3 COVID-19 doses; about
2 doses per person), accounts (2.5 people each), appointments (one per second adult),
facilities (max(250, people/100): 100 k at 10 M) with 10 session days each (1 M sessions at
10 M), dose capacities, slots, the dose tally; COPY from this process and INSERT ...
SELECT generate_series on the server; then VACUUM ANALYZE and the due state's full refresh
(`cowin-kit due-list refresh`, as the worker runs it nightly).

Measured at each size, in this process (the app built as cowin_kit/wsgi.py builds it, then
gc.freeze()), one request at a time, after --warmup requests: CPU ms of this process per
request (time.process_time: Flask, the view or service, SQLAlchemy, the driver; for HTTP
operations through Flask's test client, so the whole WSGI call is counted but no HTTP
server) and CPU ms of the PostgreSQL backends serving the app per request (/proc: the
server must run on this machine), summed over --rounds rounds; WAL bytes per request
(pg_current_wal_lsn() before and after: the server's, so other databases' writes on a
shared server count too: the smallest round is kept, an upper bound). Operations:

- registration: POST /api/v1/beneficiaries (a new account's first member, Aadhaar);
- booking: POST /api/v1/appointments (that member, dose 1, a session to come);
- dose: `vaccination.services.record_dose` (the member, with the secret code of the
  booking) and then `certificates.services.process_outbox` (DCC, SHC, VC), per dose;
- availability, uncached: GET .../findByDistrict (AVAILABILITY_CACHE_SECONDS=0) for a
  district of 125 centres and one of the 5 days to come (125 sessions an answer, at every
  size); cached: the same with the cache on and every key warmed (each worker's memory);
- due list: `immunization.duelists.due_list` of one home facility (100 people, about 8
  children, at every size), read from the kept due state;
- the ceiling of the same run: `GET /healthz`, the cheapest request the app answers.

The verdict per operation: total CPU (app + PostgreSQL) per request within 15 % of the
smallest size's. The database is dropped at the end unless --keep (then its name is
printed). --vacuum times VACUUM (FREEZE) of the dose table at the largest size (what an
anti-wraparound vacuum does to every page) for docs/capacity.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    REPO, BenchInstance, InProcessApp, add_cpu_bench_options, dump_json, log, process_cpu,
    run_bounded,
)
from _national_build import (  # noqa: E402
    FACILITIES_PER_DISTRICT, PER_FACILITY, Builder, facilities_for,
)
from booking import SLOT_LABELS  # noqa: E402
from registration import aadhaar_numbers, member  # noqa: E402

OPERATIONS = ("registration", "booking", "dose_record", "certificate_issue", "dose_total",
              "availability_uncached", "availability_cached", "due_list")
FACILITY = "NF0000000"
VACCINATOR = "vaccinator.national"
TOLERANCE = 0.15
MEASURED_IDS = 900_000_000  # accounts and people the app makes while measuring: ids from here


class Probe:
    """The server's WAL position and this database's backends' CPU, read on a connection
    of its own (left out of the app's backends)."""

    def __init__(self, instance: BenchInstance):
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(instance.database_url).set(drivername="postgresql")
        self.conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        self.pid = self.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        self.oid = self.conn.execute("SELECT oid FROM pg_database "
                                     "WHERE datname = current_database()").fetchone()[0]
        self.version = self.conn.execute("SHOW server_version_num").fetchone()[0][:2]
        self.wal_dir = self.conn.execute("SHOW data_directory").fetchone()[0] + "/pg_wal"
        self.instance = instance

    def wal(self) -> int:
        return int(self.conn.execute(
            "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()[0])

    def database_wal(self, start: int, end: int) -> int | None:
        """WAL bytes between two positions written for this database: the records
        pg_waldump shows touching its relations, and the commit records of their
        transactions (the server's WAL also holds other databases' writes). None when
        pg_waldump or the WAL directory cannot be read."""
        import re
        import subprocess

        tool = Path(f"/usr/lib/postgresql/{self.version}/bin/pg_waldump")
        if not tool.exists() or end <= start:
            return None if not tool.exists() else 0

        def lsn(value: int) -> str:
            return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"

        done = subprocess.run([str(tool), "-p", self.wal_dir, "-s", lsn(start), "-e", lsn(end)],
                              capture_output=True, text=True)
        if done.returncode != 0 and not done.stdout:
            return None
        mine = f"/{self.oid}/"
        sizes, ours, commits = {}, set(), []
        for line in done.stdout.splitlines():
            found = re.search(r"len \(rec/tot\):\s*\d+/\s*(\d+), tx:\s*(\d+)", line)
            if not found:
                continue
            size, tx = int(found.group(1)), found.group(2)
            if line.startswith("rmgr: Transaction"):
                commits.append((tx, size))
            elif " rel " in line and mine in line:
                sizes[tx] = sizes.get(tx, 0) + size
                ours.add(tx)
        return sum(sizes.values()) + sum(size for tx, size in commits if tx in ours)

    def backends(self) -> list[int]:
        return [p for p in self.instance.backend_pids() if p != self.pid]


def timed(probe: Probe, name: str, work, items: list, warmup: int, rounds: int) -> dict:
    """``work(item)`` for the first ``warmup`` items, then the rest in ``rounds`` rounds;
    per request: app CPU, PostgreSQL CPU, wall and WAL (median round; WAL: smallest)."""
    for item in items[:warmup]:
        work(item)
    rest = items[warmup:]
    per = len(rest) // rounds
    figures = []
    for r in range(rounds):
        batch = rest[r * per:(r + 1) * per]
        backends = probe.backends()
        db0 = {p: process_cpu(p) for p in backends}
        wal0 = probe.wal()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for item in batch:
            work(item)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        wal1 = probe.wal()
        wal = probe.database_wal(wal0, wal1)
        server_wal = wal1 - wal0
        # backends the pool opened during the round count from 0
        db = sum(process_cpu(p) - db0.get(p, 0.0) for p in probe.backends())
        figures.append({"app": cpu, "db": db, "wall": wall, "n": len(batch),
                        "wal_bytes": (server_wal if wal is None else wal) / len(batch),
                        "server_wal_bytes": server_wal / len(batch)})
    n = sum(f["n"] for f in figures)
    # over all rounds: /proc counts CPU in ticks (10 ms), a round's share would be coarse
    out = {key + "_ms": round(1000 * sum(f[key] for f in figures) / n, 3)
           for key in ("app", "db", "wall")}
    out = {"app_cpu_ms": out["app_ms"], "db_cpu_ms": out["db_ms"], "wall_ms": out["wall_ms"]}
    # this database's WAL (pg_waldump) when readable, else the server's; smallest round
    out["wal_bytes"] = round(min(f["wal_bytes"] for f in figures))
    out["server_wal_bytes"] = round(min(f["server_wal_bytes"] for f in figures))
    out["cpu_ms"] = round(out["app_cpu_ms"] + out["db_cpu_ms"], 3)
    out["requests"] = per * rounds
    log(f"  {name}: app {out['app_cpu_ms']:.2f} ms + PostgreSQL {out['db_cpu_ms']:.2f} ms CPU, "
        f"{out['wal_bytes']} WAL bytes per request")
    return out


def _check(answer, name: str, ok=(200, 201)) -> None:
    if answer.status_code not in ok:
        raise RuntimeError(f"{name}: {answer.status_code} {answer.get_data(as_text=True)[:400]}")


def measure(instance: BenchInstance, probe: Probe, step: int, people: int, numbers: list[str],
            args: argparse.Namespace, first: bool) -> dict:
    from sqlalchemy import select, text

    from cowin_kit.audit.services import acting_as, cli_actor
    from cowin_kit.certificates import services as certificates
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.core.security import keyring
    from cowin_kit.geography.models import Facility
    from cowin_kit.identity.models import StaffUser
    from cowin_kit.immunization import duelists
    from cowin_kit.vaccination import services as vaccination

    count = args.warmup + args.requests
    today = datetime.now(zoneinfo.ZoneInfo("Asia/Kolkata")).date()
    results: dict = {}
    overrides = {"AVAILABILITY_CACHE_SECONDS": 0, "SEARCH_LIMITS_PER_IP": "100000000/minute",
                 "BOOKING_LIMITS_PER_ACCOUNT": "100000/hour"}
    with InProcessApp(instance, push_context=False, like_wsgi=True, **overrides) as app:
        database = get_database(app)
        with app.app_context():
            pack = active_pack()
            session = database.session_factory()
            if first:
                from cowin_kit.certificates.signing import keystore as keystore_module
                from cowin_kit.identity import services as identity

                keystore_module.generate(certificates.keystore().keys_dir, "IN", "MoHFW")
                user = identity.create_staff_user(session, VACCINATOR, "correct horse battery")
                session.commit()
                identity.grant_role(session, user, "vaccinator", facility_code=FACILITY)
                session.commit()
            # new accounts for this step's registrations (no members yet)
            # new accounts for this step's registrations (no members yet), and ids for what
            # the app writes far above the generated ones (the next step COPies its own)
            base = MEASURED_IDS + step * 1_000_000
            session.execute(text(
                "INSERT INTO citizen_account (id, mobile, locale, created_at) "
                "SELECT :base + i, "
                "'+918' || lpad(CAST(:step AS text), 2, '0') || lpad(i::text, 7, '0'), "
                "'en', now() "
                "FROM generate_series(1, :n) AS i"), {"step": step, "n": count, "base": base})
            session.execute(text("SELECT setval(pg_get_serial_sequence('beneficiary', 'id'), "
                                 ":base)"), {"base": base})
            session.commit()
            ring = keyring()
            tokens = [ring.issue_citizen_token(a, m, e) for a, m, e in session.execute(text(
                "SELECT id, mobile, token_epoch FROM citizen_account WHERE mobile LIKE :p "
                "ORDER BY id"), {"p": f"+918{step:02d}%"})]
            filled = max(1, min(people // PER_FACILITY, facilities_for(people)))  # with people
            # sessions to come with first-dose seats left, anywhere (the small database is
            # measured before and after every step: its sessions fill up), one booking each
            # while there are as many such sessions as bookings
            sessions = session.execute(text(
                "SELECT s.id, p.code FROM vaccination_session s "
                "JOIN vaccine_product p ON p.id = s.product_id "
                "JOIN session_dose_capacity c ON c.session_id = s.id AND c.dose_number = 1 "
                "WHERE s.min_age = 18 AND s.session_date > :today "
                "AND c.booked + :each < c.capacity "
                "ORDER BY md5(s.id || :step) LIMIT :n"),
                {"today": today, "step": step, "n": count,
                 "each": -(-count // max(1, 3 * facilities_for(people)))}).all()
            if not sessions:
                raise RuntimeError("no session to come has first-dose seats left")
            vaccinator = session.scalars(select(StaffUser)
                                         .where(StaffUser.username == VACCINATOR)).one()
            facility = session.scalars(select(Facility).where(Facility.code == FACILITY)).one()
            session.expunge_all()
            session.close()
        client = app.test_client()
        log(f"measuring at {people:,} people (load average {os.getloadavg()[0]:.2f})")

        references: list[str] = []

        def register(i: int) -> None:
            answer = client.post("/api/v1/beneficiaries", data=member(i, numbers[i]),
                                 content_type="application/json",
                                 headers={"Authorization": f"Bearer {tokens[i]}"})
            _check(answer, "registration")
            references.append(answer.get_json()["reference_id"])

        results["registration"] = timed(probe, "registration", register, list(range(count)),
                                        args.warmup, args.rounds)

        def book(i: int) -> None:
            body = json.dumps({"session_id": sessions[i % len(sessions)][0],
                               "slot": SLOT_LABELS[i % 3], "beneficiaries": [references[i]],
                               "dose": 1})
            answer = client.post("/api/v1/appointments", data=body,
                                 content_type="application/json",
                                 headers={"Authorization": f"Bearer {tokens[i]}"})
            _check(answer, "booking", (201,))

        results["booking"] = timed(probe, "booking", book, list(range(count)), args.warmup,
                                   args.rounds)

        with app.app_context(), acting_as(cli_actor()):
            with database.session_factory() as session:
                secrets = dict(session.execute(text(
                    "SELECT reference_id, secret_code_encrypted FROM beneficiary "
                    "WHERE reference_id = ANY(:refs)"), {"refs": references}).all())

            def record(i: int) -> None:
                with database.session_factory() as session:
                    done = vaccination.record_dose(
                        session, pack, vaccinator, facility=facility,
                        reference_id=references[i], product_code=sessions[i % len(sessions)][1],
                        lot="4121Z005", secret_code=ring.decrypt(secrets[references[i]]))
                    if not done.created:
                        raise RuntimeError(f"dose for {references[i]} was not recorded")

            def issue(_batch: list) -> None:
                while certificates.process_outbox(database.session_factory, pack,
                                                  lambda: certificates.keystore().current(),
                                                  limit=100):
                    pass

            # recording and issuing in separate timed phases, as bench/certificates_cpu.py
            per = args.requests // args.rounds
            record_figures, issue_figures = [], []
            for i in range(args.warmup):
                record(i)
            issue([])
            for r in range(args.rounds):
                batch = list(range(args.warmup + r * per, args.warmup + (r + 1) * per))
                record_figures.append(timed(probe, "dose record", record, batch, 0, 1))
                issued = timed(probe, "certificate issue", lambda _b: issue(_b), [batch], 0, 1)
                issue_figures.append({k: (v / len(batch) if k in ("app_cpu_ms", "db_cpu_ms",
                                                                  "wall_ms", "wal_bytes",
                                                                  "cpu_ms") else v)
                                      for k, v in issued.items()})
            for name, figures in (("dose_record", record_figures),
                                  ("certificate_issue", issue_figures)):
                results[name] = {k: round(statistics.mean(f[k] for f in figures), 3)
                                 for k in ("app_cpu_ms", "db_cpu_ms", "wall_ms", "cpu_ms")}
                results[name]["wal_bytes"] = round(min(f["wal_bytes"] for f in figures))
            results["dose_total"] = {k: round(results["dose_record"][k]
                                              + results["certificate_issue"][k], 3)
                                     for k in ("app_cpu_ms", "db_cpu_ms", "cpu_ms",
                                               "wal_bytes")}
            log(f"  dose + certificates: {results['dose_total']}")

        # the ceiling of the same run: the cheapest request the app answers
        results["healthz"] = timed(probe, "GET /healthz (ceiling)",
                                   lambda _i: _check(client.get("/healthz"), "healthz"),
                                   list(range(count)), args.warmup, args.rounds)

        districts = _full_districts(database, app, people)
        days = [(today + timedelta(days=d)).strftime("%d-%m-%Y") for d in range(1, 6)]
        keys = [(d, day) for d in districts for day in days]
        urls = [f"/api/v2/appointment/sessions/public/findByDistrict?district_id={d}&date={day}"
                for d, day in keys]

        def search(i: int, client=client) -> None:
            answer = client.get(urls[(i * 7919) % len(urls)])
            _check(answer, "availability")

        results["availability_uncached"] = timed(probe, "availability (uncached)", search,
                                                 list(range(count)), args.warmup, args.rounds)
        with app.app_context():
            with database.session_factory() as session:
                sizes = [len(client.get(u).get_json()["sessions"]) for u in urls[:5]]
        results["availability_uncached"]["sessions_per_answer"] = statistics.median(sizes)

        homes = [f"NF{(k * 7919) % filled:07d}" for k in range(max(count // 5, 20))]

        def due(code: str) -> None:
            with app.app_context(), database.session_factory() as session:
                result = duelists.due_list(session, pack, None, on=today, facility_code=code)
                rows.append(len(result.rows))

        rows: list[int] = []
        results["due_list"] = timed(probe, "due list", due, homes,
                                    min(args.warmup, len(homes) // 5), args.rounds)
        results["due_list"]["rows_per_list"] = statistics.median(rows)

    cached = dict(overrides, AVAILABILITY_CACHE_SECONDS=86400)
    with InProcessApp(instance, push_context=False, like_wsgi=True, **cached) as app:
        client = app.test_client()
        for url in urls:  # every key warmed
            _check(client.get(url), "availability warm-up")
        many = list(range(10 * count))
        results["availability_cached"] = timed(
            probe, "availability (cached)", lambda i: search(i, client), many,
            10 * args.warmup, args.rounds)
    return results


def _full_districts(database, app, people: int) -> list[int]:
    """Districts holding FACILITIES_PER_DISTRICT centres (at most 20)."""
    from sqlalchemy import text

    with app.app_context(), database.session_factory() as session:
        return list(session.scalars(text(
            "SELECT location_id FROM facility WHERE code LIKE 'NF%' GROUP BY location_id "
            "HAVING count(*) = :per ORDER BY location_id LIMIT 20"),
            {"per": FACILITIES_PER_DISTRICT}))


def table_sizes(probe: Probe) -> dict:
    """Rows, heap bytes and index bytes per table (partitions summed)."""
    rows = probe.conn.execute("""
        SELECT c.relname, sum(l.reltuples)::bigint, sum(pg_relation_size(t.relid)),
               sum(pg_indexes_size(t.relid)), sum(pg_total_relation_size(t.relid))
        FROM pg_class c
        CROSS JOIN LATERAL (SELECT relid FROM pg_partition_tree(c.oid) WHERE isleaf
                            UNION ALL SELECT c.oid WHERE c.relkind = 'r') t
        JOIN pg_class l ON l.oid = t.relid
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
          AND NOT c.relispartition
        GROUP BY c.relname ORDER BY 5 DESC""").fetchall()
    return {name: {"rows": max(int(n), 0), "heap_bytes": int(h), "index_bytes": int(i),
                   "total_bytes": int(t)} for name, n, h, i, t in rows}


def build_step(builder: Builder, probe: Probe, instance: BenchInstance, people: int) -> dict:
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.immunization import duestate

    log(f"growing to {people:,} people")
    report = builder.grow(people)
    t0 = time.monotonic()
    probe.conn.execute("VACUUM ANALYZE")
    report["seconds"]["vacuum_analyze"] = round(time.monotonic() - t0, 1)
    with InProcessApp(instance, push_context=False) as app:
        with app.test_request_context(), get_database(app).session() as session:
            t0 = time.monotonic()
            refreshed = duestate.refresh_all(session, active_pack())
            session.commit()
            report["seconds"]["due_state_refresh"] = round(time.monotonic() - t0, 1)
            report["due_state"] = {"people": refreshed.people, "rows": refreshed.rows}
            if people <= 100_000:
                report["tally_check"] = _tally_check(session)
    probe.conn.execute("ANALYZE pending_dose")
    # the build's dirty pages written now, not by the checkpointer while requests are measured
    t0 = time.monotonic()
    probe.conn.execute("CHECKPOINT")
    report["seconds"]["checkpoint"] = round(time.monotonic() - t0, 1)
    report["seconds"]["step_total"] = round(sum(v for k, v in report["seconds"].items()
                                                if k != "total"), 1)
    report["database_bytes"] = int(probe.conn.execute(
        "SELECT pg_database_size(current_database())").fetchone()[0])
    log(f"built {people:,} people in {report['seconds']['step_total']} s: {report['seconds']}; "
        f"database {report['database_bytes'] / 2**30:.2f} GiB")
    return report


def _tally_check(session) -> str:
    """The tally as stored equals the one counted from the doses (tally.rebuild's count)."""
    from cowin_kit.registration import tally

    counted = tally.tally_from_doses(session, zoneinfo.ZoneInfo("Asia/Kolkata"))
    stored = tally.stored(session)
    if counted != +stored:
        raise RuntimeError(f"dose tally differs from the doses: {len(counted)} keys counted, "
                           f"{len(stored)} stored")
    return f"equal ({sum(counted.values())} doses)"


def vacuum_freeze(probe: Probe) -> dict:
    wal0, t0 = probe.wal(), time.monotonic()
    probe.conn.execute("VACUUM (FREEZE) dose")
    seconds = time.monotonic() - t0
    size = probe.conn.execute(  # a partitioned table's size is its partitions'
        "SELECT sum(pg_total_relation_size(relid)), sum(pg_relation_size(relid)) "
        "FROM pg_partition_tree('dose') WHERE isleaf").fetchone()
    out = {"seconds": round(seconds, 1), "wal_bytes": probe.wal() - wal0,
           "total_bytes": int(size[0]), "heap_bytes": int(size[1])}
    log(f"VACUUM (FREEZE) dose: {out}")
    return out


def run(args: argparse.Namespace) -> dict:
    sizes = sorted(int(s) for s in args.sizes.split(","))
    started = time.monotonic()
    results: dict = {"benchmark": "national", "sizes": sizes, "machine_cpus": os.cpu_count(),
                     "requests": args.requests, "rounds": args.rounds, "steps": []}
    numbers = aadhaar_numbers((2 * len(sizes) + 2 * args.alternate)
                              * (args.warmup + args.requests))
    instance = BenchInstance(args.server_url, {"DATABASE_POOL_SIZE": 2})
    # the small database, measured next to the large one at every step (same minutes, same
    # machine load): the verdict compares each step with it, not with figures taken an hour
    # before on a machine that may have been less busy
    baseline = BenchInstance(args.server_url, {"DATABASE_POOL_SIZE": 2})
    instance.__enter__()
    log(f"database {instance.name} made, pack installed")
    try:
        baseline.__enter__()
        log(f"baseline database {baseline.name} made, pack installed")
        grow(args, sizes, numbers, instance, baseline, results)
    finally:
        if args.keep:
            log(f"--keep: database {instance.name} kept ({instance.database_url}); "
                f"drop it with DROP DATABASE \"{instance.name}\"")
            instance._created = False
        instance.__exit__(None, None, None)
        baseline.__exit__(None, None, None)
    results["seconds"] = round(time.monotonic() - started)
    verdicts(results)
    if args.plot:
        plot(results, args.plot)
    return results


def _builder(instance: BenchInstance, today, probe: Probe) -> Builder:
    import psycopg
    from sqlalchemy.engine import make_url

    from cowin_kit.core.security import keyring

    url = make_url(instance.database_url).set(drivername="postgresql")
    with InProcessApp(instance):
        ring = keyring()
    return Builder(psycopg.connect(url.render_as_string(hide_password=False)), ring, today, log)


def grow(args: argparse.Namespace, sizes: list[int], numbers: list[str],
         instance: BenchInstance, baseline: BenchInstance, results: dict) -> None:
    today = datetime.now(zoneinfo.ZoneInfo("Asia/Kolkata")).date()
    probe, small_probe = Probe(instance), Probe(baseline)
    builder, small = _builder(instance, today, probe), _builder(baseline, today, small_probe)
    try:
        log(f"baseline: {sizes[0]:,} people")
        results["baseline_build"] = build_step(small, small_probe, baseline, sizes[0])
        per = args.warmup + args.requests
        for step, people in enumerate(sizes):
            built = build_step(builder, probe, instance, people)
            built["tables"] = table_sizes(probe)
            # the small database measured before and after the large one (A B A), their mean
            # taken, so that a drift of the machine's speed during the step cancels out
            log(f"baseline ({sizes[0]:,} people) before {people:,}")
            before = measure(baseline, small_probe, 2 * step + 1, sizes[0],
                             numbers[step * per:], args, step == 0)
            figures = measure(instance, probe, step, people, numbers[step * per:], args,
                              step == 0)
            log(f"baseline ({sizes[0]:,} people) after {people:,}")
            after = measure(baseline, small_probe, 2 * step + 2, sizes[0],
                            numbers[(len(sizes) + step) * per:], args, False)
            paired = {op: {k: round((before[op][k] + after[op][k]) / 2, 3)
                           for k in before[op] if isinstance(before[op][k], (int, float))}
                      for op in before}
            paired["before"], paired["after"] = before, after
            results["steps"].append({"people": people, "build": built,
                                     "load_average": os.getloadavg(), **figures,
                                     "baseline": paired})
            dump_json(args.json, results)  # what is measured so far, if a later step fails
            if people == sizes[-1] and args.alternate:
                results["alternated"] = alternate(args, sizes, numbers, instance, baseline,
                                                  probe, small_probe, before, figures, after)
                dump_json(args.json, results)
            if args.vacuum and people == sizes[-1]:
                results["vacuum_freeze_dose"] = vacuum_freeze(probe)
                results["tables_after"] = table_sizes(probe)
    finally:
        builder.db.close()
        small.db.close()
        probe.conn.close()
        small_probe.conn.close()


def alternate(args: argparse.Namespace, sizes: list[int], numbers: list[str],
              instance: BenchInstance, baseline: BenchInstance, probe: Probe,
              small_probe: Probe, before: dict, figures: dict, after: dict) -> dict:
    """At the largest size, ``--alternate`` more rounds of (large, small), after the step's
    small, large, small: the machine's speed drifts over minutes, and a single triple can
    put the large database in a slow minute. The verdict of the largest size is then also
    given as the ratio of the medians of all of them."""
    per, n = args.warmup + args.requests, len(sizes)
    large, small = [figures], [before, after]
    for r in range(args.alternate):
        log(f"alternated round {r + 1} of {args.alternate}: {sizes[-1]:,} people, then "
            f"{sizes[0]:,}")
        large.append(measure(instance, probe, 40 + r, sizes[-1],
                             numbers[(2 * n + 2 * r) * per:], args, False))
        small.append(measure(baseline, small_probe, 60 + r, sizes[0],
                             numbers[(2 * n + 2 * r + 1) * per:], args, False))
    out: dict = {"people": sizes[-1], "large": large, "small": small, "ratios": {}}
    for op in OPERATIONS:
        big = statistics.median(m[op]["cpu_ms"] for m in large)
        little = statistics.median(m[op]["cpu_ms"] for m in small)
        out["ratios"][op] = {"large_cpu_ms": [m[op]["cpu_ms"] for m in large],
                             "small_cpu_ms": [m[op]["cpu_ms"] for m in small],
                             "median_ratio": round(big / little, 3) if little else None}
    return out


def verdicts(results: dict) -> None:
    """Per operation and step: CPU per request (app + PostgreSQL) on the large database and,
    measured just before it, on the small one; the verdict is the largest ratio."""
    steps = results["steps"]
    print("CPU per request, app + PostgreSQL (ms): the database of N people / the small "
          "baseline measured next to it")
    print(f"{'operation':24}" + "".join(f"{s['people']:>20,}" for s in steps) + "  verdict")
    results["verdicts"] = {}
    for op in OPERATIONS:
        cells, ratios = [], []
        for s in steps:
            big, small = s[op]["cpu_ms"], s["baseline"][op]["cpu_ms"]
            ratios.append(big / small if small else float("inf"))
            cells.append(f"{big:.2f}/{small:.2f}")
        worst = max(ratios) - 1
        verdict = (f"within 15 % (worst {100 * worst:+.0f} %)" if worst <= TOLERANCE
                   else f"GROWS {100 * worst:+.0f} %")
        results["verdicts"][op] = {"ratios": [round(r, 3) for r in ratios],
                                   "worst_change_pct": round(100 * worst, 1),
                                   "within_15_pct": worst <= TOLERANCE}
        print(f"{op:24}" + "".join(f"{c:>20}" for c in cells) + f"  {verdict}")
    print("ceiling of the same run, GET /healthz CPU per request (ms): " + "; ".join(
        f"{s['people']:,}: {s['healthz']['cpu_ms']:.2f} (small {s['baseline']['healthz']['cpu_ms']:.2f})"
        for s in steps if "healthz" in s))
    if results.get("alternated"):
        alt = results["alternated"]
        print(f"at {alt['people']:,} people, every measurement in order (large | small), "
              "CPU ms per request, and the ratio of the medians:")
        for op in OPERATIONS:
            r = alt["ratios"][op]
            change = 100 * (r["median_ratio"] - 1) if r["median_ratio"] else float("nan")
            print(f"{op:24}" + " ".join(f"{v:.2f}" for v in r["large_cpu_ms"]) + " | "
                  + " ".join(f"{v:.2f}" for v in r["small_cpu_ms"])
                  + f"  median ratio {change:+.0f} %"
                  + ("  within 15 %" if abs(change) <= 100 * TOLERANCE or change < 0
                     else "  GROWS"))
    print("build seconds per step: " + "; ".join(
        f"{s['people']:,}: {s['build']['seconds']['step_total']} s" for s in steps))
    print(f"whole run: {results['seconds']} s")


def plot(results: dict, path: str) -> None:
    try:
        import matplotlib
    except ImportError:
        log("matplotlib is not installed (pip install -e '.[bench]'): no plot")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = results["steps"]
    x = [s["people"] for s in steps]
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
    for op in OPERATIONS:
        if op in ("dose_record", "certificate_issue"):
            continue
        line, = ax.plot(x, [s[op]["cpu_ms"] for s in steps], marker="o",
                        label=op.replace("_", " "))
        ax.plot(x, [s["baseline"][op]["cpu_ms"] for s in steps], linestyle=":",
                color=line.get_color(), alpha=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("people in the database (doses 2x, appointments 0.5x)")
    ax.set_ylabel("CPU per request, app + PostgreSQL (ms)")
    ax.set_title("CPU per request against table size (dotted: the small database, "
                 "measured alongside)", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    log(f"plot written to {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000,10000000",
                        help="people in the database at each step, ascending")
    parser.add_argument("--requests", type=int, default=600, help="measured per operation")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--alternate", type=int, default=2,
                        help="more rounds of (large, small) at the largest size")
    parser.add_argument("--vacuum", action="store_true",
                        help="time VACUUM (FREEZE) of the dose table at the largest size")
    parser.add_argument("--plot", default=str(REPO / "docs" / "img" / "national-cost.png"),
                        help="PNG of CPU per request against size ('' for none)")
    add_cpu_bench_options(parser, "requests per operation")
    parser.set_defaults(warmup=50, total_timeout=6 * 3600)
    args = parser.parse_args()
    if args.requests < args.rounds:
        parser.error("--requests must be at least --rounds")
    return run_bounded(run, args)


if __name__ == "__main__":
    sys.exit(main())
