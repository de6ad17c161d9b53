"""CPU per dose, in-process: what recording one dose and issuing its certificates costs the
app (CPU time of this process) and the database (CPU of its backends, SQL statements),
measured in one process so that other work on a shared machine does not change the
figure (unlike bench/certificates.py's wall-clock rate). Method and figures:
docs/performance.md, "Certificates", "CPU per dose".

    .venv/bin/python bench/certificates_cpu.py [--doses 1500] [--rounds 3] [--profile cprofile]

Set-up (not timed): as bench/certificates.py (a fresh PostgreSQL database with the India
pack, production settings, one key generation, one facility, one vaccinator and one
registered person per dose, through the services). The app is built as cowin_kit/wsgi.py
builds it (then a full collection and gc.freeze()).

Measured, in this one process, after --warmup doses (not counted: the pack snapshot, key
material, statement caches and prepared statements warm up), --doses doses in --rounds
rounds. Each round has two phases:

- record: `vaccination.services.record_dose` for each dose of the round, one session
  (transaction) per dose as an API request has, acting as the CLI user;
- issue: `certificates.services.process_outbox` (keys given as a factory, as
  `cowin-kit worker` gives them) until nothing is due: every format the pack enables
  except PDF (DCC, SMART Health Card, W3C VC; QR text).

Per phase: CPU ms of this process per dose (time.process_time), CPU ms of the PostgreSQL
backends serving the app's pool per dose (/proc: the server must be on this machine), SQL
statements and commits per dose (SQLAlchemy events). The figure is the median round. Then
every dose is checked to have one certificate in each format, and a sample of each format
is verified against the instance's trust material. Exits non-zero otherwise.

--profile cprofile|pyinstrument records and issues one more round under the profiler and
prints the top of the profile (profiled rounds are not figures).
"""

from __future__ import annotations

import argparse
import collections
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
from booking_cpu import profile  # noqa: E402
from certificates import FACILITY, VACCINATOR, set_up  # noqa: E402

PHASES = ("record", "issue")


def run(args: argparse.Namespace) -> dict:
    rounds = [args.doses // args.rounds] * args.rounds
    profiled = args.doses // args.rounds if args.profile != "none" else 0
    total = args.warmup + sum(rounds) + profiled
    results: dict = {"benchmark": "certificates_cpu", "machine_cpus": os.cpu_count(),
                     "doses": sum(rounds), "warmup": args.warmup, "batch": args.batch,
                     "rounds": []}
    with BenchInstance(args.server_url, {}) as instance:
        log(f"database {instance.name}: registering {total} people")
        refs = set_up(instance, total)
        with InProcessApp(instance, like_wsgi=True) as app:
            measure(app, instance, refs, rounds, profiled, args, results)
            results["check"] = check(total)
        log(f"check: {results['check']}")
    return results


def measure(app, instance: BenchInstance, refs: list[str], rounds: list[int], profiled: int,
            args: argparse.Namespace, results: dict) -> None:
    from sqlalchemy import select

    from cowin_kit.audit.services import acting_as, cli_actor
    from cowin_kit.certificates import services as certificates
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.identity.models import StaffUser
    from cowin_kit.geography.models import Facility
    from cowin_kit.vaccination import services as vaccination

    database = get_database(app)
    factory = database.session_factory
    statements = count_statements(database.engine)

    with factory() as session:
        vaccinator = session.scalars(select(StaffUser)
                                     .where(StaffUser.username == VACCINATOR)).one()
        facility = session.scalars(select(Facility).where(Facility.code == FACILITY)).one()
        session.expunge_all()
    position = 0

    def record(count: int) -> None:
        nonlocal position
        pack = active_pack()
        for ref in refs[position:position + count]:
            with factory() as session:
                done = vaccination.record_dose(session, pack, vaccinator, facility=facility,
                                               reference_id=ref, product_code="COVISHIELD",
                                               lot="4121Z005")
                if not done.created:
                    raise RuntimeError(f"dose for {ref} was not recorded")
        position += count

    def issue() -> int:
        issued = 0
        while True:
            done = certificates.process_outbox(factory, active_pack(),
                                               lambda: certificates.keystore().current(),
                                               limit=args.batch)
            issued += done
            if done == 0:
                return issued

    with acting_as(cli_actor()):
        record(args.warmup)
        issue()
        backends = instance.backend_pids()
        for number, count in enumerate(rounds, 1):
            figures: dict = {"doses": count}
            for phase in PHASES:
                statements.clear()
                db0 = sum(process_cpu(p) for p in backends)
                cpu0, wall0 = time.process_time(), time.perf_counter()
                if phase == "record":
                    record(count)
                elif (issued := issue()) != count:
                    raise RuntimeError(f"{issued} certificates issued for {count} doses")
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                db = sum(process_cpu(p) for p in backends) - db0
                sql = sum(n for s, n in statements.items() if s != "COMMIT")
                figures[phase] = {"app_cpu_ms": round(1000 * cpu / count, 2),
                                  "db_cpu_ms": round(1000 * db / count, 2),
                                  "wall_ms": round(1000 * wall / count, 2),
                                  "sql_statements": round(sql / count, 2),
                                  "commits": round(statements["COMMIT"] / count, 2)}
                figures[phase + "_statements"] = dict(statements)
            results["rounds"].append(figures)
            log(f"round {number}: {count} doses; " + "; ".join(
                f"{phase}: app CPU {figures[phase]['app_cpu_ms']} ms, PostgreSQL CPU "
                f"{figures[phase]['db_cpu_ms']} ms, {figures[phase]['sql_statements']} "
                f"statements, {figures[phase]['commits']} commits per dose"
                for phase in PHASES))
        for phase in PHASES:
            results[phase] = {key: statistics.median(r[phase][key] for r in results["rounds"])
                              for key in ("app_cpu_ms", "db_cpu_ms", "wall_ms",
                                          "sql_statements", "commits")}
        results["total"] = {key: round(results["record"][key] + results["issue"][key], 2)
                            for key in ("app_cpu_ms", "db_cpu_ms", "sql_statements", "commits")}
        last = results["rounds"][-1]
        for phase in PHASES:
            print(f"statements per dose, {phase} (last round):")
            for statement, n in sorted(last.pop(phase + "_statements").items(),
                                       key=lambda item: -item[1]):
                print(f"  {n / last['doses']:6.3f}  {statement}")
        for figures in results["rounds"][:-1]:
            for phase in PHASES:
                figures.pop(phase + "_statements")
        if profiled:
            def work() -> None:
                record(profiled)
                issue()
            profile(args.profile, work, args.top, args.profile_out)


def check(total: int) -> dict:
    """Every dose has one live certificate with every format, and a sample of each format
    verifies against this instance's trust material."""
    from sqlalchemy import func, select

    from cowin_kit.certificates import services as certificates
    from cowin_kit.certificates.models import Certificate
    from cowin_kit.certificates.verify import verify
    from cowin_kit.core.db import get_database
    from cowin_kit.vaccination.models import CertificateDue
    from cowin_kit.registration.models import Dose

    with get_database().session() as session:
        doses = session.scalar(select(func.count()).select_from(Dose))
        pending = session.scalar(select(func.count()).select_from(CertificateDue)
                                 .where(CertificateDue.status != "done"))
        rows = session.execute(select(Certificate.dose_id, Certificate.dcc, Certificate.shc,
                                      Certificate.vc).order_by(Certificate.issued_at)).all()
    per_dose = collections.Counter(r.dose_id for r in rows)
    if doses != total or pending or len(per_dose) != total or max(per_dose.values()) != 1 \
            or not all(r.dcc and r.shc and r.vc for r in rows):
        raise RuntimeError(f"{doses} doses, {len(rows)} certificates for {len(per_dose)} doses, "
                           f"{pending} rows not done, or a format missing")
    trust = certificates.instance_trust_store()
    from cowin_kit.certificates.formats import shc

    sample = rows[:: max(1, len(rows) // 50)]
    for row in sample:
        for name, text in (("dcc", row.dcc), ("shc", shc.qr_text(row.shc)), ("vc", row.vc)):
            result = verify(text, trust=trust)
            if not result.valid or result.format != name:
                raise RuntimeError(f"an issued {name} did not verify: {result.errors}")
    return {"doses": doses, "certificates": len(rows), "verified_sample": len(sample) * 3}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--doses", type=int, default=1500, help="doses measured")
    parser.add_argument("--batch", type=int, default=100,
                        help="process_outbox's limit (the worker's default is 100)")
    add_cpu_bench_options(parser, "doses")
    args = parser.parse_args()
    if args.rounds < 1 or args.doses < args.rounds:
        parser.error("--doses must be at least --rounds")
    return run_bounded(run, args)


if __name__ == "__main__":
    sys.exit(main())
