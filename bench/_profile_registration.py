"""Where the time of one registration goes, in-process (not run by `make bench`).

    .venv/bin/python bench/_profile_registration.py [--requests 1000] [--html out.html]

Same database set-up as bench/registration.py (fresh PostgreSQL database, production
settings), but requests go through Flask's test client in this process, so that
pyinstrument (installed here if missing) sees every frame and SQLAlchemy's events count
the statements and transactions of each POST /api/v1/beneficiaries.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import DEFAULT_SERVER_URL, BenchInstance, count_statements, log  # noqa: E402
from registration import aadhaar_numbers, member, mobiles  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--html", help="write pyinstrument's HTML report here")
    parser.add_argument("--no-profile", action="store_true",
                        help="only time the requests and count the statements")
    parser.add_argument("--server-url", default=os.environ.get("COWIN_KIT_BENCH_DATABASE_URL",
                                                               DEFAULT_SERVER_URL))
    args = parser.parse_args()
    try:
        import pyinstrument
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pyinstrument"], check=True)
        import pyinstrument

    settings = {"OTP_RESEND_COOLDOWN_SECONDS": 0, "OTP_LIMITS_PER_NUMBER": "1000/hour",
                "OTP_LIMITS_PER_IP": "1000000/hour"}
    with BenchInstance(args.server_url, settings) as instance:
        os.environ.update(instance.env)

        import cowin_kit.models  # noqa: F401  (every model, as the migrations see them)
        from cowin_kit import create_app
        from cowin_kit.core.db import get_database

        app = create_app()
        client = app.test_client()
        accounts = -(-args.requests // 4)
        tokens = []
        for mobile in mobiles(accounts):
            txn = client.post("/api/v1/auth/otp", json={"mobile": mobile}).get_json()["txn_id"]
            otp = None  # the OTP leaves through the outbox, just after the answer
            deadline = time.monotonic() + 30
            while otp is None and time.monotonic() < deadline:
                lines = instance.outbox.read_text().splitlines() \
                    if instance.outbox.exists() else []
                sent = [json.loads(line) for line in lines]
                otp = next((m["text"].split()[0] for m in reversed(sent)
                            if m["to"].endswith(mobile[-10:])), None)
                if otp is None:
                    time.sleep(0.01)
            answer = client.post("/api/v1/auth/otp/confirm", json={"txn_id": txn, "otp": otp})
            tokens.append(answer.get_json()["token"])
        numbers = aadhaar_numbers(args.requests)

        statements = count_statements(get_database(app).engine, width=110)

        profiler = pyinstrument.Profiler(interval=0.0005)
        started, cpu = time.perf_counter(), time.process_time()
        if not args.no_profile:
            profiler.start()
        for i in range(args.requests):
            answer = client.post("/api/v1/beneficiaries", data=member(i, numbers[i]),
                                 content_type="application/json",
                                 headers={"Authorization": f"Bearer {tokens[i % accounts]}"})
            assert answer.status_code == 201, answer.get_data(as_text=True)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if not args.no_profile:
            profiler.stop()
        log(f"{args.requests} registrations in {seconds:.2f} s in-process, one thread: "
            f"{1000 * seconds / args.requests:.2f} ms each, {1000 * cpu / args.requests:.2f} ms "
            f"CPU in this process (profiler {'off' if args.no_profile else 'on'})")
        print("statements per request:")
        for statement, n in statements.most_common():
            print(f"  {n / args.requests:5.2f}  {statement}")
        if not args.no_profile:
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        if args.html and not args.no_profile:
            Path(args.html).write_text(profiler.output_html())
        get_database(app).dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
