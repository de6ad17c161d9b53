"""Online conversion benchmark: a populated audit trail (or dose table) converted to
monthly partitions by the code of `cowin-kit db partition` while a writer keeps inserting
audit events (doses). Method and figures: docs/partitioning.md ("What the conversion
costs").

    .venv/bin/python bench/partitions.py [--rows 1000000] [--months 24] [--batch 10000]
        [--table audit_event|dose]

With ``--table dose``: the India pack installed, a facility and 1,000 people made through
the kit, the database taken back to the revision before 0034, --rows doses of those people
(a certificate for every tenth) over --months months, then migrated to the newest; the
conversion includes the claim table ``dose_key`` and the foreign keys' validation.

A fresh PostgreSQL database on COWIN_KIT_TEST_DATABASE_URL's server (dropped at the end),
migrated to the revision before 0032, --rows audit events spread over --months months
(set-based SQL), then migrated to the newest (the table stays plain: it has rows). Then,
timed: prepare, the batched copy (rows per second), the swap (how long the table's lock
was held); meanwhile one thread inserts audit events one per transaction, as requests do:
how many, and the slowest insert (what a request waits for at the swap). The ceiling of
the same run: the writer alone for --ceiling-seconds before the conversion starts, its
insert latency without a conversion beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from cowin_kit.core import migrate, partitioning  # noqa: E402
from cowin_kit.core.db import make_engine  # noqa: E402
from cowin_kit.testing.databases import create_database, drop_database  # noqa: E402


WRITES = {
    "audit_event": text(
        "INSERT INTO audit_event (occurred_at, actor_type, actor_id, action, object_type, "
        "object_id, details) VALUES (now(), 'citizen', '1', 'bench.write', 'x', '1', '{}')"),
    "dose": text(
        "INSERT INTO dose (beneficiary_id, series, dose_number, product_id, administered_at, "
        "lot, facility_id, vaccinator, recorded_at, source) SELECT beneficiary_id, "
        "'bench.write', :n, product_id, now(), 'W', facility_id, 'w', now(), 'recorded' "
        "FROM dose WHERE id = (SELECT min(id) FROM dose)"),
}
WRITTEN = {"audit_event": "SELECT count(*) FROM audit_event WHERE action = 'bench.write'",
           "dose": "SELECT count(*) FROM dose WHERE series = 'bench.write'"}


def load_audit(engine, url, options) -> tuple[float, str]:
    """At the revision before 0032: --rows audit events. (seconds, table size)"""
    revisions = migrate.all_revisions()
    migrate.upgrade(engine, revisions[revisions.index("0032") - 1])
    hours = options.months * 730
    started = time.monotonic()
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO audit_event (occurred_at, actor_type, actor_id, action, "
            "object_type, object_id, details, location_id) SELECT now() - "
            "make_interval(secs => (g::float8 / :rows) * :hours * 3600), 'staff', "
            "'user' || (g % 5000), 'dose.record', 'dose', g::text, "
            "jsonb_build_object('channel', 'api', 'n', g), g % 750 "
            "FROM generate_series(1, :rows) g"), {"rows": options.rows, "hours": hours})
    return time.monotonic() - started, _vacuum(engine, "audit_event")


def load_doses(engine, url, options) -> tuple[float, str]:
    """People and a facility made through the kit, then at the revision before 0034:
    --rows doses and a certificate for every tenth. (seconds, table size)"""
    import tempfile

    from cowin_kit.config.packs import load_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.testing import accounts_with_members, example_pack, make_reg_app, publish

    migrate.upgrade(engine)
    with tempfile.TemporaryDirectory() as folder:
        app = make_reg_app(url, Path(folder), load_pack(example_pack("IN")))
        publish(app, code="F-TVM-1")
        accounts_with_members(app, 1000)
        get_database(app).dispose()
    revisions = migrate.all_revisions()
    migrate.downgrade(engine, revisions[revisions.index("0034") - 1])
    started = time.monotonic()
    with engine.begin() as connection:
        people = list(connection.scalars(text("SELECT id FROM beneficiary ORDER BY id")))
        product = connection.scalar(text("SELECT min(id) FROM vaccine_product"))
        facility = connection.scalar(text("SELECT min(id) FROM facility"))
        connection.execute(text(
            "INSERT INTO dose (beneficiary_id, series, dose_number, product_id, "
            "administered_at, lot, facility_id, vaccinator, recorded_at, idempotency_key, "
            "source) SELECT (:people)[1 + g % :n], 'bench-' || (g / :n), 1, :product, "
            "now() - make_interval(secs => (g::float8 / :rows) * :hours * 3600), "
            "'LOT' || (g % 900), :facility, 'v', now(), 'key-' || g, 'imported' "
            "FROM generate_series(1, :rows) g"),
            {"people": people, "n": len(people), "product": product, "facility": facility,
             "rows": options.rows, "hours": options.months * 730})
        connection.execute(text(
            "INSERT INTO certificate (id, beneficiary_id, dose_id, provisional, key_id, "
            "issued_at, expires_at) SELECT gen_random_uuid()::text, beneficiary_id, id, false, "
            "'k', now(), now() FROM dose WHERE id % 10 = 0"))
    return time.monotonic() - started, _vacuum(engine, "dose")


def _vacuum(engine, table: str) -> str:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"VACUUM ANALYZE {table}"))
        return connection.scalar(text(f"SELECT pg_size_pretty(pg_total_relation_size('{table}'))"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--table", choices=("audit_event", "dose"), default="audit_event")
    parser.add_argument("--ceiling-seconds", type=float, default=3.0,
                        help="the writer alone first: its latency without a conversion")
    options = parser.parse_args()
    server = os.environ.get("COWIN_KIT_TEST_DATABASE_URL")
    if not server:
        print("set COWIN_KIT_TEST_DATABASE_URL to a PostgreSQL server", file=sys.stderr)
        return 2
    url, name = create_database(server, "cowin_kit_bench_partitions")
    engine = make_engine(url)
    try:
        loaded, size = (load_doses if options.table == "dose" else load_audit)(
            engine, url, options)
        migrate.upgrade(engine)

        stop, latencies, alone = threading.Event(), [], []
        converting = threading.Event()
        writer = make_engine(url)

        def write() -> None:
            n = 0
            while not stop.is_set():
                began = time.monotonic()
                with writer.begin() as connection:
                    connection.execute(WRITES[options.table], {"n": n})
                n += 1
                (latencies if converting.is_set() else alone).append(time.monotonic() - began)
                time.sleep(0.005)

        thread = threading.Thread(target=write)
        thread.start()
        # the ceiling of the same run: the same writer on the same table, no conversion
        time.sleep(options.ceiling_seconds)
        converting.set()
        spec = partitioning.BY_TABLE[options.table]
        now = datetime.now(timezone.utc)
        try:
            t0 = time.monotonic()
            partitioning.prepare(engine, spec, now)
            t1 = time.monotonic()
            while partitioning.copy_batch(engine, spec, options.batch):
                pass
            t2 = time.monotonic()
            partitioning.swap(engine, spec, options.batch, now)
            t3 = time.monotonic()
            time.sleep(0.5)
        finally:
            stop.set()
            thread.join()
            writer.dispose()
        with engine.connect() as connection:
            rows = connection.scalar(text(f"SELECT count(*) FROM {options.table}"))
            parts = len(partitioning.partitions(connection, spec))
            written = connection.scalar(text(WRITTEN[options.table]))
        latencies.sort()
        alone.sort()
        result = {
            "rows": options.rows, "months": options.months, "batch": options.batch,
            "table_size": size, "load_s": round(loaded, 1),
            "prepare_s": round(t1 - t0, 2), "copy_s": round(t2 - t1, 1),
            "copy_rows_per_s": round(options.rows / (t2 - t1)),
            "swap_s": round(t3 - t2, 3), "partitions": parts, "table": options.table,
            "rows_after": rows, "concurrent_inserts": len(latencies),
            "writer_inserts": len(latencies) + len(alone), "writer_inserts_kept": written,
            "insert_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "insert_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
            "insert_max_ms": round(latencies[-1] * 1000, 1),
            "ceiling_inserts_without_conversion": len(alone),
            "ceiling_insert_p50_ms": round(alone[len(alone) // 2] * 1000, 1) if alone else None,
            "ceiling_insert_p99_ms": round(alone[int(len(alone) * 0.99)] * 1000, 1)
            if alone else None,
        }
        print(json.dumps(result, indent=2))
        kept = len(latencies) + len(alone)
        return 0 if written == kept and rows == options.rows + written else 1
    finally:
        engine.dispose()
        drop_database(server, name)


if __name__ == "__main__":
    sys.exit(main())
