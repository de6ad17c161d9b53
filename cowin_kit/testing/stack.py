"""The kit as deployed, on this machine: gunicorn (the shipped gunicorn.conf.py and
cowin_kit.wsgi) and `cowin-kit worker` as processes of their own, on a database and a
Redis the test names; and a bounded load generator on loopback (cowin_kit.testing.load).
For the fault-injection suite and the fail-over test (docs/reliability.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import cowin_kit
from cowin_kit.testing.environment import skip_or_fail
from cowin_kit.testing.servers import free_port

__all__ = ["KitStack", "gunicorn_conf", "http_json"]


def gunicorn_conf() -> Path:
    """The repository's gunicorn.conf.py (what the image runs)."""
    path = Path(cowin_kit.__file__).resolve().parent.parent / "gunicorn.conf.py"
    if not path.is_file():
        skip_or_fail("needs the repository's gunicorn.conf.py")
    return path


def http_json(method: str, url: str, body: dict | None = None,
              headers: dict | None = None, timeout: float = 10):
    """(status, headers, parsed JSON body or None) of one request; HTTP errors are
    answers, connection failures raise OSError (a timeout: TimeoutError)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, head, raw = answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        status, head, raw = exc.code, dict(exc.headers), exc.read()
    except urllib.error.URLError as exc:
        reason = exc.reason
        raise (reason if isinstance(reason, OSError) else OSError(str(reason))) from exc
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, head, parsed


@dataclass
class KitStack:
    """gunicorn + the worker of one instance. ``settings``: COWIN_KIT_* values (without
    the prefix) besides those set here (bind, workers, logs)."""

    folder: Path
    settings: dict[str, str]
    web_workers: int = 2
    web_threads: int = 4
    port: int = field(default_factory=free_port)
    web: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items()
                if not k.startswith("COWIN_KIT_") and k != "PROMETHEUS_MULTIPROC_DIR"}
        metrics = self.folder / "prometheus"
        metrics.mkdir(parents=True, exist_ok=True)
        env = {**base, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
        values = {"WEB_BIND": f"127.0.0.1:{self.port}", "WEB_WORKERS": str(self.web_workers),
                  "WEB_THREADS": str(self.web_threads), "LOG_FORMAT": "json",
                  "LOG_LEVEL": "WARNING", **self.settings}
        env.update({f"COWIN_KIT_{key}": value for key, value in values.items()})
        return env

    def start_web(self, wait: bool = True) -> None:
        """Start gunicorn; unless ``wait`` is false, return once every worker serves
        (else call wait_ready)."""
        with open(self.folder / "web.log", "ab") as log:  # the child keeps its own copy
            self.web = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(gunicorn_conf()),
                 "cowin_kit.wsgi:app"],
                env=self.environment(), cwd=self.folder, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        assert self.web is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise RuntimeError("gunicorn exited: " + self.log_tail("web.log"))
            try:
                if http_json("GET", self.base_url + "/readyz", timeout=5)[0] == 200 \
                        and len(self.web_pids()) == self.web_workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn not ready: " + self.log_tail("web.log"))

    def web_pids(self) -> list[int]:
        """The gunicorn worker processes (children of the master)."""
        assert self.web is not None
        try:
            text = Path(f"/proc/{self.web.pid}/task/{self.web.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def start_worker(self, interval: float = 0.5) -> None:
        with open(self.folder / "worker.log", "ab") as log:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "cowin_kit.cli", "worker", "--interval", str(interval)],
                env=self.environment(), cwd=self.folder, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def kill_worker(self) -> None:
        """kill -9 of the background worker, wherever it is in its round."""
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGKILL)
            self.worker.wait(timeout=30)

    def log_tail(self, name: str, size: int = 3000) -> str:
        path = self.folder / name
        return path.read_text(errors="replace")[-size:] if path.exists() else ""

    def server_errors(self) -> list[dict]:
        """Access-log lines of answers 500 and above other than 503."""
        lines = []
        for raw in (self.folder / "web.log").read_text(errors="replace").splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            status = line.get("status")
            if isinstance(status, int) and status >= 500 and status != 503:
                lines.append(line)
        return lines

    def stop(self) -> None:
        """Stop both (TERM, then KILL); the finalizer of every fixture that starts them."""
        for process in (self.worker, self.web):
            if process is None or process.poll() is not None:
                continue
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=30)
