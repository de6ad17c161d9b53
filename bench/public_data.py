"""The public dashboard and open data at national size: how long a figure takes to compute
when it is not in the cache (once a minute per URL and language), and what a cached answer
costs. Method and figures: docs/performance.md, "Public dashboard and open data".

    .venv/bin/python bench/public_data.py [--facilities 20000] [--sessions 100000]
        [--days 365] [--repeat 5] [--json out.json]

Set-up (not timed, COPY into a fresh PostgreSQL database with the India pack):
--facilities facilities spread over the pack's places, --sessions sessions published for
today among them, and the dose tally of --days days: for every day and every place, doses
of three products, three dose numbers, three sexes and eleven age groups (about 300 rows
a place a day, a few hundred to a few thousand doses each: a national programme's day).

Timed, in the benchmark's process (the app as a gunicorn worker builds it), each URL
--repeat times with the cache off (PUBLIC_DATA_CACHE_SECONDS=0), then with it on (the
first answer fills it, the others are hits): /api/v1/open-data/summary for the country and
for a state, /statistics/ (the page), and doses.csv of the last 30 days for the country (by
state) and for a state (by district).
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    DEFAULT_SERVER_URL, BenchInstance, InProcessApp, log, run_bounded,
)

AGES = (0, 1, 5, 12, 15, 18, 25, 35, 45, 60, 75)


def build(instance: BenchInstance, facilities: int, sessions: int, days: int) -> dict:
    from sqlalchemy import text

    from cowin_kit.core.db import get_database

    started = time.monotonic()
    rng = random.Random(2025)
    with InProcessApp(instance) as app:
        engine = get_database(app).engine
        with engine.begin() as connection:
            places = [row[0] for row in connection.execute(text("SELECT id FROM location"))]
            products = [row[0] for row in connection.execute(text(
                "SELECT id FROM vaccine_product WHERE code IN "
                "('COVISHIELD', 'COVAXIN', 'PENTA')"))]
            genders = [row[0] for row in connection.execute(text("SELECT id FROM gender"))]
            raw = connection.connection.driver_connection
            with raw.cursor() as cursor:
                with cursor.copy("COPY facility (code, name, names, location_id, address, "
                                 "facility_type, fee_type, created_at) FROM STDIN") as copy:
                    for i in range(facilities):
                        copy.write_row((f"B-{i:06d}", f"Centre {i}", "{}", rng.choice(places),
                                        "", "public", "Free", datetime.now()))
            ids = [row[0] for row in connection.execute(text(
                "SELECT id FROM facility WHERE code LIKE 'B-%'"))]
            today = datetime.now(zoneinfo.ZoneInfo("Asia/Kolkata")).date()
            with raw.cursor() as cursor:
                with cursor.copy("COPY vaccination_session (id, facility_id, session_date, "
                                 "product_id, min_age, fee, status, created_at, version, kind, "
                                 "site) FROM STDIN") as copy:
                    for i in range(sessions):
                        copy.write_row((f"00000000-0000-4000-8000-{i:012d}", ids[i % len(ids)],
                                        today, products[0], 18, 0, "published",
                                        datetime.now(), 1, "fixed", ""))
                rows = 0
                with cursor.copy("COPY dose_tally (day, location_id, product_id, series, "
                                 "dose_number, gender_id, age, count) FROM STDIN") as copy:
                    for offset in range(days):
                        day = today - timedelta(days=offset)
                        for place in places:
                            for product in products:
                                series = "dtp" if product == products[2] else ""
                                for number in (1, 2, 3):
                                    for gender in genders:
                                        for age in AGES:
                                            copy.write_row((day, place, product, series,
                                                            number, gender, age,
                                                            rng.randint(1, 40)))
                                            rows += 1
            connection.execute(text(
                "INSERT INTO dose_total SELECT location_id, product_id, series, dose_number, "
                "gender_id, age, SUM(count) FROM dose_tally GROUP BY location_id, product_id, "
                "series, dose_number, gender_id, age"))
            connection.execute(text("ANALYZE"))
    return {"tally_rows": rows, "places": len(places), "facilities": facilities,
            "sessions_today": sessions, "days": days,
            "build_seconds": round(time.monotonic() - started, 1)}


URLS = ("/api/v1/open-data/summary", "/api/v1/open-data/summary?area=IN-KL", "/statistics/",
        "/api/v1/open-data/doses.csv", "/api/v1/open-data/doses.csv?area=IN-KL&from={month_ago}")


def measure(instance: BenchInstance, repeat: int, cache_seconds: int) -> dict:
    from cowin_kit.serving import settle

    month_ago = (datetime.now(zoneinfo.ZoneInfo("Asia/Kolkata")).date()
                 - timedelta(days=30)).isoformat()
    out = {}
    with InProcessApp(instance, push_context=False,
                      PUBLIC_DATA_CACHE_SECONDS=cache_seconds) as app:
        settle(app)
        client = app.test_client()
        for template in URLS:
            url = template.format(month_ago=month_ago)
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                answer = client.get(url, headers={"Accept-Encoding": "identity"})
                times.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    raise RuntimeError(f"{url}: {answer.status_code} {answer.get_data()[:200]}")
            out[url] = {"first_ms": round(times[0], 1),
                        "median_ms": round(statistics.median(times), 1),
                        "max_ms": round(max(times), 1), "bytes": len(answer.get_data())}
            log(f"{url} (cache {cache_seconds} s): first {times[0]:.1f} ms, median "
                f"{statistics.median(times):.1f} ms")
    return out


def profile(instance: BenchInstance, url: str) -> None:
    """cProfile of one uncached answer (its top 25 functions by cumulative time)."""
    import cProfile
    import pstats

    with InProcessApp(instance, push_context=False, PUBLIC_DATA_CACHE_SECONDS=0) as app:
        client = app.test_client()
        profiler = cProfile.Profile()
        profiler.enable()
        client.get(url)
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)


def run(args: argparse.Namespace) -> dict:
    with BenchInstance(args.server_url, {"PUBLIC_DATA_CACHE_SECONDS": 60}) as instance:
        log("building the data")
        built = build(instance, args.facilities, args.sessions, args.days)
        log(f"built: {built}")
        if args.profile:
            profile(instance, args.profile)
        return {"built": built,
                "uncached": measure(instance, args.repeat, 0),
                "cached": measure(instance, args.repeat, 60)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--facilities", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", default=None)
    parser.add_argument("--profile", metavar="URL", default=None,
                        help="print a cProfile of one uncached answer of URL first")
    parser.add_argument("--server-url", default=DEFAULT_SERVER_URL)
    parser.add_argument("--total-timeout", type=float, default=1800)
    return run_bounded(run, parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
