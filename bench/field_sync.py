"""Field sync benchmark: offline records uploaded to POST /api/v1/field/sync against
gunicorn and PostgreSQL on this machine. Method and figures: docs/performance.md.

    .venv/bin/python bench/field_sync.py [--records 1000] [--devices 200] [--json out.json]

Set-up: a fresh PostgreSQL database (dropped at the end) and instance folder, production
settings, the India pack, one facility and its vaccinators (one staff account per ten
devices), created in this process through the services. Server: `gunicorn
cowin_kit.wsgi:app -k gthread -w 3 --threads 4` on a free loopback port.

Phase 1, one device: RECORDS offline records (two fifths registrations of adults with an
Aadhaar number, three fifths COVID-19 doses 1 and 2 referring to them by client id) in
uploads of at most 500 records, one after another: records/s and each upload's time.
Phase 2, many devices at once: DEVICES devices each upload one batch of PER_DEVICE
records (as phase 1's mix) over DEVICES connections at once: records/s over the phase,
median and p99 of an upload's time.
Phase 3: phase 2's uploads again (answers lost, everything resent): all duplicates.

Exits non-zero on any non-2xx answer, on a record not accepted (phases 1, 2) or not a
duplicate (phase 3), when the database does not hold each dose exactly once, or past
--total-timeout; gunicorn is stopped and the database dropped in every case.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    BenchInstance, CpuMeter, Gunicorn, GunicornConfig, add_server_bench_options,
    http_batch, log, run_bounded,
)

PASSWORD = "field-bench-password-1"
FACILITY = "F-BENCH-1"


def aadhaar_numbers():
    from stdnum import verhoeff

    body = 334567890120 // 10
    while True:
        body += 1
        text = str(body)
        yield text + verhoeff.calc_check_digit(text)


class Records:
    """Offline records as a device makes them: a registration, then its doses."""

    def __init__(self) -> None:
        self.numbers = aadhaar_numbers()
        self.people = 0
        now = datetime.now(timezone.utc)
        self.long_ago = (now - timedelta(days=100)).isoformat()
        self.today = (now - timedelta(minutes=30)).isoformat()

    def batch(self, n: int) -> list[dict]:
        """n records: per 5, two people and three doses (dose 1 and 2 of the first,
        dose 1 of the second)."""
        out: list[dict] = []
        while len(out) < n:
            first, second = self._person(), self._person()
            out += [first, second,
                    self._dose(first, 1, self.long_ago), self._dose(first, 2, self.today),
                    self._dose(second, 1, self.today)]
        return out[:n]

    def _person(self) -> dict:
        self.people += 1
        return {"client_id": str(uuid.uuid4()), "kind": "register_person",
                "recorded_at": self.today, "payload": {
                    "name": f"Field Person {self.people}", "birth_date": "1985-03-01",
                    "gender": "F", "mobile": f"9{self.people:09d}",
                    "location": "IN-KL-TVM", "facility": FACILITY, "id_type": "aadhaar",
                    "id_number": next(self.numbers)}}

    def _dose(self, person: dict, number: int, at: str) -> dict:
        return {"client_id": str(uuid.uuid4()), "kind": "record_dose", "recorded_at": at,
                "payload": {"person": "client:" + person["client_id"],
                            "product": "COVISHIELD", "lot": f"LOT-{number}", "dose": number,
                            "administered_at": at, "facility": FACILITY}}


def set_up(instance: BenchInstance, staff: int) -> None:
    """The facility and its vaccinators, through the services."""
    from cowin_kit import create_app
    from cowin_kit.core.db import get_database
    from cowin_kit.identity import services as identity
    from cowin_kit.scheduling import sessions

    app = create_app({"ENV": "test", "DATABASE_URL": instance.database_url,
                      "INSTANCE_PATH": str(instance.instance)})
    with app.app_context(), get_database(app).session() as session:
        sessions.upsert_facility(session, code=FACILITY, name="Field bench PHC",
                                 location_code="IN-KL-TVM", postal_code="695001",
                                 latitude=8.5, longitude=76.9, fee_type="Free")
        session.commit()
        for n in range(staff):
            identity.add_staff_user(session, f"anm.bench{n}", PASSWORD, role="vaccinator",
                                    facility_code=FACILITY)
    get_database(app).dispose()


def sign_in(server: Gunicorn, staff: int) -> list[str]:
    jobs = [("POST", "/api/v1/staff/sign-in", None,
             json.dumps({"username": f"anm.bench{n}", "password": PASSWORD}))
            for n in range(staff)]
    _result, answers = http_batch("staff sign-in", server.base, jobs, concurrency=8)
    return [json.loads(body)["token"] for _status, body, _t in answers]


def check(answers, expected: str, name: str) -> int:
    records = 0
    for status, body, _t in answers:
        if status != 200:
            raise RuntimeError(f"{name}: HTTP {status} {body[:300]!r}")
        for result in json.loads(body)["results"]:
            records += 1
            if result["status"] != expected:
                raise RuntimeError(f"{name}: a record answered {result}")
    return records


def dose_count(instance: BenchInstance) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(instance.database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM dose")).scalar_one()
    finally:
        engine.dispose()


def run(args: argparse.Namespace) -> dict:
    config = GunicornConfig(workers=args.workers, threads=args.threads)
    staff = max(1, -(-args.devices // 10))
    results: dict = {"benchmark": "field_sync", "server": config.describe(),
                     "machine_cpus": os.cpu_count(), "records_one_device": args.records,
                     "devices": args.devices, "records_per_device": args.per_device,
                     "phases": []}
    settings = {"DATABASE_POOL_SIZE": args.threads}
    with BenchInstance(args.server_url, settings) as instance:
        set_up(instance, staff)
        log(f"database {instance.name}: pack, facility and {staff} vaccinators")
        with Gunicorn(instance, config) as server:
            try:
                return measure(args, instance, server, results, staff)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}\n--- gunicorn log:\n{server.log_tail()}") from None


def measure(args, instance, server, results, staff) -> dict:
    tokens = sign_in(server, staff)
    records = Records()
    one_device = records.batch(args.records)
    device = str(uuid.uuid4())
    uploads = [one_device[i:i + 500] for i in range(0, len(one_device), 500)]
    times, seconds = [], 0.0
    for upload in uploads:
        result, answers = http_batch(
            "one device", server.base,
            [("POST", "/api/v1/field/sync", tokens[0],
              json.dumps({"device_id": device, "records": upload}))], concurrency=1)
        check(answers, "accepted", "one device")
        times.append(round(result.p99_ms, 1))
        seconds += result.seconds  # the upload itself (not the wait for a quiet machine)
    phase1 = {"name": f"one device, {args.records} records in {len(uploads)} uploads",
              "seconds": round(seconds, 2), "records_per_second": round(args.records / seconds, 1),
              "upload_ms": times}
    log(json.dumps(phase1))
    results["phases"].append(phase1)

    batches = [(str(uuid.uuid4()), records.batch(args.per_device)) for _ in range(args.devices)]
    jobs = [("POST", "/api/v1/field/sync", tokens[n % staff],
             json.dumps({"device_id": device_id, "records": batch}))
            for n, (device_id, batch) in enumerate(batches)]
    meter = CpuMeter(server, instance)
    many, answers = http_batch(f"{args.devices} devices at once", server.base, jobs,
                               concurrency=args.devices, meter=meter)
    total = check(answers, "accepted", "many devices")
    phase2 = many.as_dict()
    phase2["records"] = total
    phase2["records_per_second"] = round(total / many.seconds, 1)
    log(json.dumps(phase2))
    results["phases"].append(phase2)

    again, answers = http_batch(f"{args.devices} devices resend", server.base, jobs,
                                concurrency=args.devices)
    check(answers, "duplicate", "resend")
    phase3 = again.as_dict()
    phase3["records_per_second"] = round(total / again.seconds, 1)
    log(json.dumps(phase3))
    results["phases"].append(phase3)

    expected = sum(1 for r in one_device if r["kind"] == "record_dose") + sum(
        1 for _d, batch in batches for r in batch if r["kind"] == "record_dose")
    found = dose_count(instance)
    results["doses_expected"], results["doses_found"] = expected, found
    if found != expected:
        raise RuntimeError(f"{found} doses in the database, {expected} expected")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_bench_options(parser)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--per-device", type=int, default=25)
    parser.add_argument("--total-timeout", type=float, default=1200)
    parser.add_argument("--json")
    return run_bounded(run, parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
