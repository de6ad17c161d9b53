"""CPU per USSD step, in-process: what one gateway callback costs the app (CPU time of
this process) and PostgreSQL (CPU of its backends), with SQL statements and commits per
step, measured with Flask's test client so that other work on a shared machine does not
change the figure. Method and figures: docs/performance.md, "USSD sessions".

    PYTHONPATH=$PWD .venv/bin/python bench/ussd_cpu.py [--sessions 300] [--rounds 3] \
        [--profile cprofile]

Set-up (not timed): bench/ussd.py's (a fresh PostgreSQL database, production settings,
the India pack, one facility at 695001 with a session in three days, --sessions callers
with an account, one adult and a PIN). The app is built as cowin_kit/wsgi.py builds it.
Each caller steps through booking as in bench/ussd.py (dial, find a session, by postal
code, 695001, the session, a slot, the PIN, yes: 8 steps), signed, one after the other
in one thread; after --warmup callers (not counted), the rest in --rounds rounds. The
figure is the median round's. Exits non-zero on any answer other than 200 or a session
that does not end "Booked".
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    BenchInstance, InProcessApp, add_cpu_bench_options, count_statements, log, process_cpu,
    run_bounded,
)
from booking_cpu import profile  # noqa: E402
from ussd import PIN, SECRET, mobile, set_up  # noqa: E402


def _steps(n: int) -> list[tuple[bytes, str]]:
    """The signed bodies of caller ``n``'s 8 steps."""
    answers: list[str] = []
    out = []
    session_id = f"cpu-{n}-{time.time_ns()}"
    for answer in [None, "2", "1", "695001", "1", str(n % 4 + 1), PIN, "1"]:
        if answer is not None:
            answers.append(answer)
        body = urlencode({"sessionId": session_id, "serviceCode": "*384*1#",
                          "phoneNumber": mobile(n), "networkCode": "40410",
                          "text": "*".join(answers)}).encode()
        out.append((body, "sha256=" + hmac.new(SECRET.encode(), body,
                                               hashlib.sha256).hexdigest()))
    return out


def run(args: argparse.Namespace) -> dict:
    per_round = (args.sessions - args.warmup) // args.rounds
    if per_round < 1:
        raise SystemExit("--sessions must exceed --warmup by at least --rounds")
    profiled = per_round if args.profile != "none" else 0
    callers = args.warmup + per_round * args.rounds + profiled
    settings = {"CHANNELS_SECRET": SECRET, "OTP_LIMITS_PER_IP": "100000/hour",
                "SEARCH_LIMITS_PER_IP": "1000000/hour",
                "BOOKING_LIMITS_PER_ACCOUNT": "1000/hour", "REDIS_URL": ""}
    results: dict = {"benchmark": "ussd_cpu", "machine_cpus": os.cpu_count(),
                     "client": "Flask test client, in-process, one thread",
                     "callers": callers, "warmup_callers": args.warmup,
                     "steps_per_caller": 8, "rounds": []}
    with BenchInstance(args.server_url, settings) as instance:
        log(f"database {instance.name}: setting up {callers} callers")
        set_up(instance, callers)
        with InProcessApp(instance, push_context=False, like_wsgi=True) as app:
            from cowin_kit.core.db import get_database

            client = app.test_client()
            statements = count_statements(get_database(app).engine)
            position = 0

            def dial(count: int) -> None:
                nonlocal position
                for n in range(position, position + count):
                    text = ""
                    for body, signature in _steps(n):
                        answer = client.post(
                            "/api/v1/channels/ussd/at", data=body,
                            content_type="application/x-www-form-urlencoded",
                            headers={"X-Channel-Signature": signature},
                            environ_base={"REMOTE_ADDR": "127.0.0.1"})
                        text = answer.get_data(as_text=True)
                        if answer.status_code != 200:
                            raise RuntimeError(f"caller {n}: {answer.status_code} {text[:300]}")
                    if not text.startswith("END Booked"):
                        raise RuntimeError(f"caller {n} ended with {text[:200]!r}")
                position += count

            dial(args.warmup)
            backends = instance.backend_pids()
            for number in range(1, args.rounds + 1):
                statements.clear()
                steps = per_round * 8
                db0 = sum(process_cpu(p) for p in backends)
                cpu0, wall0 = time.process_time(), time.perf_counter()
                dial(per_round)
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                db = sum(process_cpu(p) for p in backends) - db0
                sql = sum(n for s, n in statements.items() if s not in ("COMMIT", "ROLLBACK"))
                figures = {"steps": steps, "app_cpu_ms": round(1000 * cpu / steps, 2),
                           "db_cpu_ms": round(1000 * db / steps, 2),
                           "wall_ms": round(1000 * wall / steps, 2),
                           "sql_statements": round(sql / steps, 2),
                           "commits": round(statements["COMMIT"] / steps, 2)}
                results["rounds"].append(figures)
                log(f"round {number}: {steps} steps: app CPU {figures['app_cpu_ms']} ms, "
                    f"PostgreSQL CPU {figures['db_cpu_ms']} ms, {figures['sql_statements']} "
                    f"statements, {figures['commits']} commits per step")
            for key in ("app_cpu_ms", "db_cpu_ms", "wall_ms", "sql_statements", "commits"):
                results[key] = statistics.median(r[key] for r in results["rounds"])
            print("statements per step (last round):")
            for statement, n in statements.most_common():
                print(f"  {n / (per_round * 8):5.2f}  {statement[:150]}")
            if profiled:
                profile(args.profile, lambda: dial(profiled), args.top, args.profile_out)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=300, help="callers, warm-up included")
    add_cpu_bench_options(parser, "callers")
    parser.set_defaults(warmup=30)
    return run_bounded(run, parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
