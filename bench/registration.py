"""Registration benchmark: citizens sign in with an OTP, then add family members, over HTTP
against gunicorn and PostgreSQL on this machine. Method and figures: docs/performance.md.

    .venv/bin/python bench/registration.py [--beneficiaries 20000] [--json out.json]

Set-up: a fresh PostgreSQL database (dropped at the end) and instance folder, production
settings with generated keys, `cowin-kit db upgrade`, `cowin-kit pack install
examples/countries/in`; NOTIFIER=file:<tmp> so OTPs can be read back; OTP limits relaxed
(OTP_LIMITS_PER_NUMBER/PER_IP, OTP_RESEND_COOLDOWN_SECONDS=0), OTPs and tokens valid for
30 and 60 minutes (the harness may wait for a quiet machine); rate-limit storage in Redis
when it answers. Server: `gunicorn cowin_kit.wsgi:app -k gthread -w 3 --threads 4` on a free
loopback port (3 processes keep both cores busy while some threads wait for PostgreSQL; see
--workers/--threads), DATABASE_POOL_SIZE = threads.

Phase 1, sign-in (small asyncio client in this process): every account asks for an OTP
(POST /api/v1/auth/otp), the OTPs are read from the outbox file, every account confirms
(POST /api/v1/auth/otp/confirm) and keeps its token.
Phase 2, the figure (wrk, installed with apt-get if missing, 64 keep-alive connections):
POST /api/v1/beneficiaries, a unique valid Aadhaar number each, 4 per account.
Phase 3: GET /healthz with the same server and client, the ceiling of the stack here.

Exits non-zero on any non-2xx answer or socket error, or past --total-timeout; gunicorn
is stopped and the database dropped in every case.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    run_bounded, add_server_bench_options,
    BenchInstance, CpuMeter, Gunicorn, GunicornConfig,
    ensure_wrk, http_batch, log, replay, replay_server, write_requests,
)

PER_ACCOUNT = 4



def redis_reachable(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 2):
            return True
    except OSError:
        return False


def otp_settings(args: argparse.Namespace, pool: int) -> dict:
    """Settings with the OTP limits relaxed, and rate limits in Redis if it answers
    (otherwise ``args.redis_url`` is emptied)."""
    settings = {"OTP_RESEND_COOLDOWN_SECONDS": 0, "OTP_LIMITS_PER_NUMBER": "1000/hour",
                "OTP_LIMITS_PER_IP": "1000000/hour", "DATABASE_POOL_SIZE": pool,
                # the harness may wait up to 2 minutes for a quiet machine before each
                # phase: OTPs and tokens must outlive those waits
                "OTP_TTL_SECONDS": 1800, "TOKEN_TTL_SECONDS": 3600}
    if args.redis_url and not redis_reachable(args.redis_url):
        log(f"{args.redis_url} does not answer: rate limits kept in each worker's memory")
        args.redis_url = ""
    if args.redis_url:
        settings["REDIS_URL"] = args.redis_url
    return settings


def mobiles(count: int) -> list[str]:
    """Distinct valid Indian mobile numbers (10 digits, as citizens type them)."""
    from cowin_kit.registration.rules import InvalidMobile, normalize_mobile

    found, candidate = [], 9_100_000_000
    while len(found) < count:
        candidate += 7
        try:
            normalize_mobile(str(candidate), "IN")
        except InvalidMobile:
            continue
        found.append(str(candidate))
    return found


def aadhaar_numbers(count: int) -> list[str]:
    """Distinct valid Aadhaar numbers (Verhoeff check digit; stdnum's full check). The
    database is new for each run, so the same numbers can be used every time."""
    from stdnum import verhoeff
    from stdnum.in_ import aadhaar

    found, body = [], 20_000_000_000
    while len(found) < count:
        body += 7919
        candidate = str(body)[:11]
        number = candidate + verhoeff.calc_check_digit(candidate)
        if aadhaar.is_valid(number):
            found.append(number)
    return found


def member(index: int, number: str) -> str:
    return json.dumps({"name": f"Bench Person {index}", "birth_year": 1940 + index % 60,
                       "gender": "T" if index % 50 == 0 else "FM"[index % 2],
                       "id_type": "aadhaar", "id_number": number,
                       "comorbidity": index % 7 == 0, "consent_version": "v1"},
                      separators=(",", ":"))


def sign_in(server: Gunicorn, instance: BenchInstance, numbers: list[str], concurrency: int,
            results: dict) -> list[str]:
    """Phase 1: an OTP per number, read from the outbox, confirmed; returns the tokens."""
    meter = CpuMeter(server, instance)
    asked, answers = http_batch(
        "sign-in: POST /api/v1/auth/otp", server.base,
        [("POST", "/api/v1/auth/otp", None, json.dumps({"mobile": m})) for m in numbers],
        concurrency=concurrency, meter=meter)
    log(asked.line())
    results["phases"].append(asked.as_dict())
    if asked.non_2xx:
        raise RuntimeError(f"OTP requests failed: {asked.extra.get('error_samples')}")
    txns = [json.loads(body)["txn_id"] for _status, body, _t in answers]
    otps: dict[str, str] = {}
    deadline = time.monotonic() + 120  # OTPs leave through the web processes' senders
    while len(otps) < len(set(numbers)) and time.monotonic() < deadline:
        if instance.outbox.exists():
            for line in instance.outbox.read_text(encoding="utf-8").splitlines():
                message = json.loads(line)
                otps[message["to"][-10:]] = message["text"].split()[0]
        time.sleep(0.1)
    confirmed, answers = http_batch(
        "sign-in: POST /api/v1/auth/otp/confirm", server.base,
        [("POST", "/api/v1/auth/otp/confirm", None,
          json.dumps({"txn_id": txn, "otp": otps[m]})) for m, txn in zip(numbers, txns)],
        concurrency=concurrency, meter=meter)
    log(confirmed.line())
    results["phases"].append(confirmed.as_dict())
    if confirmed.non_2xx:
        raise RuntimeError(f"OTP confirmations failed: {confirmed.extra.get('error_samples')}")
    return [json.loads(body)["token"] for _status, body, _t in answers]


def run(args: argparse.Namespace) -> dict:
    config = GunicornConfig(workers=args.workers, threads=args.threads,
                            worker_class=args.worker_class)
    threads, connections = args.wrk_threads, args.connections
    per_thread = -(-args.beneficiaries // threads)
    slice_size = per_thread + -(-connections // threads) + 1
    total_members = threads * slice_size           # includes the abandoned reserve
    accounts = -(-total_members // PER_ACCOUNT)
    pool = args.pool_size or args.threads
    settings = otp_settings(args, pool)
    results: dict = {"benchmark": "registration", "server": config.describe(),
                     "database_pool_size": pool, "machine_cpus": os.cpu_count(),
                     "beneficiaries_asked": args.beneficiaries, "accounts": accounts,
                     "rate_limit_storage": "redis" if args.redis_url else "memory",
                     "phases": []}
    log(f"{accounts} accounts, {args.beneficiaries} beneficiaries; {config.describe()}, "
        f"pool {pool}; wrk -t{threads} -c{connections}")
    ensure_wrk()
    with BenchInstance(args.server_url, settings) as instance:
        log(f"database {instance.name} migrated, pack installed")
        with Gunicorn(instance, config) as server:
            try:
                return measure(args, instance, server, results, accounts, total_members,
                               per_thread)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}\n--- gunicorn log:\n{server.log_tail()}") from None


def measure(args: argparse.Namespace, instance: BenchInstance, server: Gunicorn, results: dict,
            accounts: int, total_members: int, per_thread: int) -> dict:
    threads, connections = args.wrk_threads, args.connections
    tokens = sign_in(server, instance, mobiles(accounts), args.sign_in_concurrency, results)

    # Member i goes to account i % accounts: an account's members are spread over the run.
    numbers = aadhaar_numbers(total_members)
    requests_file = instance.tmp / "beneficiaries.tsv"
    write_requests(requests_file, (
        ("POST", "/api/v1/beneficiaries", tokens[i % accounts], member(i, numbers[i]))
        for i in range(total_members)))
    added = replay_server("POST /api/v1/beneficiaries", server, instance, requests_file,
                          per_thread=per_thread, threads=threads, connections=connections,
                          timeout_s=args.timeout, py_spy=args.py_spy)
    log(added.line())
    results["phases"].append(added.as_dict())
    results["beneficiaries_per_second"] = round(added.rate, 1)
    if added.non_2xx or added.extra["socket_errors"]:
        raise RuntimeError(f"beneficiaries: {added.non_2xx} non-2xx, "
                           f"{added.extra['socket_errors']} socket errors: "
                           f"{added.extra.get('error_samples')}")

    health_file = instance.tmp / "healthz.tsv"
    health_per_thread = -(-args.healthz_requests // threads)
    write_requests(health_file, [("GET", "/healthz", None, None)]
                   * (threads * (health_per_thread + connections + 1)))
    baseline = replay("GET /healthz", server.base, health_file, per_thread=health_per_thread,
                      threads=threads, connections=connections, timeout_s=args.timeout,
                      meter=CpuMeter(server, instance))
    log(baseline.line())
    results["phases"].append(baseline.as_dict())
    if baseline.non_2xx or baseline.extra["socket_errors"]:
        raise RuntimeError(f"healthz: {baseline.non_2xx} non-2xx, "
                           f"{baseline.extra['socket_errors']} socket errors")
    errors = server.log_tail()
    if "Traceback" in errors or "[ERROR]" in errors:
        results["server_log_tail"] = errors
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beneficiaries", type=int, default=20000)
    parser.add_argument("--healthz-requests", type=int, default=20000)
    add_server_bench_options(parser)
    parser.add_argument("--worker-class", default=os.environ.get("BENCH_WORKER_CLASS", "gthread"))
    parser.add_argument("--pool-size", type=int, default=0,
                        help="DATABASE_POOL_SIZE per worker (default: --threads)")
    parser.add_argument("--sign-in-concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=300,
                        help="hard limit of each load phase, seconds")
    parser.add_argument("--total-timeout", type=float, default=1200,
                        help="hard limit of the whole run, seconds")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--py-spy", metavar="FILE",
                        help="profile the gunicorn workers during the beneficiaries phase with "
                             "py-spy (installed if missing) into FILE (collapsed stacks)")
    args = parser.parse_args()

    return run_bounded(run, args)


if __name__ == "__main__":
    sys.exit(main())
