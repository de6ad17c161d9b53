"""Certificate benchmark (issue 5): doses recorded and their certificates issued in every
enabled signed format, and DCC verification against raw ECDSA P-256. See
docs/performance.md, section "Certificates".

    .venv/bin/python bench/certificates.py [--doses 3000] [--processes 2] [--json out.json]

Set-up (not timed): a fresh PostgreSQL database with the India pack (`cowin-kit db upgrade`,
`cowin-kit pack install`), production settings, a key generation, one facility, one
vaccinator and DOSES registered people, through the services.

Phase 1, **the figure**: PROCESSES processes (forked; each its own app, engine and
connections, as gunicorn workers and `cowin-kit worker` would have, the app settled as
theirs is: cowin_kit/serving.py) each record their share
of the doses through `vaccination.services.record_dose` (one transaction per dose, with its
outbox row and audit event) and then run `certificates.services.process_outbox` until
nothing is due (SKIP LOCKED shares the rows between them). Every format the pack enables
except PDF is signed: DCC (COSE ES256), SMART Health Card (JWS ES256), W3C VC. Rate = doses
/ wall time from the first dose to the last certificate committed. Not over HTTP: the
service layer, so the figure excludes the API's own cost (see "Registration" for that).

Phase 2: DCC verification (`certificates.verify.verify` of the HC1 text: Base45, zlib,
COSE, CBOR, trust list look-up, signature, times, schema-free) of the certificates just
issued, against raw ECDSA P-256 verification by the cryptography library of the same
COSE to-be-signed bytes, in this one process, alternated in rounds to share any machine
noise. Reported as a percentage of the raw rate.

Exits non-zero if a dose is not certified. The database and temp folder are removed in
every case.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    DEFAULT_SERVER_URL, BenchInstance, InProcessApp, dump_json, log, machine_cpu,
    process_cpu, wait_for_quiet_machine,
)

FACILITY = "BENCH-CERT-1"
VACCINATOR = "bench.vaccinator"


def set_up(instance: BenchInstance, doses: int) -> list[str]:
    from sqlalchemy import select

    from cowin_kit.certificates.signing import keystore as keystore_module
    from cowin_kit.certificates import services as certificates
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.geography.models import Location
    from cowin_kit.identity import services as identity
    from cowin_kit.registration import services as registration
    from cowin_kit.registration.models import CitizenAccount
    from cowin_kit.scheduling import sessions
    from stdnum import verhoeff

    with InProcessApp(instance):
        keystore_module.generate(certificates.keystore().keys_dir, "IN", "MoHFW")
        pack = active_pack()
        refs = []
        with get_database().session() as session:
            district = session.scalars(select(Location).where(Location.level == 2)
                                       .order_by(Location.code)).first()
            sessions.upsert_facility(session, code=FACILITY, name="Bench PHC",
                                       location_code=district.code, fee_type="Free")
            user = identity.create_staff_user(session, VACCINATOR, "correct horse battery")
            session.commit()
            identity.grant_role(session, user, "vaccinator", facility_code=FACILITY)
            session.commit()
            account = None
            for i in range(doses):
                if i % 4 == 0:
                    account = CitizenAccount(mobile=f"+9190{i // 4:08d}", locale="en")
                    session.add(account)
                    session.flush()
                base = f"2{i:010d}"
                number = base + verhoeff.calc_check_digit(base)
                view = registration.add_beneficiary(
                    session, pack, account, name=f"Bench Person {i}", birth_year=1980,
                    gender="F", id_type="aadhaar", id_number=number, consent_version="v1")
                refs.append(view.beneficiary.reference_id)
                if i % 500 == 499:
                    session.commit()
            session.commit()
    return refs


def _worker(instance: BenchInstance, refs: list[str], barrier, results) -> None:
    from sqlalchemy import select

    from cowin_kit.audit.services import acting_as, cli_actor
    from cowin_kit.certificates import services as certificates
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.identity.models import StaffUser
    from cowin_kit.geography.models import Facility
    from cowin_kit.vaccination import services as vaccination

    # settled as cowin_kit/wsgi.py and `cowin-kit worker` settle their app (GC frozen)
    with InProcessApp(instance, like_wsgi=True), acting_as(cli_actor()):
        pack = active_pack()
        keys = certificates.keystore().current()
        factory = get_database().session_factory
        with factory() as session:
            vaccinator = session.scalars(select(StaffUser)
                                         .where(StaffUser.username == VACCINATOR)).one()
            facility = session.scalars(select(Facility).where(Facility.code == FACILITY)).one()
            session.expunge_all()
        barrier.wait()
        started = time.monotonic()
        with factory() as session:
            for ref in refs:
                vaccination.record_dose(session, pack, vaccinator, facility=facility,
                                        reference_id=ref, product_code="COVISHIELD",
                                        lot="4121Z005")
        recorded = time.monotonic()
        issued = 0
        while True:
            done = certificates.process_outbox(factory, pack, keys, limit=200)
            issued += done
            if done == 0:
                break
        results.put({"pid": os.getpid(), "recorded_s": recorded - started,
                     "ended": time.monotonic(), "started": started, "issued": issued,
                     "cpu_s": process_cpu(os.getpid())})


def phase_issue(instance: BenchInstance, refs: list[str], processes: int) -> dict:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes + 1)
    results = context.Queue()
    shares = [refs[i::processes] for i in range(processes)]
    children = [context.Process(target=_worker, args=(instance, share, barrier, results))
                for share in shares]
    for child in children:
        child.start()
    barrier.wait()
    db_pids = instance.backend_pids()
    db_start = {p: process_cpu(p) for p in db_pids}
    machine_start = machine_cpu()
    outcome = [results.get(timeout=3600) for _ in children]
    machine_end = machine_cpu()
    db_cpu = sum(process_cpu(p) - db_start[p] for p in db_pids)
    for child in children:
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"worker {child.pid} failed ({child.exitcode})")
    start = min(r["started"] for r in outcome)
    end = max(r["ended"] for r in outcome)
    busy = machine_end[0] - machine_start[0]
    total = machine_end[1] - machine_start[1]
    return {"doses": len(refs), "processes": processes, "seconds": round(end - start, 3),
            "per_second": round(len(refs) / (end - start), 1),
            "recording_s": [round(r["recorded_s"], 2) for r in outcome],
            "issued": sum(r["issued"] for r in outcome),
            "app_cpu_s_incl_setup": round(sum(r["cpu_s"] for r in outcome), 2),
            "db_cpu_s": round(db_cpu, 2), "machine_busy_s": round(busy, 2),
            "machine_busy_pct": round(100 * busy / total, 1) if total else 0.0}


def check_certified(instance: BenchInstance, doses: int) -> list[str]:
    from sqlalchemy import func, select

    from cowin_kit.certificates.models import Certificate
    from cowin_kit.core.db import get_database
    from cowin_kit.vaccination.models import CertificateDue

    with InProcessApp(instance), get_database().session() as session:
        pending = session.scalar(select(func.count()).select_from(CertificateDue)
                                 .where(CertificateDue.status != "done"))
        rows = session.execute(select(Certificate.dcc, Certificate.shc, Certificate.vc)).all()
    if pending or len(rows) != doses or not all(all(r) for r in rows):
        raise RuntimeError(f"{len(rows)} certificates for {doses} doses, {pending} not done, "
                           "or a format missing")
    return [r.dcc for r in rows]


def phase_verify(instance: BenchInstance, texts: list[str], seconds: float) -> dict:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from cowin_kit.certificates.formats import dcc
    from cowin_kit.certificates import services as certificates
    from cowin_kit.certificates.verify import verify

    with InProcessApp(instance):
        trust = certificates.instance_trust_store()
        public_key = certificates.keystore().current().dcc_signer.certificate.public_key()
    texts = texts[:1000]
    messages = []
    for text in texts:
        cose = dcc.decode_cose(dcc.decompress(dcc.base45_decode(dcc.unprefix(text))))
        messages.append((dcc.ecdsa_raw_to_der(cose.signature), cose.to_be_signed()))
        assert verify(text, trust=trust).valid, "an issued DCC did not verify"
    algorithm = ec.ECDSA(hashes.SHA256())
    counts = {"dcc": [0, 0.0], "raw": [0, 0.0]}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:  # alternate rounds so both see the same noise
        t0 = time.perf_counter()
        for text in texts:
            verify(text, trust=trust)
        t1 = time.perf_counter()
        for signature, tbs in messages:
            public_key.verify(signature, tbs, algorithm)
        t2 = time.perf_counter()
        counts["dcc"][0] += len(texts)
        counts["dcc"][1] += t1 - t0
        counts["raw"][0] += len(messages)
        counts["raw"][1] += t2 - t1
    dcc_rate = counts["dcc"][0] / counts["dcc"][1]
    raw_rate = counts["raw"][0] / counts["raw"][1]
    return {"dcc_per_second": round(dcc_rate, 1), "raw_ecdsa_per_second": round(raw_rate, 1),
            "dcc_percent_of_raw": round(100 * dcc_rate / raw_rate, 1),
            "dcc_verified": counts["dcc"][0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--doses", type=int, default=3000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--verify-seconds", type=float, default=10.0)
    parser.add_argument("--server-url", default=os.environ.get(
        "COWIN_KIT_BENCH_DATABASE_URL", DEFAULT_SERVER_URL))
    parser.add_argument("--json")
    args = parser.parse_args()
    with BenchInstance(args.server_url, {"DATABASE_POOL_SIZE": 2}) as instance:
        log(f"setting up {args.doses} people")
        refs = set_up(instance, args.doses)
        quiet = wait_for_quiet_machine()
        log(f"phase 1: {args.doses} doses recorded and certified by {args.processes} "
            f"process(es) (machine {quiet:.0%} busy before)")
        issue = phase_issue(instance, refs, args.processes)
        issue["machine_busy_before"] = quiet
        log(f"doses recorded + certificates issued (DCC, SHC, VC): {issue['per_second']}/s "
            f"({issue})")
        texts = check_certified(instance, args.doses)
        quiet = wait_for_quiet_machine()
        verification = phase_verify(instance, texts, args.verify_seconds)
        verification["machine_busy_before"] = quiet
        log(f"DCC verification: {verification['dcc_per_second']}/s = "
            f"{verification['dcc_percent_of_raw']} % of raw ECDSA P-256 "
            f"({verification['raw_ecdsa_per_second']}/s)")
        load = os.getloadavg()
        dump_json(args.json, {"issue": issue, "verify": verification,
                              "loadavg": [round(x, 2) for x in load]})
        log(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
