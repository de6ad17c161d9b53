"""Servers of a test's own: PostgreSQL clusters (Debian's pg_createcluster, on a port of
their own, so the shared server on 5432 is never restarted), streaming standbys
(pg_basebackup -R), Redis servers. Used by the fault-injection suite (tests/faults), the
fail-over test and the restore drill. Each is removed by its fixture's finalizer, also
when the test fails."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from cowin_kit.testing.environment import skip_or_fail

__all__ = ["PgCluster", "RedisServer", "failover_url", "free_port", "need_cluster_tools"]

CLUSTER_TOOLS = ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster", "pg_basebackup",
                 "pg_dump", "pg_restore")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def need_cluster_tools(redis: bool = False) -> None:
    """Skip (fail under CI=true) without Debian's PostgreSQL cluster tools (and
    redis-server), or when this user may not create clusters (root or postgres only)."""
    tools = CLUSTER_TOOLS + (("redis-server",) if redis else ())
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        skip_or_fail(f"needs {', '.join(missing)} (postgresql-common, postgresql, "
                     "redis-server)")
    if os.geteuid() != 0:
        skip_or_fail("creating PostgreSQL clusters needs root (pg_createcluster)")
    if not _versions():
        skip_or_fail("no PostgreSQL server installed under /usr/lib/postgresql")


def _versions() -> list[str]:
    root = Path("/usr/lib/postgresql")
    return sorted((p.name for p in root.iterdir() if (p / "bin" / "postgres").exists()),
                  key=int) if root.is_dir() else []


def _run(*command: str, timeout: float = 120) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: exit {done.returncode}: "
                           f"{done.stderr.strip()[-1500:]}")
    return done.stdout


@dataclass
class PgCluster:
    """One PostgreSQL cluster of Debian's tools: ``PgCluster.create("faults")``.
    Trust authentication on loopback (replication too); durable settings as shipped
    (fsync on: lost writes must be real)."""

    name: str
    port: int
    version: str = field(default_factory=lambda: _versions()[-1])

    @classmethod
    def create(cls, purpose: str, *, start: bool = True) -> "PgCluster":
        cluster = cls(f"cowinkit_{purpose}_{uuid.uuid4().hex[:8]}", free_port())
        _run("pg_createcluster", cluster.version, cluster.name, "-p", str(cluster.port),
             "--", "--auth=trust")
        try:
            cluster._configure()
            if start:
                cluster.start()
        except BaseException:
            cluster.drop()
            raise
        return cluster

    @classmethod
    def standby_of(cls, primary: "PgCluster", purpose: str,
                   port: int | None = None) -> "PgCluster":
        """A streaming standby of ``primary`` (pg_basebackup -R: standby.signal and
        primary_conninfo written), started."""
        standby = cls(f"cowinkit_{purpose}_{uuid.uuid4().hex[:8]}", port or free_port(),
                      primary.version)
        _run("pg_createcluster", standby.version, standby.name, "-p", str(standby.port),
             "--", "--auth=trust")
        try:
            data = standby.data_dir  # emptied, kept (the postgres user may not create it)
            for entry in data.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            _run("runuser", "-u", "postgres", "--", "pg_basebackup", "-h", "127.0.0.1",
                 "-p", str(primary.port), "-U", "postgres", "-D", str(data), "-R",
                 "-X", "stream", "--checkpoint=fast")
            standby._configure()
            standby.start()
        except BaseException:
            standby.drop()
            raise
        return standby

    def synchronous_standby(self) -> None:
        """From now on a commit waits until a standby has it (synchronous_standby_names =
        '*'), so that a fail-over loses no acknowledged write. Set once the standby
        streams: with none, every commit would wait."""
        self.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")
        self.sql("SELECT pg_reload_conf()")

    def _configure(self) -> None:
        conf = Path(f"/etc/postgresql/{self.version}/{self.name}/conf.d")
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "cowinkit-test.conf").write_text(
            "listen_addresses = '127.0.0.1'\n"
            "shared_buffers = 32MB\n"
            "max_connections = 100\n"
            "wal_level = replica\n"
            "max_wal_senders = 5\n"
            "hot_standby = on\n")

    @property
    def data_dir(self) -> Path:
        return Path(f"/var/lib/postgresql/{self.version}/{self.name}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def ctl(self, action: str, *options: str, timeout: float = 120) -> None:
        _run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action,
             *options, timeout=timeout)

    def start(self) -> None:
        self.ctl("start")
        self.wait_ready()

    def stop(self, mode: str = "fast") -> None:
        self.ctl("stop", "-m", mode)

    def promote(self) -> None:
        self.ctl("promote")

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]
                              ).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"cluster {self.name} not ready after {seconds} s")

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement with psql; its output, unaligned."""
        return _run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                    "-d", database, "-tAX", "-c", statement).strip()

    def create_database(self, name: str) -> str:
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop(self) -> None:
        """Stop and remove the cluster (data and configuration)."""
        subprocess.run(["pg_dropcluster", "--stop", self.version, self.name],
                       capture_output=True, timeout=120)
        # pg_dropcluster leaves a configuration folder holding files it did not write
        shutil.rmtree(f"/etc/postgresql/{self.version}/{self.name}", ignore_errors=True)


def failover_url(primary_port: int, standby_port: int, database: str) -> str:
    """One SQLAlchemy URL for a primary and its standby: libpq tries the hosts in turn and
    keeps the one that takes writes (SQLAlchemy hands psycopg several ``host``)."""
    return (f"postgresql+psycopg://postgres@/{database}?host=127.0.0.1:{primary_port}"
            f"&host=127.0.0.1:{standby_port}&target_session_attrs=read-write"
            f"&connect_timeout=3")


@dataclass
class RedisServer:
    """A redis-server of the test's own (no persistence), stopped and started at will."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as link:
                    link.sendall(b"PING\r\n")
                    if link.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)
        self.process = None
