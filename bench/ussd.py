"""USSD benchmark: concurrent USSD sessions stepping through booking, against gunicorn and
PostgreSQL on this machine. Method and figures: docs/performance.md.

    .venv/bin/python bench/ussd.py [--sessions 500] [--json out.json]

Set-up (through the services, in this process): a fresh PostgreSQL database (dropped at
the end) and instance folder, production settings, the India pack, one facility at postal
code 695001 with a session in three days (four slots, seats for everyone), and SESSIONS
callers, each with an account, one registered adult and a booking PIN already set.
Server: `gunicorn cowin_kit.wsgi:app -k gthread -w 3 --threads 4` on a free loopback
port, with an access log of each request's time in the server (gunicorn's %(M)s).

Phase: SESSIONS callers dial at once, each over its own keep-alive connection (a
gateway's), signed with the shared secret, and step through booking: dial, find a
session, by postal code, 695001, the session, a slot, the PIN, yes (8 steps). Reported:
steps/s over the phase, the client's median and p99 (which include waiting in gunicorn's
queue: SESSIONS connections for 12 threads) and the server's median and p99 per step from
the access log (the figure a gateway's timeout is about; target p99 < 300 ms).

Exits non-zero on any non-200 answer, a session that does not end with "Booked", a
count of appointments other than SESSIONS, or past --total-timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    VENV_BIN, BenchInstance, CpuMeter, Gunicorn, GunicornConfig, add_server_bench_options,
    log, percentile, run_bounded,
)

SECRET = "ussd-bench-shared-secret"
PIN = "4826"
SLOTS = "09:00-11:00;11:00-13:00;14:00-16:00;16:00-18:00"


def aadhaar_numbers():
    from stdnum import verhoeff

    body = 434567890120 // 10
    while True:
        body += 1
        text = str(body)
        yield text + verhoeff.calc_check_digit(text)


def mobile(n: int) -> str:
    return f"+9197{n:08d}"


def set_up(instance: BenchInstance, callers: int) -> None:
    from datetime import timedelta

    from cowin_kit import create_app
    from cowin_kit.channels import pins
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.immunization.duelists import today_in
    from cowin_kit.registration import services as registration
    from cowin_kit.scheduling import sessions

    app = create_app({"ENV": "test", "DATABASE_URL": instance.database_url,
                      "INSTANCE_PATH": str(instance.instance), "NOTIFIER": "log"})
    numbers = aadhaar_numbers()
    with app.test_request_context(), get_database(app).session() as session:
        pack = active_pack()
        facility = sessions.upsert_facility(
            session, code="F-USSD-1", name="USSD bench PHC", location_code="IN-KL-TVM",
            postal_code="695001", latitude=8.5, longitude=76.9, fee_type="Free")
        sessions.publish_session(session, facility=facility,
                                 session_date=today_in(pack) + timedelta(days=3),
                                 product_code="COVISHIELD", slots=SLOTS,
                                 capacity_by_dose={1: 4 * callers, 2: 10})
        session.commit()
        for n in range(callers):
            account = registration.account_for_mobile(session, pack, mobile(n), locale="en")
            registration.add_beneficiary(session, pack, account, name=f"Caller {n}",
                                         birth_year=1980, gender="F", id_type="aadhaar",
                                         id_number=next(numbers), consent_version="bench")
            pins.set_pin(session, account, PIN)
    get_database(app).dispose()


class TimedGunicorn(Gunicorn):
    """Gunicorn with an access log of each request's path and time in the server (ms)."""

    def __enter__(self) -> "TimedGunicorn":
        self.access_log = self.instance.tmp / "access.log"
        c = self.config
        command = [str(VENV_BIN / "gunicorn"), "cowin_kit.wsgi:app",
                   "--bind", f"127.0.0.1:{self.port}", "--workers", str(c.workers),
                   "--threads", str(c.threads), "--worker-class", c.worker_class,
                   "--keep-alive", str(c.keepalive), "--backlog", "2048", "--preload",
                   "--worker-connections", "2000",
                   "--log-level", "warning", "--error-logfile", str(self.log_path),
                   "--access-logfile", str(self.access_log),
                   "--access-logformat", "%(U)s %(s)s %(M)s"]
        self.process = subprocess.Popen(command, env=self.instance.env, cwd=self.instance.tmp,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        try:
            self._wait_ready(60)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def step_times(self) -> list[float]:
        times = []
        for line in self.access_log.read_text().splitlines():
            path, _status, millis = line.split()
            if path.startswith("/api/v1/channels/ussd/"):
                times.append(float(millis))
        return sorted(times)


async def caller(host: str, port: int, n: int, latencies: list[float], endings: list[str]):
    reader, writer = await asyncio.open_connection(host, port)
    answers: list[str] = []
    session_id = f"bench-{n}-{time.time_ns()}"
    try:
        for answer in [None, "2", "1", "695001", "1", str(n % 4 + 1), PIN, "1"]:
            if answer is not None:
                answers.append(answer)
            body = urlencode({"sessionId": session_id, "serviceCode": "*384*1#",
                              "phoneNumber": mobile(n), "networkCode": "40410",
                              "text": "*".join(answers)}).encode()
            signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            request = (f"POST /api/v1/channels/ussd/at HTTP/1.1\r\nHost: {host}\r\n"
                       f"Content-Type: application/x-www-form-urlencoded\r\n"
                       f"X-Channel-Signature: {signature}\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            started = time.monotonic()
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _sep, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            text = (await reader.readexactly(length)).decode()
            latencies.append(time.monotonic() - started)
            if b" 200 " not in status_line:
                raise RuntimeError(f"caller {n}: {status_line!r} {text[:200]!r}")
        endings.append(text)
    finally:
        writer.close()


async def all_callers(base: str, callers: int, latencies, endings) -> None:
    host, port = base.removeprefix("http://").split(":")
    await asyncio.gather(*(caller(host, int(port), n, latencies, endings)
                           for n in range(callers)))


def run(args) -> dict:
    settings = {"CHANNELS_SECRET": SECRET, "OTP_LIMITS_PER_IP": "100000/hour",
                "SEARCH_LIMITS_PER_IP": "1000000/hour",
                "BOOKING_LIMITS_PER_ACCOUNT": "1000/hour", "REDIS_URL": ""}
    config = GunicornConfig(workers=args.workers, threads=args.threads)
    with BenchInstance(args.server_url, settings) as instance:
        log(f"setting up {args.sessions} callers")
        set_up(instance, args.sessions)
        with TimedGunicorn(instance, config) as server:
            latencies: list[float] = []
            endings: list[str] = []
            meter = CpuMeter(server, instance)
            with meter:
                started = time.monotonic()
                asyncio.run(all_callers(server.base, args.sessions, latencies, endings))
                seconds = time.monotonic() - started
            server_times = server.step_times()
        booked = sum(1 for e in endings if e.startswith("END Booked"))
        from sqlalchemy import create_engine, text

        engine = create_engine(instance.database_url)
        with engine.connect() as connection:
            appointments = connection.execute(text(
                "SELECT count(*) FROM appointment WHERE status = 'booked'")).scalar()
        engine.dispose()
        if booked != args.sessions or appointments != args.sessions:
            raise RuntimeError(f"{booked} sessions ended booked, {appointments} appointments "
                               f"(expected {args.sessions}); e.g. {endings[:2]!r}")
        latencies.sort()
        return {
            "benchmark": "ussd", "sessions": args.sessions, "steps": len(latencies),
            "server": config.describe(), "seconds": round(seconds, 2),
            "steps_per_s": round(len(latencies) / seconds, 1),
            "client_median_ms": round(1000 * statistics.median(latencies), 1),
            "client_p99_ms": round(1000 * percentile(latencies, 0.99), 1),
            "server_median_ms": round(statistics.median(server_times), 1),
            "server_p99_ms": round(percentile(server_times, 0.99), 1),
            "server_max_ms": round(server_times[-1], 1),
            **meter.result(),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--json")
    parser.add_argument("--total-timeout", type=float, default=900)
    add_server_bench_options(parser)
    return run_bounded(run, parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
