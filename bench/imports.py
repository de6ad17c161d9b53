"""Bulk CSV import benchmark: `cowin-kit facilities import` and `cowin-kit sessions import`
into a fresh PostgreSQL database with the India pack, timed as an operator runs them (the
whole command, interpreter start-up included). See docs/performance.md.

    .venv/bin/python bench/imports.py [--facilities 10000] [--sessions 100000] [--json out.json]

Phases, each one run of the CLI on one file:
1. facilities: FACILITIES new facilities spread over the pack's districts;
2. sessions: SESSIONS new sessions (facilities x days, three slots, two doses) — the figure;
3. sessions again, the same file: everything unchanged (idempotent re-run);
4. sessions with every capacity changed: everything updated in place.

Exits non-zero if a command fails or its counts are not the expected ones. The database
and temp folder are removed in every case.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import threading
import time
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    DEFAULT_SERVER_URL, REPO, VENV_BIN, BenchInstance, dump_json, log, process_cpu,
    wait_for_quiet_machine,
)

VACCINES = ("COVISHIELD", "COVAXIN", "CORBEVAX")
SLOTS = "09:00-11:00;11:00-13:00;14:00-16:00"


def districts() -> list[tuple[str, list[str], float, float]]:
    """(code, postal codes, lat, long) of the India pack's districts."""
    found = []
    with open(REPO / "examples" / "countries" / "in" / "locations.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["level"] == "2":
                postal = [p for p in row["postal_codes"].split(";") if p]
                found.append((row["code"], postal, float(row["lat"] or 20.0),
                              float(row["long"] or 78.0)))
    return found


def write_facilities(path: Path, count: int) -> list[str]:
    places = districts()
    codes = []
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["code", "name", "name_hi", "location_code", "address", "postal_code",
                      "lat", "long", "fee_type", "open", "close"])
        for n in range(count):
            code, postal, lat, lon = places[n % len(places)]
            facility = f"BF{n:06d}"
            codes.append(facility)
            out.writerow([facility, f"Bench Centre {n}", f"केंद्र {n}", code,
                          f"{n} Hospital Road", postal[n % len(postal)] if postal
                          else str(110001 + n % 800), f"{lat + (n % 100) / 1000:.4f}",
                          f"{lon + (n % 100) / 1000:.4f}", "Paid" if n % 10 == 0 else "Free",
                          "09:00", "17:00"])
    return codes


def write_sessions(path: Path, facilities: list[str], count: int, seats: int) -> None:
    first = datetime.now(zoneinfo.ZoneInfo("Asia/Kolkata")).date() + timedelta(days=1)
    days = -(-count // len(facilities))
    written = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["facility_code", "date", "vaccine", "min_age", "max_age", "slots",
                      "capacity_dose1", "capacity_dose2", "fee"])
        for day in range(days):
            for n, facility in enumerate(facilities):
                if written == count:
                    return
                fee = "250" if n % 10 == 0 else ""
                out.writerow([facility, (first + timedelta(days=day)).isoformat(),
                              VACCINES[n % len(VACCINES)], 18, "", SLOTS, seats,
                              seats // 2, fee])
                written += 1


class DatabaseCpu:
    """CPU seconds used by the database's server processes while a command runs (polled:
    a backend's CPU is read until it exits)."""

    def __init__(self, instance: BenchInstance):
        self.instance = instance
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                for pid in self.instance.backend_pids():
                    self.seen[pid] = max(self.seen.get(pid, 0.0), process_cpu(pid))
            except Exception:  # the database is busy or the command just ended
                pass
            self._stop.wait(0.1)

    def __enter__(self) -> "DatabaseCpu":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())


def run_cli(instance: BenchInstance, *args: str, timeout: float) -> dict:
    """Run one command; its wall time, its own CPU time and the database's."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with DatabaseCpu(instance) as database:
        done = subprocess.run([str(VENV_BIN / "cowin-kit"), *args], env=instance.env,
                              cwd=instance.tmp, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr[-3000:]}")
    return {"seconds": round(seconds, 2),
            "cli_cpu_seconds": round(after.ru_utime + after.ru_stime
                                     - before.ru_utime - before.ru_stime, 2),
            "db_cpu_seconds": round(database.seconds, 2),
            # the largest of the commands run so far (Linux reports KiB)
            "cli_max_rss_mib": round(after.ru_maxrss / 1024),
            "summary": done.stdout.strip().splitlines()[-1]}


def run(args: argparse.Namespace) -> dict:
    results: dict = {"facilities": args.facilities, "sessions": args.sessions, "phases": {}}
    with BenchInstance(args.server_url, {"DATABASE_POOL_SIZE": 2}) as instance:
        files = instance.tmp
        codes = write_facilities(files / "facilities.csv", args.facilities)
        write_sessions(files / "sessions.csv", codes, args.sessions, seats=100)
        write_sessions(files / "sessions-changed.csv", codes, args.sessions, seats=120)
        phases = [
            ("facilities", ["facilities", "import", str(files / "facilities.csv")],
             f"{args.facilities} added, 0 updated, 0 unchanged"),
            ("sessions", ["sessions", "import", str(files / "sessions.csv")],
             f"{args.sessions} added, 0 updated, 0 unchanged"),
            ("sessions_rerun", ["sessions", "import", str(files / "sessions.csv")],
             f"0 added, 0 updated, {args.sessions} unchanged"),
            ("sessions_changed", ["sessions", "import", str(files / "sessions-changed.csv")],
             f"0 added, {args.sessions} updated, 0 unchanged"),
        ]
        for name, command, expected in phases:
            busy = wait_for_quiet_machine()
            result = run_cli(instance, *command, timeout=args.timeout)
            if expected not in result["summary"]:
                raise RuntimeError(f"{name}: expected {expected!r}, got {result['summary']!r}")
            log(f"{name}: {result['seconds']:.1f} s wall, CPU {result['cli_cpu_seconds']:.1f} s "
                f"command + {result['db_cpu_seconds']:.1f} s database ({result['summary']})")
            results["phases"][name] = {**result, "machine_busy_before": busy}
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--facilities", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--server-url", default=os.environ.get("COWIN_KIT_BENCH_DATABASE_URL",
                                                               DEFAULT_SERVER_URL),
                        help="PostgreSQL server on which a fresh database is made and dropped")
    parser.add_argument("--timeout", type=float, default=600,
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
