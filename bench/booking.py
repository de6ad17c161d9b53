"""Booking under contention: many citizens book the same few sessions at once, over HTTP
against gunicorn and PostgreSQL on this machine; then the seats are counted back to prove
that none was sold twice. Method and figures: docs/performance.md.

    .venv/bin/python bench/booking.py [--bookings 10000] [--sessions 20] [--json out.json]

Set-up (not timed, not over HTTP): a fresh database with the India pack (BenchInstance);
SESSIONS facilities with one session each, the day after tomorrow (India time), three
slots, published with the service (`publish_session`). The citizens are made directly in
the database: one account with one member through the services (`add_beneficiary`, so the
member's encrypted fields are real), then that row copied with INSERT ... SELECT
generate_series into one account and one member per booking (distinct mobile, reference ID
and ID-number hash); each account's token is issued with the app's keyring, as sign-in
does. Signing in through OTP over HTTP is measured by bench/registration.py, not here.
History, as a running programme has (`add_history`): as many other people, each with a
live appointment, and a cancelled appointment per citizen, on a session of their own, so
that ANALYZE at the end of the set-up sees tables and indexes of a realistic size.

The figure (wrk, 64 keep-alive connections): POST /api/v1/appointments, one pre-generated
request per account (its own token, its member, dose 1), request i on session i % SESSIONS
and slot (i // SESSIONS) % 3. The first --tight sessions have fewer dose-1 seats than the
requests sent to them, so the last seats are fought over and those sessions answer 409
fully_booked once full; the rest have seats for everyone.

Afterwards, the oversell check in SQL: for every session and dose, `booked` equals the
number of booked appointments and is at most the capacity; the same for every slot.
Exits non-zero on an answer other than 201 or 409 fully_booked, a socket error, any
oversell, or past --total-timeout; gunicorn is stopped and the database dropped in every case.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    run_bounded,
    BenchInstance, Gunicorn, GunicornConfig, InProcessApp, add_server_bench_options,
    ensure_wrk, log, replay_server, write_requests,
)

SLOTS = "09:00-11:00;11:00-13:00;14:00-16:00"
SLOT_LABELS = ["09:00-11:00", "11:00-13:00", "14:00-16:00"]



def make_citizens(instance: BenchInstance, count: int, sessions: int, ample: int,
                  tight: int, tight_seats: int, history: bool = True
                  ) -> tuple[list[str], list[tuple[int, str]]]:
    """Sessions (ids) and ``count`` (account token, member reference ID) pairs; with
    ``history``, add_history's appointments of other people too."""
    from sqlalchemy import text

    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_session
    from cowin_kit.registration.models import CitizenAccount
    from cowin_kit.registration.services import add_beneficiary
    from cowin_kit.scheduling.sessions import publish_session, upsert_facility
    from cowin_kit.core.security import keyring
    from registration import aadhaar_numbers

    with InProcessApp(instance):
        session = get_session()
        pack = active_pack()
        district = session.scalar(text("SELECT code FROM location WHERE level = 2 ORDER BY id"))
        day = datetime.now(zoneinfo.ZoneInfo("Asia/Kolkata")).date() + timedelta(days=2)
        session_ids = []
        for n in range(sessions):
            facility = upsert_facility(session, code=f"BOOK{n:04d}", name=f"Booking Centre {n}",
                                       location_code=district, postal_code="110001")
            seats = tight_seats if n < tight else ample
            published = publish_session(session, facility=facility, session_date=day,
                                        product_code="COVISHIELD", slots=SLOTS,
                                        capacity_by_dose={1: seats, 2: seats})
            session_ids.append(published.id)
        session.commit()

        template = CitizenAccount(mobile="+919000000000")
        session.add(template)
        session.flush()
        add_beneficiary(session, pack, template, name="Bench Person", birth_year=1980,
                        gender="F", id_type="aadhaar", id_number=aadhaar_numbers(1)[0],
                        consent_version="v1")
        session.commit()
        params = {"n": count - 1, "t": template.id}
        session.execute(text(
            "INSERT INTO citizen_account (mobile, locale, created_at) "
            "SELECT '+9190' || lpad(i::text, 8, '0'), NULL, now() "
            "FROM generate_series(1, :n) AS i"), params)
        session.execute(text(
            "INSERT INTO beneficiary (reference_id, account_id, name, birth_year, birth_date, "
            " gender_id, id_type_id, id_number_hash, id_number_encrypted, id_number_last4, "
            " comorbidity, consent_version, secret_code_encrypted, created_at, updated_at) "
            "SELECT 'B' || lpad(i::text, 13, '0'), a.id, b.name || ' ' || i, b.birth_year, "
            " b.birth_date, b.gender_id, b.id_type_id, md5('bench-id-' || i), "
            " b.id_number_encrypted, b.id_number_last4, b.comorbidity, b.consent_version, "
            " b.secret_code_encrypted, now(), now() "
            "FROM generate_series(1, :n) AS i "
            "JOIN citizen_account a ON a.mobile = '+9190' || lpad(i::text, 8, '0') "
            "JOIN beneficiary b ON b.account_id = :t"), params)
        session.commit()
        if history:
            add_history(session, district, day, count, params)
        ring = keyring()
        pairs = [(ring.issue_citizen_token(account_id, mobile, epoch), reference)
                 for account_id, mobile, epoch, reference in session.execute(text(
                     "SELECT a.id, a.mobile, a.token_epoch, b.reference_id "
                     "FROM citizen_account a "
                     "JOIN beneficiary b ON b.account_id = a.id "
                     "WHERE a.mobile NOT LIKE '+9180%' ORDER BY a.id"))]
        session.execute(text("ANALYZE"))
        session.commit()
    if len(pairs) != count:
        raise RuntimeError(f"{len(pairs)} citizens made, {count} wanted")
    return session_ids, pairs


def add_history(session, district: str, day, count: int, params: dict) -> None:
    """What a running programme's tables hold before a stampede: ``count`` other people
    (accounts and members copied from the template) with a live appointment each, and one
    cancelled appointment per citizen of the benchmark, all on a session of their own
    whose seat counters say so. PostgreSQL's statistics (ANALYZE at the end of the set-up)
    then describe tables and indexes of a realistic size; taken on an empty appointment
    table (and autovacuum is off on the benchmark machine's server) they made plans, kept
    by prepared statements for the whole run, that read every live appointment per booking."""
    from sqlalchemy import text

    from cowin_kit.scheduling.sessions import publish_session, upsert_facility

    facility = upsert_facility(session, code="BOOKHIST", name="History Centre",
                               location_code=district, postal_code="110001")
    history = publish_session(session, facility=facility, session_date=day,
                              product_code="COVISHIELD", slots=SLOTS,
                              capacity_by_dose={1: count, 2: 0})
    session.commit()
    session.execute(text(
        "INSERT INTO citizen_account (mobile, locale, created_at) "
        "SELECT '+9180' || lpad(i::text, 8, '0'), NULL, now() "
        "FROM generate_series(1, :n) AS i"), {"n": count})
    session.execute(text(
        "INSERT INTO beneficiary (reference_id, account_id, name, birth_year, birth_date, "
        " gender_id, id_type_id, id_number_hash, id_number_encrypted, id_number_last4, "
        " comorbidity, consent_version, secret_code_encrypted, created_at, updated_at) "
        "SELECT 'H' || lpad(i::text, 13, '0'), a.id, b.name || ' H' || i, b.birth_year, "
        " b.birth_date, b.gender_id, b.id_type_id, md5('bench-history-' || i), "
        " b.id_number_encrypted, b.id_number_last4, b.comorbidity, b.consent_version, "
        " b.secret_code_encrypted, now(), now() "
        "FROM generate_series(1, :n) AS i "
        "JOIN citizen_account a ON a.mobile = '+9180' || lpad(i::text, 8, '0') "
        "JOIN beneficiary b ON b.account_id = :t"), {"n": count, "t": params["t"]})
    slot = session.scalar(text("SELECT min(id) FROM session_slot WHERE session_id = :s"),
                          {"s": history.id})
    session.execute(text(
        "INSERT INTO appointment (id, booking_id, beneficiary_id, session_id, slot_id, "
        " dose_number, status, reschedule_count, account_id, created_at, updated_at) "
        "SELECT gen_random_uuid()::text, gen_random_uuid()::text, b.id, CAST(:s AS varchar), "
        " :slot, 1, CASE WHEN b.reference_id LIKE 'H%' THEN 'booked' ELSE 'cancelled' END, "
        " 0, b.account_id, now(), now() FROM beneficiary b"), {"s": history.id, "slot": slot})
    session.execute(text(
        "UPDATE session_dose_capacity SET booked = :n WHERE session_id = :s AND dose_number = 1"),
        {"n": count, "s": history.id})
    session.execute(text("UPDATE session_slot SET capacity = CASE WHEN id = :slot THEN :n "
                         "ELSE 0 END, booked = CASE WHEN id = :slot THEN :n ELSE 0 END "
                         "WHERE session_id = :s"), {"n": count, "s": history.id, "slot": slot})
    session.commit()


OVERSELL_SQL = """
SELECT 'session dose' AS kind, c.session_id || ' dose ' || c.dose_number AS what,
       c.capacity, c.booked, count(a.id) AS appointments
FROM session_dose_capacity c
LEFT JOIN appointment a ON a.session_id = c.session_id AND a.dose_number = c.dose_number
                       AND a.status = 'booked'
GROUP BY c.session_id, c.dose_number, c.capacity, c.booked
UNION ALL
SELECT 'slot', s.session_id || ' slot ' || s.id, s.capacity, s.booked, count(a.id)
FROM session_slot s
LEFT JOIN appointment a ON a.slot_id = s.id AND a.status = 'booked'
GROUP BY s.session_id, s.id, s.capacity, s.booked
"""


def oversell_check(instance: BenchInstance) -> dict:
    from sqlalchemy import create_engine, text

    engine = create_engine(instance.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(OVERSELL_SQL)).all()
            appointments = connection.scalar(text(
                "SELECT count(*) FROM appointment WHERE status = 'booked'"))
            duplicates = connection.scalar(text(
                "SELECT count(*) FROM (SELECT beneficiary_id, dose_number FROM appointment "
                "WHERE status = 'booked' GROUP BY 1, 2 HAVING count(*) > 1) d"))
    finally:
        engine.dispose()
    mismatched = [r for r in rows if r.booked != r.appointments]
    over = [r for r in rows if r.booked > r.capacity or r.appointments > r.capacity]
    doses = [r for r in rows if r.kind == "session dose"]
    return {"booked_appointments": appointments,
            "seats_booked_by_counters": sum(r.booked for r in doses),
            "rows_checked": len(rows),
            "counter_mismatches": len(mismatched), "over_capacity": len(over),
            "duplicate_live_appointments": duplicates,
            "full_sessions": sum(1 for r in doses if r.booked == r.capacity and r.capacity),
            "oversold": len(mismatched) + len(over) + duplicates,
            "samples": [list(map(str, r)) for r in (mismatched + over)[:5]]}


def run(args: argparse.Namespace) -> dict:
    config = GunicornConfig(workers=args.workers, threads=args.threads)
    threads, connections = args.wrk_threads, args.connections
    per_thread = -(-args.bookings // threads)
    slice_size = per_thread + -(-connections // threads) + 1
    total = threads * slice_size
    per_session = -(-total // args.sessions)
    tight_seats = max(1, per_session // 2)
    ample = per_session + 10
    settings = {"DATABASE_POOL_SIZE": args.threads, "BOOKING_LIMITS_PER_ACCOUNT": "60/hour"}
    if args.redis_url:
        settings["REDIS_URL"] = args.redis_url
    results: dict = {"benchmark": "booking", "server": config.describe(),
                     "history": args.history,
                     "machine_cpus": os.cpu_count(), "sessions": args.sessions,
                     "accounts": total, "bookings_asked": args.bookings,
                     "seats": {"tight_sessions": args.tight, "tight_dose1_seats": tight_seats,
                               "other_dose1_seats": ample, "requests_per_session": per_session},
                     "rate_limit_storage": "redis" if args.redis_url else "memory",
                     "phases": []}
    ensure_wrk()
    with BenchInstance(args.server_url, settings) as instance:
        log(f"database {instance.name}: making {total} citizens and {args.sessions} sessions")
        session_ids, pairs = make_citizens(instance, total, args.sessions, ample, args.tight,
                                           tight_seats, history=args.history)
        requests_file = instance.tmp / "bookings.tsv"
        write_requests(requests_file, (
            ("POST", "/api/v1/appointments", token,
             json.dumps({"session_id": session_ids[i % args.sessions],
                         "slot": SLOT_LABELS[(i // args.sessions) % 3],
                         "beneficiaries": [reference], "dose": 1}, separators=(",", ":")))
            for i, (token, reference) in enumerate(pairs)))
        with Gunicorn(instance, config) as server:
            booked = replay_server("POST /api/v1/appointments", server, instance,
                                   requests_file, per_thread=per_thread, threads=threads,
                                   connections=connections, timeout_s=args.timeout,
                                   py_spy=args.py_spy)
            created = booked.extra["statuses"].get("201", 0)
            booked.extra["bookings_201"] = created
            booked.extra["bookings_per_second"] = round(created / booked.seconds, 1)
            log(booked.line() + f"; {created} booked = {created / booked.seconds:.0f}/s")
            results["phases"].append(booked.as_dict())
            results["bookings_per_second"] = round(created / booked.seconds, 1)
            results["requests_per_second"] = round(booked.rate, 1)
            unexpected = {k: v for k, v in booked.extra["statuses"].items()
                          if k not in ("201", "409")}
            log_tail = server.log_tail()
        check = oversell_check(instance)
        results["oversell_check"] = check
        log(f"oversell check: {check}")
        if unexpected or booked.extra["socket_errors"]:
            raise RuntimeError(f"unexpected answers {unexpected}, "
                               f"{booked.extra['socket_errors']} socket errors: "
                               f"{booked.extra.get('error_samples')}\n{log_tail}")
        if check["oversold"]:
            raise RuntimeError(f"OVERSOLD: {check}")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=10000, help="answers counted")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--tight", type=int, default=2,
                        help="sessions with dose-1 seats for half of their requests")
    add_server_bench_options(parser, redis_help="rate-limit (and cache) storage shared by "
                             "the workers ('' for memory)")
    parser.add_argument("--timeout", type=float, default=300,
                        help="hard limit of the load phase, s")
    parser.add_argument("--total-timeout", type=float, default=900, help="hard limit of the run, s")
    parser.add_argument("--no-history", dest="history", action="store_false",
                        help="start from empty appointment tables (no add_history): the "
                             "set-up of the figures before 2026-11-27 night")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--py-spy", metavar="FILE",
                        help="profile the gunicorn workers during the booking phase with "
                             "py-spy (installed if missing) into FILE (collapsed stacks; "
                             "the figures of such a run are not figures)")
    args = parser.parse_args()

    return run_bounded(run, args)


if __name__ == "__main__":
    sys.exit(main())
