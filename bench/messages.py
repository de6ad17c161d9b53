"""Messages benchmark: OTP requests against a slow SMS gateway, and the outbox's sending
rate, over HTTP against gunicorn and PostgreSQL on this machine. Method and figures:
docs/performance.md ("Messages").

    .venv/bin/python bench/messages.py [--otps 2000] [--backlog 1000] [--json out.json]

Set-up: a fresh PostgreSQL database (dropped at the end) and instance folder, production
settings, the example SMS plugin (PLUGINS=sms-http, its defaults: 3 retries, 10 s timeout)
as the notifier, OTP limits relaxed as bench/registration.py does. Two gateways run in
subprocesses of this script on free loopback ports: "instant" answers 200 at once, "slow"
sleeps --gateway-delay (2 s) first. Each counts the messages it received (GET /count).

Phase 1 (for each gateway, instant first): gunicorn (-w 3 --threads 4, the web processes'
OTP sender threads on, as in production) and wrk (64 connections) fire --otps
POST /api/v1/auth/otp, a distinct number each: rate, p50/p99, app and PostgreSQL CPU per
request, and how many messages reached the gateway by the end of the phase. A third run
(--web-sender-off, on by default) uses the instant gateway with OTP_SENDER_IN_WEB off: the
OTPs stay queued, which shows the web sender threads' share of the CPU.
Phase 2 (for each gateway): --backlog (instant) or --slow-backlog (slow) ordinary messages
queued, then drained by the sender API in this process (what `cowin-kit worker` runs each
round, MESSAGE_SEND_CONCURRENCY at a time): messages sent per second.

Exits non-zero on any non-2xx answer or socket error, or past --total-timeout; gunicorn and
the gateways are stopped and the database dropped in every case.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    BenchInstance, Gunicorn, GunicornConfig, InProcessApp,
    add_server_bench_options,
    ensure_wrk, free_port, log, process_cpu, replay_server, run_bounded, write_requests,
)
from registration import mobiles, otp_settings  # noqa: E402


# --- the gateway (run as `messages.py --serve-gateway PORT DELAY`) ------------------------

def serve_gateway(port: int, delay: float) -> None:
    received = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(delay)
            received[0] += 1  # one increment under the GIL: exact enough for a count
            self._answer(b'{"status": "queued"}')

        def do_GET(self) -> None:  # noqa: N802
            self._answer(str(received[0]).encode())

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args) -> None:
            pass

    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


class Gateway:
    """A gateway subprocess that answers every POST after ``delay`` seconds."""

    def __init__(self, name: str, delay: float):
        self.name, self.delay = name, delay
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/send"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Gateway":
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-gateway", str(self.port), str(self.delay)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.count()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError(f"gateway {self.name} did not start") from None
                time.sleep(0.1)

    def count(self) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count", timeout=5) as answer:
            return int(answer.read())

    def __exit__(self, *_exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


# --- the phases -----------------------------------------------------------------------------

def otp_phase(args: argparse.Namespace, instance: BenchInstance, gateway: Gateway,
              numbers: list[str], config: GunicornConfig, web_sender: bool = True) -> dict:
    """Phase 1 against ``gateway``: POST /api/v1/auth/otp, one per number; without
    ``web_sender`` the OTPs stay queued (OTP_SENDER_IN_WEB off, no worker)."""
    threads, connections = args.wrk_threads, args.connections
    per_thread = -(-args.otps // threads)
    slice_size = per_thread + -(-connections // threads) + 1
    assert len(numbers) >= threads * slice_size
    requests_file = instance.tmp / f"otp-{gateway.name}.tsv"
    write_requests(requests_file, (("POST", "/api/v1/auth/otp", None,
                                    json.dumps({"mobile": m})) for m in numbers))
    instance.env["COWIN_KIT_NOTIFIER"] = f"sms-http:{gateway.url}"
    instance.env["COWIN_KIT_OTP_SENDER_IN_WEB"] = str(web_sender).lower()
    name = f"POST /api/v1/auth/otp, {gateway.name} gateway" + ("" if web_sender else
                                                               ", web sender off")
    before = gateway.count()
    with Gunicorn(instance, config) as server:
        gateway_cpu = process_cpu(gateway.process.pid)
        phase = replay_server(name, server, instance, requests_file, per_thread=per_thread,
                              threads=threads, connections=connections, timeout_s=args.timeout)
        gateway_cpu = round(process_cpu(gateway.process.pid) - gateway_cpu, 2)
        delivered = gateway.count() - before
        errors = server.log_tail()
    time.sleep(gateway.delay + 0.5)  # sends cut off by the stop reach the gateway now
    # the gateway runs on this machine too: its CPU is not "other work"
    phase.extra["gateway_cpu_s"] = gateway_cpu
    phase.extra["other_cpu_s"] = round(phase.extra["other_cpu_s"] - gateway_cpu, 2)
    phase.extra["disturbed"] = phase.extra["other_cpu_s"] > 0.1 * phase.extra["machine_busy_s"]
    log(phase.line() + f"; {delivered} messages at the gateway by the end")
    result = phase.as_dict()
    result.update({
        "gateway_delay_s": gateway.delay,
        "messages_at_gateway_by_phase_end": delivered,
        "app_cpu_ms_per_request": round(1000 * phase.extra["app_cpu_s"] / phase.requests, 2),
        "db_cpu_ms_per_request": round(1000 * phase.extra["db_cpu_s"] / phase.requests, 2)})
    if phase.non_2xx or phase.extra["socket_errors"]:
        raise RuntimeError(f"{phase.name}: {phase.non_2xx} non-2xx, "
                           f"{phase.extra['socket_errors']} socket errors: "
                           f"{phase.extra.get('error_samples')}\n--- gunicorn log:\n{errors}")
    if "Traceback" in errors:
        result["server_log_tail"] = errors
    return result


def drain_phase(args: argparse.Namespace, instance: BenchInstance, gateway: Gateway,
                count: int) -> dict:
    """Phase 2 against ``gateway``: ``count`` queued messages drained by the sender API."""
    from sqlalchemy import update

    from cowin_kit.core.db import get_database
    from cowin_kit.notifications import queue
    from cowin_kit.notifications.models import OutboxMessage
    from cowin_kit.notifications.sender import sender

    instance.env["COWIN_KIT_NOTIFIER"] = f"sms-http:{gateway.url}"
    with InProcessApp(instance) as app:
        factory = get_database(app).session_factory
        with factory() as session:
            # what earlier phases left unsent is not this phase's backlog
            session.execute(update(OutboxMessage).where(OutboxMessage.status.in_(
                ("pending", "sending"))).values(status="failed", text=""))
            for index in range(count):
                queue(session, f"+9198{index:08d}", "otp", "en", otp=f"{index % 10**6:06d}",
                      minutes=10)
            session.commit()
        drainer = sender(app)
        before = gateway.count()
        sent = 0
        started = time.monotonic()
        cpu0 = time.process_time()
        deadline = started + args.timeout
        while sent < count and time.monotonic() < deadline:
            done = drainer.send_due_messages(limit=count - sent)
            sent += done.sent
            if done.retried or done.failed:
                raise RuntimeError(f"drain, {gateway.name} gateway: {done}")
        seconds = time.monotonic() - started
        cpu = time.process_time() - cpu0
        concurrency = drainer.concurrency
    delivered = gateway.count() - before
    rate = sent / seconds if seconds else 0.0
    log(f"drain, {gateway.name} gateway: {sent} of {count} messages sent in {seconds:.2f} s = "
        f"{rate:.1f}/s, concurrency {concurrency}, {delivered} at the gateway")
    if sent < count:
        raise RuntimeError(f"drain, {gateway.name} gateway: only {sent} of {count} sent "
                           f"within {args.timeout:.0f} s")
    return {"name": f"drain, {gateway.name} gateway", "messages": sent,
            "seconds": round(seconds, 3), "per_second": round(rate, 1),
            "gateway_delay_s": gateway.delay, "concurrency": concurrency,
            "messages_at_gateway": delivered,
            "sender_cpu_ms_per_message": round(1000 * cpu / max(sent, 1), 2)}


def run(args: argparse.Namespace) -> dict:
    config = GunicornConfig(workers=args.workers, threads=args.threads)
    settings = {**otp_settings(args, args.threads), "PLUGINS": "sms-http"}
    results: dict = {"benchmark": "messages", "server": config.describe(),
                     "machine_cpus": os.cpu_count(), "otps": args.otps,
                     "rate_limit_storage": "redis" if args.redis_url else "memory",
                     "started_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                     "phases": []}
    ensure_wrk()
    per_phase = args.wrk_threads * (-(-args.otps // args.wrk_threads)
                                    + -(-args.connections // args.wrk_threads) + 1)
    numbers = mobiles(3 * per_phase)
    with BenchInstance(args.server_url, settings) as instance, \
            Gateway("instant", 0.0) as instant, Gateway("slow", args.gateway_delay) as slow:
        log(f"database {instance.name} migrated, pack installed; gateways on "
            f"{instant.port} (instant) and {slow.port} ({args.gateway_delay:g} s)")
        runs = [(instant, True), (slow, True)] + ([(instant, False)] if args.web_sender_off
                                                  else [])
        for index, (gateway, web_sender) in enumerate(runs):
            results["phases"].append(otp_phase(
                args, instance, gateway, numbers[index * per_phase:(index + 1) * per_phase],
                config, web_sender))
        for gateway, count in ((instant, args.backlog), (slow, args.slow_backlog)):
            results["phases"].append(drain_phase(args, instance, gateway, count))
    return results


def main() -> int:
    if sys.argv[1:2] == ["--serve-gateway"]:
        serve_gateway(int(sys.argv[2]), float(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--otps", type=int, default=2000, help="OTP requests per gateway")
    parser.add_argument("--backlog", type=int, default=1000,
                        help="messages drained against the instant gateway")
    parser.add_argument("--slow-backlog", type=int, default=48,
                        help="messages drained against the slow gateway")
    parser.add_argument("--web-sender-off", action=argparse.BooleanOptionalAction,
                        default=True, help="also run the instant gateway with "
                        "OTP_SENDER_IN_WEB off: the web sender thread's share of the CPU")
    parser.add_argument("--gateway-delay", type=float, default=2.0,
                        help="seconds the slow gateway waits before each answer")
    add_server_bench_options(parser)
    parser.add_argument("--timeout", type=float, default=300,
                        help="hard limit of each phase, seconds")
    parser.add_argument("--total-timeout", type=float, default=900,
                        help="hard limit of the whole run, seconds")
    parser.add_argument("--json", help="also write the results to this file")
    return run_bounded(run, parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
