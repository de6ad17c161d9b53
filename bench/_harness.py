"""Shared plumbing of the benchmarks in bench/ (not a benchmark itself: `make bench` runs
the bench/*.py files whose names do not start with an underscore).

- ``BenchInstance``: a fresh PostgreSQL database and instance folder in a temp dir, set up
  with the real commands (`cowin-kit db upgrade`, `cowin-kit pack install`), production
  settings and generated keys; dropped again on exit, also after a failure.
- ``Gunicorn``: the app served by gunicorn on a free loopback port, stopped on exit.
- ``replay``: a fixed number of pre-generated requests fired by wrk (bench/replay.lua).
- ``http_batch``: a small asyncio HTTP/1.1 client for steps that need each answer (OTPs).
- ``CpuMeter``: CPU seconds used by the app, PostgreSQL and the load generator.
"""

from __future__ import annotations

import argparse
import collections
import asyncio
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
VENV_BIN = Path(sys.executable).parent
DEFAULT_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- tools ------------------------------------------------------------------------------

def ensure_wrk() -> str:
    """wrk from Debian's packages, installed here if missing (as CI would)."""
    found = shutil.which("wrk")
    if found:
        return found
    log("installing wrk (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and apt-get could not install it")
    return found


def ensure_py_spy() -> str:
    """py-spy (PyPI) in this venv, installed if missing; only for --py-spy runs."""
    found = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if found:
        return found
    log("installing py-spy (pip)")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=True)
    return str(VENV_BIN / "py-spy")


def start_py_spy(server: "Gunicorn", output: str, rate: int = 250) -> subprocess.Popen:
    """Sample the gunicorn master and workers until stopped: only the thread holding the GIL
    of each process (CPU spent in Python), not threads waiting for the database or the GIL."""
    command = [ensure_py_spy(), "record", "--pid", str(server.process.pid), "--subprocesses",
               "--rate", str(rate), "--format", "raw", "--output", output, "--nonblocking",
               "--gil"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # let it attach before the load starts
    return process


def stop_py_spy(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- database and instance ----------------------------------------------------------------

class BenchInstance:
    """A PostgreSQL database and an instance folder made for one benchmark run."""

    def __init__(self, server_url: str, settings: dict[str, Any], pack: str = "in"):
        self.server_url = server_url
        self.settings = settings
        self.pack = pack
        self.name = f"cowin_kit_bench_{uuid.uuid4().hex[:10]}"
        self.tmp = Path(tempfile.mkdtemp(prefix="cowin-kit-bench-"))
        self.instance = self.tmp / "instance"
        self.outbox = self.tmp / "messages.jsonl"
        self.database_url = ""
        self.env: dict[str, str] = {}
        self._created = False

    def _admin(self):
        from sqlalchemy import create_engine

        return create_engine(self.server_url, isolation_level="AUTOCOMMIT")

    def __enter__(self) -> "BenchInstance":
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        from cowin_kit.config.settings import write_instance_keys

        try:
            admin = self._admin()
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{self.name}"'))
            admin.dispose()
            self._created = True
            self.database_url = make_url(self.server_url).set(database=self.name) \
                .render_as_string(hide_password=False)
            write_instance_keys(self.instance)
            self.env = {k: v for k, v in os.environ.items() if not k.startswith("COWIN_KIT_")}
            self.env.update({
                "COWIN_KIT_ENV": "production",
                "COWIN_KIT_INSTANCE_PATH": str(self.instance),
                "COWIN_KIT_DATABASE_URL": self.database_url,
                "COWIN_KIT_NOTIFIER": f"file:{self.outbox}",
                "COWIN_KIT_LOG_LEVEL": "WARNING",
            })
            self.env.update({f"COWIN_KIT_{k}": str(v) for k, v in self.settings.items()})
            cli = str(VENV_BIN / "cowin-kit")
            for command in ([cli, "db", "upgrade"],
                            [cli, "pack", "install", str(REPO / "examples" / "countries" / self.pack)]):
                done = subprocess.run(command, env=self.env, cwd=self.tmp, capture_output=True,
                                      text=True, timeout=300)
                if done.returncode != 0:
                    raise RuntimeError(f"{' '.join(command[1:])} failed:\n{done.stdout}{done.stderr}")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_exc: Any) -> None:
        if self._created:
            from sqlalchemy import text

            try:
                admin = self._admin()
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
                admin.dispose()
            except Exception as exc:  # report, but go on cleaning up
                log(f"could not drop database {self.name}: {exc}")
            self._created = False
        shutil.rmtree(self.tmp, ignore_errors=True)

    def backend_pids(self) -> list[int]:
        """PostgreSQL server processes connected to this database (not this query's own)."""
        from sqlalchemy import text

        admin = self._admin()
        try:
            with admin.connect() as connection:
                return list(connection.execute(text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :db "
                    "AND pid <> pg_backend_pid()"), {"db": self.name}).scalars())
        finally:
            admin.dispose()

    def database_stats(self) -> dict[str, int]:
        from sqlalchemy import text

        admin = self._admin()
        try:
            with admin.connect() as connection:
                row = connection.execute(text(
                    "SELECT xact_commit, xact_rollback, tup_inserted, tup_fetched, tup_returned "
                    "FROM pg_stat_database WHERE datname = :db"), {"db": self.name}).one()
        finally:
            admin.dispose()
        return dict(row._mapping)


# --- gunicorn -----------------------------------------------------------------------------

@dataclass
class GunicornConfig:
    workers: int = 3
    threads: int = 4
    worker_class: str = "gthread"
    keepalive: int = 5

    def describe(self) -> str:
        return (f"gunicorn -k {self.worker_class} -w {self.workers} --threads {self.threads} "
                f"--keep-alive {self.keepalive} --preload")


class Gunicorn:
    def __init__(self, instance: BenchInstance, config: GunicornConfig):
        self.instance = instance
        self.config = config
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = instance.tmp / "gunicorn.log"

    def __enter__(self) -> "Gunicorn":
        c = self.config
        command = [str(VENV_BIN / "gunicorn"), "cowin_kit.wsgi:app",
                   "--bind", f"127.0.0.1:{self.port}", "--workers", str(c.workers),
                   "--threads", str(c.threads), "--worker-class", c.worker_class,
                   "--keep-alive", str(c.keepalive), "--backlog", "2048",
                   # as gunicorn.conf.py does by default (WEB_PRELOAD): the app is built once
                   # before the fork, so no worker is still importing it when a phase starts
                   "--preload",
                   "--log-level", "warning", "--error-logfile", str(self.log_path)]
        self.process = subprocess.Popen(command, env=self.instance.env, cwd=self.instance.tmp,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        try:
            self._wait_ready(60)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not ready after {seconds}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def pids(self) -> list[int]:
        """The master and its workers."""
        master = self.process.pid
        found = [master]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                    found.append(int(entry.name))
        return found

    def __exit__(self, *_exc: Any) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass


# --- CPU accounting ---------------------------------------------------------------------

def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process, 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the machine since boot, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / TICKS, total / TICKS


def wait_for_quiet_machine(max_busy: float = 0.25, patience_s: float = 120) -> float:
    """Wait (up to ``patience_s``) until the machine is mostly idle over one second, so that
    other work on a shared machine does not take the benchmark's CPU; returns the busy
    fraction last seen (reported with the figures)."""
    deadline = time.monotonic() + patience_s
    while True:
        busy0, total0 = machine_cpu()
        time.sleep(1.0)
        busy1, total1 = machine_cpu()
        busy = (busy1 - busy0) / max(total1 - total0, 1e-9)
        if busy <= max_busy or time.monotonic() > deadline:
            return round(busy, 2)
        log(f"machine {busy:.0%} busy before the phase: waiting for it to calm down")


class CpuMeter:
    """CPU used during a phase by the gunicorn processes, the database's backends and the
    whole machine; the load generator's share is added by the caller."""

    def __init__(self, server: Gunicorn, instance: BenchInstance):
        self.server, self.instance = server, instance

    def _snapshot(self) -> dict[str, Any]:
        return {"app": {p: process_cpu(p) for p in self.server.pids()},
                "db": {p: process_cpu(p) for p in self.instance.backend_pids()},
                "machine": machine_cpu(), "wall": time.monotonic()}

    def __enter__(self) -> "CpuMeter":
        self.start = self._snapshot()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.end = self._snapshot()

    def result(self) -> dict[str, float]:
        def delta(kind: str) -> float:
            return sum(v - self.start[kind].get(p, 0.0) for p, v in self.end[kind].items())

        busy = self.end["machine"][0] - self.start["machine"][0]
        total = self.end["machine"][1] - self.start["machine"][1]
        return {"app_cpu_s": round(delta("app"), 2), "db_cpu_s": round(delta("db"), 2),
                "machine_busy_s": round(busy, 2),
                "machine_busy_pct": round(100 * busy / total, 1) if total else 0.0}


# --- load generators ----------------------------------------------------------------------

@dataclass
class PhaseResult:
    name: str
    requests: int
    seconds: float
    non_2xx: int
    p50_ms: float
    p99_ms: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (f"{self.name}: {self.requests} requests in {self.seconds:.2f} s = "
                f"{self.rate:.0f}/s, p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
                f"non-2xx {self.non_2xx}")

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "requests": self.requests, "seconds": round(self.seconds, 3),
                "per_second": round(self.rate, 1), "p50_ms": round(self.p50_ms, 2),
                "p99_ms": round(self.p99_ms, 2), "non_2xx": self.non_2xx, **self.extra}


def write_requests(path: Path, rows: Iterable[tuple[str, str, str | None, str | None]]) -> None:
    """The request file of replay.lua: method, path, bearer token, JSON body."""
    with path.open("w", encoding="utf-8") as out:
        for method, target, token, body in rows:
            for value in (token or "", body or ""):
                if "\t" in value or "\n" in value:
                    raise ValueError("request fields must not hold tabs or newlines")
            out.write(f"{method}\t{target}\t{token or '-'}\t{body or '-'}\n")


def replay(name: str, base_url: str, requests_file: Path, *, per_thread: int, threads: int,
           connections: int, timeout_s: float, meter: CpuMeter | None = None) -> PhaseResult:
    """Fire ``per_thread`` requests from each of ``threads`` wrk threads over
    ``connections`` keep-alive connections; rate and status counts come from replay.lua."""
    wrk = ensure_wrk()
    busy_before = wait_for_quiet_machine()
    slice_size = per_thread + -(-connections // threads) + 1
    lines = sum(1 for _ in requests_file.open())
    if lines < threads * slice_size:
        raise ValueError(f"{requests_file} has {lines} requests, {threads * slice_size} needed")
    outdir = Path(tempfile.mkdtemp(prefix="wrk-", dir=requests_file.parent))
    stdout = requests_file.parent / f"{requests_file.stem}.wrk.out"
    command = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{int(timeout_s)}s",
               "--timeout", "30s", "-s", str(BENCH / "replay.lua"), base_url, "--",
               str(requests_file), str(per_thread), str(slice_size), str(outdir)]
    with stdout.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    if meter:
        meter.__enter__()
    deadline = time.monotonic() + timeout_s + 10
    try:
        while len(list(outdir.glob("thread-*"))) < threads:
            if process.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # all threads are done: let wrk report now
        _pid, status, usage = os.wait4(process.pid, 0)
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait()
        raise
    finally:
        if meter:
            meter.__exit__(None, None, None)
    output = stdout.read_text(errors="replace")
    done = sorted(outdir.glob("thread-*"))
    if len(done) < threads:
        raise RuntimeError(f"{name}: only {len(done)} of {threads} wrk threads finished "
                           f"within {timeout_s:.0f}s (status {status}):\n{output[-2000:]}")
    figures = {}
    for line in output.splitlines():
        if line.startswith("BENCH "):
            _b, key, value = line.split()
            figures[key] = float(value)
    count = non_2xx = 0
    first, last = float("inf"), 0.0
    statuses: dict[str, int] = {}
    samples: list[str] = []
    for path in done:
        head, *rest = path.read_text().splitlines()
        n, bad, t0, t1, codes = head.split("\t")
        count, non_2xx = count + int(n), non_2xx + int(bad)
        first, last = min(first, float(t0)), max(last, float(t1))
        for item in filter(None, codes.split(",")):
            code, k = item.split("=")
            statuses[code] = statuses.get(code, 0) + int(k)
        samples.extend(rest)
    extra: dict[str, Any] = {"statuses": statuses, "client": f"wrk -t{threads} -c{connections}",
                             "machine_busy_before": busy_before,
                             "client_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
                             "socket_errors": int(figures.get("socket_errors", 0)),
                             "p90_ms": figures.get("p90_ms"), "max_ms": figures.get("max_ms")}
    if samples:
        extra["error_samples"] = samples[:5]
    if meter:
        extra.update(meter.result())
        _account_other_cpu(name, extra)
    shutil.rmtree(outdir, ignore_errors=True)
    return PhaseResult(name, count, last - first, non_2xx, figures.get("p50_ms", 0.0),
                       figures.get("p99_ms", 0.0), extra)


def replay_server(name: str, server: "Gunicorn", instance: BenchInstance, requests_file: Path,
                  *, per_thread: int, threads: int, connections: int, timeout_s: float,
                  py_spy: str | None = None) -> PhaseResult:
    """replay() against ``server`` with its CPU meter, under py-spy (collapsed stacks into
    the file ``py_spy``) if asked, and the database's commits and rollbacks per request
    added to the phase's figures."""
    before = instance.database_stats()
    spy = start_py_spy(server, py_spy) if py_spy else None
    try:
        phase = replay(name, server.base, requests_file, per_thread=per_thread,
                       threads=threads, connections=connections, timeout_s=timeout_s,
                       meter=CpuMeter(server, instance))
    finally:
        if spy:
            stop_py_spy(spy)
    after = instance.database_stats()
    for key, label in (("xact_commit", "db_commits_per_request"),
                       ("xact_rollback", "db_rollbacks_per_request")):
        phase.extra[label] = round((after[key] - before[key]) / max(phase.requests, 1), 2)
    return phase


async def _http_batch(host: str, port: int, jobs: list[tuple[str, str, str | None, str | None]],
                      concurrency: int) -> list[tuple[int, bytes, float]]:
    results: list[tuple[int, bytes, float] | None] = [None] * len(jobs)
    position = iter(range(len(jobs)))

    async def connection() -> None:
        reader = writer = None
        for index in position:
            method, target, token, body = jobs[index]
            payload = (body or "").encode()
            head = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}",
                    f"Content-Length: {len(payload)}"]
            if body is not None:
                head.append("Content-Type: application/json")
            if token:
                head.append(f"Authorization: Bearer {token}")
            message = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            started = time.perf_counter()
            writer.write(message)
            status_line = await reader.readline()
            length, close = 0, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and value.strip().lower() == "close":
                    close = True
            content = await reader.readexactly(length) if length else b""
            results[index] = (int(status_line.split()[1]), content, time.perf_counter() - started)
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return results  # type: ignore[return-value]


def http_batch(name: str, base_url: str, jobs: list[tuple[str, str, str | None, str | None]],
               *, concurrency: int, meter: CpuMeter | None = None
               ) -> tuple[PhaseResult, list[tuple[int, bytes, float]]]:
    """Send every job (method, path, token, JSON body) over ``concurrency`` keep-alive
    connections with a small asyncio client in this process; returns each answer."""
    host, port = base_url.removeprefix("http://").split(":")
    busy_before = wait_for_quiet_machine()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    if meter:
        meter.__enter__()
    started = time.monotonic()
    answers = asyncio.run(_http_batch(host, int(port), jobs, concurrency))
    seconds = time.monotonic() - started
    if meter:
        meter.__exit__(None, None, None)
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    latencies = sorted(a[2] for a in answers)
    non_2xx = sum(1 for a in answers if not 200 <= a[0] < 300)
    extra: dict[str, Any] = {
        "client": f"python asyncio, {concurrency} connections",
        "machine_busy_before": busy_before,
        "client_cpu_s": round(usage1.ru_utime + usage1.ru_stime
                              - usage0.ru_utime - usage0.ru_stime, 2)}
    if non_2xx:
        extra["error_samples"] = [f"{a[0]} {a[1][:300]!r}" for a in answers
                                  if not 200 <= a[0] < 300][:5]
    if meter:
        extra.update(meter.result())
        _account_other_cpu(name, extra)
    result = PhaseResult(name, len(answers), seconds, non_2xx,
                         1000 * statistics.median(latencies),
                         1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
                         extra)
    return result, answers


def _account_other_cpu(name: str, extra: dict[str, Any]) -> None:
    """CPU of the machine used by none of app, database and client: other work on a shared
    machine. Above a tenth of the total the phase's rate is understated: say so."""
    extra["other_cpu_s"] = round(extra["machine_busy_s"] - extra["app_cpu_s"]
                                 - extra["db_cpu_s"] - extra["client_cpu_s"], 2)
    if extra["other_cpu_s"] > 0.1 * extra["machine_busy_s"]:
        extra["disturbed"] = True
        log(f"WARNING {name}: {extra['other_cpu_s']} CPU s of {extra['machine_busy_s']} went to "
            "other processes; this phase's rate is understated")


def dump_json(path: str | None, data: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(data, indent=2) + "\n")


# --- the app in this process (set-up steps and in-process timing) ---------------------------

class InProcessApp:
    """The Flask app built in the benchmark's own process with the instance's settings
    (its environment), for set-up through the services and for in-process timings. With
    ``push_context`` (set-up) an app context is pushed for the block; without it (test
    client), each request gets its own app context, ``g`` and database session, as in
    gunicorn. ``like_wsgi``: after building the app, do what cowin_kit/wsgi.py does after
    building it (``cowin_kit.serving.settle``: mappers, a full collection, ``gc.freeze()``,
    collector thresholds), so in-process timings match a gunicorn worker's."""

    def __init__(self, instance: BenchInstance, push_context: bool = True,
                 like_wsgi: bool = False, **overrides: Any):
        self.instance = instance
        self.push_context = push_context
        self.like_wsgi = like_wsgi
        self.overrides = overrides
        self._context = None

    def __enter__(self):
        from cowin_kit import create_app

        saved = {k: v for k, v in os.environ.items() if k.startswith("COWIN_KIT_")}
        for key in saved:
            del os.environ[key]
        os.environ.update({k: v for k, v in self.instance.env.items()
                           if k.startswith("COWIN_KIT_")})
        try:
            self.app = create_app(self.overrides or None)
        finally:
            for key in [k for k in os.environ if k.startswith("COWIN_KIT_")]:
                del os.environ[key]
            os.environ.update(saved)
        if self.like_wsgi:
            from cowin_kit.serving import settle

            settle(self.app)
        if self.push_context:
            self._context = self.app.app_context()
            self._context.push()
        return self.app

    def __exit__(self, *_exc: Any) -> None:
        from cowin_kit.core.db import get_database

        if self._context is not None:
            self._context.pop()  # closes the context's session
        get_database(self.app).dispose()


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value at ``fraction`` (0..1) of an ascending list (nearest rank)."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


class HardTimeout(Exception):
    """The whole benchmark ran past its --total-timeout."""


def run_bounded(run, args) -> int:
    """Run ``run(args)`` under a hard time limit (SIGALRM after args.total_timeout s), print
    the results as JSON and write them to args.json; 0 on success, 1 on failure."""
    def expire(_signum, _frame):
        raise HardTimeout(f"benchmark took more than {args.total_timeout:.0f} s")

    signal.signal(signal.SIGALRM, expire)
    signal.alarm(int(args.total_timeout))
    try:
        results = run(args)
    except (RuntimeError, HardTimeout) as exc:
        log(f"FAILED: {exc}")
        return 1
    finally:
        signal.alarm(0)
    print(json.dumps(results, indent=2))
    dump_json(args.json, results)
    return 0


def add_server_bench_options(parser: argparse.ArgumentParser,
                             redis_help: str = "rate-limit storage shared by the workers "
                                               "('' for in-memory)") -> None:
    """The options every benchmark against gunicorn and wrk shares: the server's processes
    and threads, wrk's connections and threads, Redis and the PostgreSQL server."""
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 3)))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", 4)))
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL",
                                                              "redis://127.0.0.1:6379/15"),
                        help=redis_help)
    parser.add_argument("--server-url", default=os.environ.get("COWIN_KIT_BENCH_DATABASE_URL",
                                                               DEFAULT_SERVER_URL),
                        help="PostgreSQL server on which a fresh database is made and dropped")


def add_cpu_bench_options(parser: argparse.ArgumentParser, unit: str) -> None:
    """The options every in-process CPU-per-operation benchmark shares: rounds, warm-up,
    profiling, the PostgreSQL server, the time limit and the JSON output."""
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=100, help=f"{unit} before measuring")
    parser.add_argument("--profile", choices=("none", "cprofile", "pyinstrument"),
                        default="none")
    parser.add_argument("--top", type=int, default=40, help="rows of the cProfile listing")
    parser.add_argument("--profile-out", help="with --profile cprofile: also write the stats here")
    parser.add_argument("--server-url", default=os.environ.get("COWIN_KIT_BENCH_DATABASE_URL",
                                                               DEFAULT_SERVER_URL))
    parser.add_argument("--total-timeout", type=float, default=900, help="hard limit of the run, s")
    parser.add_argument("--json", help="also write the results to this file")


def count_statements(engine, width: int = 100) -> "collections.Counter[str]":
    """A counter the engine fills from now on: each SQL statement (white space folded,
    cut to ``width``) and COMMIT / ROLLBACK, for statements-per-operation figures."""
    from sqlalchemy import event

    statements: collections.Counter[str] = collections.Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, _params, _context, _many):
        statements[" ".join(statement.split())[:width]] += 1

    # statements run through the driver (cowin_kit.core.db.DriverStatement) pass no engine event
    from cowin_kit.core.db import DriverStatement

    run_on_driver = DriverStatement.execute
    labels: dict[int, str] = {}

    def counted(self, connection, values):
        if connection.engine is engine:
            if id(self) not in labels:  # compiled once, not in every measured request
                labels[id(self)] = " ".join(str(self.statement.compile(
                    dialect=connection.dialect)).split())[:width]
            statements[labels[id(self)]] += 1
        return run_on_driver(self, connection, values)

    DriverStatement.execute = counted

    @event.listens_for(engine, "commit")
    def _commit(_conn):
        statements["COMMIT"] += 1

    @event.listens_for(engine, "rollback")
    def _rollback(_conn):
        statements["ROLLBACK"] += 1

    return statements
