"""Availability with a warm cache: throughput of the public CoWIN search
GET /api/v2/appointment/sessions/public/findByDistrict as a share of a trivial JSON
endpoint (GET /healthz) served by the same gunicorn in the same run. Method and figures:
docs/performance.md.

    .venv/bin/python bench/availability.py [--requests 30000] [--redis-url URL] [--json out.json]

Set-up (not timed): a fresh database with the India pack; --facilities facilities spread
over the pack's first --districts districts, each with a session on each of --days days
(three slots, published with the services). Settings: AVAILABILITY_CACHE_SECONDS=86400 (the
cache never expires during the run), SEARCH_LIMITS_PER_IP=100000000/minute (all requests
come from 127.0.0.1). The response cache is each worker's memory by default, Redis with
--redis-url (then also the rate-limit storage).

Phases, all with wrk and 64 keep-alive connections on the same server:
1. warm-up (not counted as a figure): every district x date key, requested over and over
   so that every worker has every key;
2. the figure: --requests findByDistrict requests cycling over the districts x dates;
3. --requests GET /healthz;
4. the figure again, to see the run-to-run spread within one run.
The share is phase 2 (and 4) over phase 3. Exits non-zero on any non-2xx answer or socket
error; gunicorn is stopped and the database dropped in every case.
"""

from __future__ import annotations

import argparse
import os
import sys
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    run_bounded,
    DEFAULT_SERVER_URL, BenchInstance, CpuMeter, Gunicorn, GunicornConfig, InProcessApp,
    ensure_wrk, log, replay, write_requests,
)

SLOTS = "09:00-11:00;11:00-13:00;14:00-16:00"



def publish(instance: BenchInstance, facilities: int, districts: int, days: int
            ) -> tuple[list[int], list[str]]:
    """District ids and CoWIN dates (DD-MM-YYYY) that have sessions."""
    from sqlalchemy import text

    from cowin_kit.core.db import get_session
    from cowin_kit.scheduling.sessions import publish_session, upsert_facility

    with InProcessApp(instance):
        session = get_session()
        places = session.execute(text(
            "SELECT id, code FROM location WHERE level = 2 ORDER BY id LIMIT :n"),
            {"n": districts}).all()
        first = datetime.now(zoneinfo.ZoneInfo("Asia/Kolkata")).date() + timedelta(days=1)
        dates = [first + timedelta(days=d) for d in range(days)]
        for n in range(facilities):
            _id, code = places[n % len(places)]
            facility = upsert_facility(session, code=f"AV{n:05d}", name=f"Centre {n}",
                                       location_code=code, address=f"{n} Hospital Road",
                                       postal_code=str(110001 + n % 50),
                                       fee_type="Paid" if n % 10 == 0 else "Free")
            for day in dates:
                publish_session(session, facility=facility, session_date=day,
                                product_code=("COVISHIELD", "COVAXIN")[n % 2], slots=SLOTS,
                                capacity_by_dose={1: 100, 2: 50})
        session.commit()
    return [p[0] for p in places], [d.strftime("%d-%m-%Y") for d in dates]


def run(args: argparse.Namespace) -> dict:
    config = GunicornConfig(workers=args.workers, threads=args.threads)
    threads, connections = args.wrk_threads, args.connections
    per_thread = -(-args.requests // threads)
    settings = {"DATABASE_POOL_SIZE": args.threads, "AVAILABILITY_CACHE_SECONDS": 86400,
                "SEARCH_LIMITS_PER_IP": "100000000/minute"}
    if args.redis_url:
        settings["REDIS_URL"] = args.redis_url
    results: dict = {"benchmark": "availability", "server": config.describe(),
                     "machine_cpus": os.cpu_count(),
                     "cache": "redis" if args.redis_url else "memory (per worker)",
                     "phases": []}
    ensure_wrk()
    with BenchInstance(args.server_url, settings) as instance:
        districts, dates = publish(instance, args.facilities, args.districts, args.days)
        keys = [f"/api/v2/appointment/sessions/public/findByDistrict?district_id={d}&date={day}"
                for d in districts for day in dates]
        results.update(keys=len(keys), facilities=args.facilities, districts=len(districts),
                       days=len(dates))
        log(f"{len(keys)} district x date keys, {args.facilities} facilities")
        needed = threads * (per_thread + connections + 1)
        search_file = instance.tmp / "search.tsv"
        # a stride coprime with the key count, so neighbouring requests ask different keys
        write_requests(search_file, [("GET", keys[(i * 7) % len(keys)], None, None)
                                     for i in range(needed)])
        health_file = instance.tmp / "healthz.tsv"
        write_requests(health_file, [("GET", "/healthz", None, None)] * needed)
        with Gunicorn(instance, config) as server:
            if args.redis_url:
                import redis

                client = redis.Redis.from_url(args.redis_url)
                for key in client.scan_iter("cowin-kit:response:*"):
                    client.delete(key)
            phases = [("warm-up", search_file, min(per_thread, 40 * len(keys))),
                      ("GET findByDistrict (warm cache)", search_file, per_thread),
                      ("GET /healthz", health_file, per_thread),
                      ("GET findByDistrict (warm cache), again", search_file, per_thread)]
            for name, path, count in phases:
                phase = replay(name, server.base, path, per_thread=count, threads=threads,
                               connections=connections, timeout_s=args.timeout,
                               meter=CpuMeter(server, instance))
                log(phase.line())
                if phase.non_2xx or phase.extra["socket_errors"]:
                    raise RuntimeError(f"{name}: {phase.non_2xx} non-2xx, "
                                       f"{phase.extra['socket_errors']} socket errors: "
                                       f"{phase.extra.get('error_samples')}\n{server.log_tail()}")
                phase.extra["app_cpu_ms_per_request"] = round(
                    1000 * phase.extra["app_cpu_s"] / max(phase.requests, 1), 3)
                results["phases"].append(phase.as_dict())
    search, health, again = (results["phases"][i]["per_second"] for i in (1, 2, 3))
    results["share_of_healthz_pct"] = round(100 * search / health, 1)
    results["share_of_healthz_pct_again"] = round(100 * again / health, 1)
    log(f"findByDistrict {search}/s and {again}/s, /healthz {health}/s: "
        f"{results['share_of_healthz_pct']} % and {results['share_of_healthz_pct_again']} %")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30000)
    parser.add_argument("--facilities", type=int, default=200)
    parser.add_argument("--districts", type=int, default=20)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 3)))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", 4)))
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--redis-url", default="",
                        help="response cache and rate limits in Redis (default: worker memory)")
    parser.add_argument("--server-url", default=os.environ.get("COWIN_KIT_BENCH_DATABASE_URL",
                                                               DEFAULT_SERVER_URL))
    parser.add_argument("--timeout", type=float, default=300, help="hard limit of a phase, s")
    parser.add_argument("--total-timeout", type=float, default=900, help="hard limit of the run, s")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    return run_bounded(run, args)


if __name__ == "__main__":
    sys.exit(main())
