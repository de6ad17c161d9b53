"""CPU per booking, in-process: what one POST /api/v1/appointments costs the app (CPU
time of this process) and the database (CPU of its backends, SQL statements), measured
with Flask's test client so that other work on a shared machine does not change the
figure. Method and figures: docs/performance.md, "Booking under contention".

    .venv/bin/python bench/booking_cpu.py [--bookings 1500] [--rounds 3] [--profile cprofile]

Set-up (not timed): the same as bench/booking.py (a fresh PostgreSQL database with the
India pack, production settings, SESSIONS facilities with one published session each the
day after tomorrow, one account with one member per booking, tokens issued with the app's
keyring); the first --tight sessions have dose-1 seats for half of their requests, so
they answer 409 fully_booked once full. The app is built as cowin_kit/wsgi.py builds it
(then a full collection and gc.freeze()), rate limits in memory.

Measured: after --warmup bookings (not counted: the pack snapshot, statement caches and
prepared statements warm up), --bookings requests in --rounds rounds, one thread, each
on another account: request i on session i % SESSIONS, slot (i // SESSIONS) % 3, dose 1.
Per round: CPU ms of this process per request (time.process_time, so the test client and
the WSGI call are included, no HTTP server), CPU ms of the PostgreSQL backends serving the
app's pool per request (/proc, the server must be on this machine), SQL statements,
commits and rollbacks per request (SQLAlchemy events). The figure is the median round.
Then the oversell check of bench/booking.py. Exits non-zero on an answer other than 201
or 409 fully_booked, or any oversell.

--profile cprofile|pyinstrument runs one more round under the profiler and prints the
top of the profile and the statements of a request (profiled rounds are not figures).

--analyze runs ANALYZE on the database after the warm-up and after each round (not timed,
on a connection of its own, not counted as the app's backends). It stands in for
autovacuum's ANALYZE, which is off on the benchmark machine's server: without it the
plans PostgreSQL keeps for the app's prepared statements are those made for nearly empty
tables, and the statement that finds a member's live appointments scans the whole,
growing appointment table, so PostgreSQL's CPU per booking grows with every round.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    BenchInstance, InProcessApp, add_cpu_bench_options, count_statements, log, process_cpu,
    run_bounded,
)
from booking import SLOT_LABELS, make_citizens, oversell_check  # noqa: E402


def _bodies(session_ids: list[str], pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(token, json.dumps({"session_id": session_ids[i % len(session_ids)],
                                "slot": SLOT_LABELS[(i // len(session_ids)) % 3],
                                "beneficiaries": [reference], "dose": 1},
                               separators=(",", ":")))
            for i, (token, reference) in enumerate(pairs)]


def run(args: argparse.Namespace) -> dict:
    rounds = [args.bookings // args.rounds] * args.rounds
    profiled = args.bookings // args.rounds if args.profile != "none" else 0
    total = args.warmup + sum(rounds) + profiled
    per_session = -(-total // args.sessions)
    tight_seats = max(1, per_session // 2)
    ample = per_session + 10
    results: dict = {"benchmark": "booking_cpu", "machine_cpus": os.cpu_count(),
                     "analyze": args.analyze,
                     "client": "Flask test client, in-process, one thread",
                     "sessions": args.sessions, "accounts": total, "warmup": args.warmup,
                     "seats": {"tight_sessions": args.tight, "tight_dose1_seats": tight_seats,
                               "other_dose1_seats": ample}, "rounds": []}
    settings = {"BOOKING_LIMITS_PER_ACCOUNT": "60/hour"}
    with BenchInstance(args.server_url, settings) as instance:
        log(f"database {instance.name}: making {total} citizens and {args.sessions} sessions")
        session_ids, pairs = make_citizens(instance, total, args.sessions, ample, args.tight,
                                           tight_seats)
        requests = _bodies(session_ids, pairs)
        with InProcessApp(instance, push_context=False, like_wsgi=True) as app:
            measure(app, instance, requests, rounds, profiled, args, results)
        check = oversell_check(instance)
        results["oversell_check"] = check
        log(f"oversell check: {check}")
        if check["oversold"]:
            raise RuntimeError(f"OVERSOLD: {check}")
    return results


def measure(app, instance: BenchInstance, requests: list[tuple[str, str]], rounds: list[int],
            profiled: int, args: argparse.Namespace, results: dict) -> None:

    from cowin_kit.core.db import get_database

    client = app.test_client()
    statements = count_statements(get_database(app).engine)

    position = 0
    statuses: collections.Counter[str] = collections.Counter()

    def book(count: int) -> None:
        nonlocal position
        for token, body in requests[position:position + count]:
            answer = client.post("/api/v1/appointments", data=body,
                                 content_type="application/json",
                                 headers={"Authorization": f"Bearer {token}"})
            status = str(answer.status_code)
            if status == "409" and answer.get_json().get("code") != "fully_booked":
                status = f"409 {answer.get_json().get('code')}"
            statuses[status] += 1
            if status not in ("201", "409"):
                raise RuntimeError(f"answer {answer.status_code}: "
                                   f"{answer.get_data(as_text=True)[:500]}")
        position += count

    book(args.warmup)
    if args.analyze:
        analyze(instance)
    backends = instance.backend_pids()
    for number, count in enumerate(rounds, 1):
        statements.clear()
        statuses.clear()
        db0 = sum(process_cpu(p) for p in backends)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        book(count)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        db = sum(process_cpu(p) for p in backends) - db0
        if args.analyze:
            analyze(instance)
        sql = sum(n for s, n in statements.items() if s not in ("COMMIT", "ROLLBACK"))
        figures = {"requests": count, "statuses": dict(statuses),
                   "app_cpu_ms": round(1000 * cpu / count, 2),
                   "db_cpu_ms": round(1000 * db / count, 2),
                   "wall_ms": round(1000 * wall / count, 2),
                   "sql_statements": round(sql / count, 2),
                   "commits": round(statements["COMMIT"] / count, 2),
                   "rollbacks": round(statements["ROLLBACK"] / count, 2)}
        results["rounds"].append(figures)
        log(f"round {number}: {count} requests {dict(statuses)}: app CPU "
            f"{figures['app_cpu_ms']} ms, PostgreSQL CPU {figures['db_cpu_ms']} ms, "
            f"{figures['sql_statements']} statements, {figures['commits']} commits, "
            f"{figures['rollbacks']} rollbacks per request")
    for key in ("app_cpu_ms", "db_cpu_ms", "wall_ms", "sql_statements", "commits", "rollbacks"):
        results[key] = statistics.median(r[key] for r in results["rounds"])
    results["statements"] = {s: round(n / rounds[-1], 2) for s, n in statements.most_common()}
    print("statements per request (last round):")
    for statement, n in statements.most_common():
        print(f"  {n / rounds[-1]:5.2f}  {statement}")
    if profiled:
        profile(args.profile, lambda: book(profiled), args.top, args.profile_out)


def analyze(instance: BenchInstance) -> None:
    """ANALYZE every table, as autovacuum would (see --analyze): the statistics change, so
    PostgreSQL plans the app's prepared statements again."""
    from sqlalchemy import create_engine, text

    engine = create_engine(instance.database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def profile(kind: str, work, top: int, out: str | None = None) -> None:
    if kind == "cprofile":
        import cProfile
        import pstats

        profiler = cProfile.Profile(time.process_time)  # CPU, not waits for PostgreSQL
        profiler.runcall(work)
        if out:
            profiler.dump_stats(out)
        stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)
        return
    try:
        import pyinstrument
    except ImportError:
        import subprocess

        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pyinstrument"], check=True)
        import pyinstrument
    profiler = pyinstrument.Profiler(interval=0.0005)
    profiler.start()
    work()
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=1500, help="requests measured")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--tight", type=int, default=2,
                        help="sessions with dose-1 seats for half of their requests")
    parser.add_argument("--analyze", action="store_true",
                        help="ANALYZE after the warm-up and each round (stands in for autovacuum)")
    add_cpu_bench_options(parser, "bookings")
    args = parser.parse_args()
    if args.rounds < 1 or args.bookings < args.rounds:
        parser.error("--bookings must be at least --rounds")
    return run_bounded(run, args)


if __name__ == "__main__":
    sys.exit(main())
