"""Gunicorn settings for cowin-kit: `gunicorn -c gunicorn.conf.py cowin_kit.wsgi:app`.

Every value comes from a cowin-kit setting (COWIN_KIT_WEB_*, see docs/configuration.md) so
the container, the Helm chart and a bare server are configured the same way:

- workers: COWIN_KIT_WEB_WORKERS, or 2 x the CPUs the container may use + 1 (its cgroup CPU
  limit, not the node's CPU count) with COWIN_KIT_WEB_THREADS threads each (gthread);
- bind: COWIN_KIT_WEB_BIND, or 0.0.0.0:$PORT (PORT defaults to 8000);
- timeouts: COWIN_KIT_WEB_TIMEOUT, _GRACEFUL_TIMEOUT, _KEEPALIVE; _MAX_REQUESTS;
- logs: access and error lines on stdout/stderr in COWIN_KIT_LOG_FORMAT (json in the
  container), each with the request id; only paths are logged, never query strings;
- Prometheus: several processes share their metrics through PROMETHEUS_MULTIPROC_DIR; when
  it is not set, a fresh folder under the temporary directory is used. It is emptied at
  start, and a dead worker's live values dropped.
- worker_tmp_dir /dev/shm: the workers' heartbeat files live in memory (a read-only root
  filesystem, and no stalls on a slow disk).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cowin_kit.core import logging_setup
from cowin_kit.config.settings import load_settings

_settings = load_settings()


def available_cpus() -> int:
    """CPUs this process may use: the cgroup quota (Kubernetes' CPU limit) when there is
    one, else the CPUs it is allowed to run on."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, quota)
    return max(1, cpus)


def _cgroup_cpu_quota() -> int | None:
    try:  # cgroup v2: "max 100000" or "150000 100000"
        limit, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if limit != "max":
            return max(1, -(-int(limit) // int(period)))  # rounded up
        return None
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        if quota > 0 and period > 0:
            return max(1, -(-quota // period))
    except (OSError, ValueError):
        pass
    return None


wsgi_app = "cowin_kit.wsgi:app"
bind = [_settings["WEB_BIND"] or f"0.0.0.0:{os.environ.get('PORT', '8000')}"]
workers = _settings["WEB_WORKERS"] or 2 * available_cpus() + 1
worker_class = "gthread"
threads = _settings["WEB_THREADS"]
timeout = _settings["WEB_TIMEOUT"]
graceful_timeout = _settings["WEB_GRACEFUL_TIMEOUT"]
keepalive = _settings["WEB_KEEPALIVE"]
max_requests = _settings["WEB_MAX_REQUESTS"]
max_requests_jitter = max_requests // 10
preload_app = _settings["WEB_PRELOAD"]
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
# Headers from the ingress (X-Forwarded-*) are handled by the app (TRUSTED_PROXIES).
forwarded_allow_ips = "127.0.0.1,::1"
accesslog = "-"
errorlog = "-"
loglevel = _settings["LOG_LEVEL"].lower()
logger_class = "cowin_kit.core.logging_setup.GunicornLogger"
capture_output = False
proc_name = "cowin-kit"
# No control socket (gunicorn >= 24): it would be written under $HOME, read-only in the
# container, and signals do the same job (TERM graceful stop, HUP reload, TTIN/TTOU).
control_socket_disable = True

logging_setup.configure(_settings["LOG_FORMAT"], _settings["LOG_LEVEL"])

# Before anything imports prometheus_client (the app is loaded after this file), and
# emptied: values of an earlier run must not be added in.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cowin-kit-prometheus-")
_metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
_metrics_dir.mkdir(parents=True, exist_ok=True)
for _stale in _metrics_dir.glob("*.db"):
    _stale.unlink()


def post_fork(server, worker) -> None:
    """A forked worker must not use connections the master may have opened."""
    from cowin_kit.core.db import get_database

    app = server.app.wsgi() if preload_app else None
    if app is not None:
        get_database(app).dispose()


def child_exit(server, worker) -> None:
    from cowin_kit.core import metrics

    metrics.mark_process_dead(worker.pid)
