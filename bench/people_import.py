"""People import benchmark: `cowin-kit people import` of a register into a fresh
PostgreSQL database with the India pack, timed as an operator runs it (the whole command,
interpreter start-up included), and the rows per second it reaches. See
docs/performance.md.

    .venv/bin/python bench/people_import.py [--rows 200000] [--json out.json]

The file is a register as a district migrates it: children 0-4 years without an ID
document with their mother as guardian (two per household mobile), and one adult in ten
with an Aadhaar number. Phases, each one run of the CLI on the file:
1. import: ROWS new people (and their household accounts) — the figure;
2. the same file again: everything unchanged (idempotent re-run).

Exits non-zero if a command fails or its counts are not the expected ones. The database
and temp folder are removed in every case.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    DEFAULT_SERVER_URL, BenchInstance, dump_json, log, wait_for_quiet_machine,
)
from imports import districts, run_cli  # noqa: E402

HEADER = ["external_id", "name", "birth_date", "sex", "location_code", "guardian_name",
          "guardian_relation", "mobile", "id_type", "id_number"]


def aadhaar_numbers():
    """Valid 12-digit Aadhaar numbers (Verhoeff check digit), one after another."""
    from stdnum import verhoeff

    body = 234567890120 // 10
    while True:
        body += 1
        text = str(body)
        yield text + verhoeff.calc_check_digit(text)


def write_register(path: Path, rows: int) -> None:
    places = [code for code, _p, _lat, _long in districts()]
    today = date.today()
    numbers = aadhaar_numbers()
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for n in range(rows):
            household = n // 2
            mobile = f"9{household % 10**9:09d}"
            place = places[household % len(places)]
            if n % 10 == 9:  # an adult with an ID document
                out.writerow([f"REG-{n:08d}", f"Adult {n}", "1985-06-15", "F", place, "", "",
                              mobile, "aadhaar", next(numbers)])
            else:
                born = today - timedelta(days=10 + n % 1700)
                out.writerow([f"REG-{n:08d}", f"Child {n}", born.isoformat(),
                              "F" if n % 2 else "M", place, f"Mother {household}", "mother",
                              mobile, "", ""])


def run(args: argparse.Namespace) -> dict:
    results: dict = {"rows": args.rows, "phases": {}}
    with BenchInstance(args.server_url, {"DATABASE_POOL_SIZE": 2}) as instance:
        register = instance.tmp / "register.csv"
        write_register(register, args.rows)
        phases = [
            ("import", f"{args.rows} added, 0 unchanged"),
            ("rerun", f"0 added, {args.rows} unchanged"),
        ]
        for name, expected in phases:
            busy = wait_for_quiet_machine()
            result = run_cli(instance, "people", "import", str(register), timeout=args.timeout)
            if expected not in result["summary"]:
                raise RuntimeError(f"{name}: expected {expected!r}, got {result['summary']!r}")
            rate = args.rows / result["seconds"]
            log(f"{name}: {result['seconds']:.1f} s wall = {rate:,.0f} rows/s, CPU "
                f"{result['cli_cpu_seconds']:.1f} s command + {result['db_cpu_seconds']:.1f} s "
                f"database ({result['summary']})")
            print(f"{name}: {rate:,.0f} rows/s ({args.rows} rows in {result['seconds']:.1f} s)")
            results["phases"][name] = {**result, "rows_per_second": round(rate),
                                       "machine_busy_before": busy}
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--server-url", default=os.environ.get("COWIN_KIT_BENCH_DATABASE_URL",
                                                               DEFAULT_SERVER_URL),
                        help="PostgreSQL server on which a fresh database is made and dropped")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="hard limit of each command, seconds")
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
