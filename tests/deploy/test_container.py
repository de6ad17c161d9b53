"""The container image, without a Docker engine: the Dockerfile's shape (multi-stage, slim
Python 3.11, non-root, fonts, compiled catalogs), a build context that holds what it copies
and nothing else, and its exact command with its environment, run here: gunicorn with
gunicorn.conf.py answers /readyz 200, logs JSON lines with the request id and no query
strings, and adds up its workers' metrics."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cowin_kit.testing import postgresql_server_url
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


# --- a small Dockerfile reader -------------------------------------------------------------

def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _sep, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def stages(text: str) -> list[dict]:
    """Each stage: base image (ARGs substituted), name, ENV, WORKDIR, USER, CMD, RUN, COPY."""
    args: dict[str, str] = {}
    result: list[dict] = []
    for keyword, rest in instructions(text):
        if keyword == "ARG" and not result:
            name, _sep, default = rest.partition("=")
            args[name] = default
            continue
        if keyword == "FROM":
            image, *alias = rest.split(" AS ") if " AS " in rest else (rest,)
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image.strip())
            result.append({"from": image, "name": alias[0].strip() if alias else "",
                           "env": {}, "workdir": "/", "user": "root", "cmd": None,
                           "entrypoint": None, "run": [], "copy": []})
            continue
        stage = result[-1]
        if keyword == "ENV":
            for item in shlex.split(rest):
                key, _sep, value = item.partition("=")
                stage["env"][key] = re.sub(r"\$(\w+)", lambda m: stage["env"].get(
                    m.group(1), "$" + m.group(1)), value)
        elif keyword == "WORKDIR":
            stage["workdir"] = rest
        elif keyword == "USER":
            stage["user"] = rest
        elif keyword in ("CMD", "ENTRYPOINT"):
            stage[keyword.lower()] = json.loads(rest)  # exec form only
        elif keyword == "RUN":
            stage["run"].append(rest)
        elif keyword == "COPY":
            parts = [p for p in rest.split() if not p.startswith("--")]
            stage["copy"].append((parts[:-1], parts[-1], "--from=" in rest))
    return result


@pytest.fixture(scope="module")
def dockerfile() -> list[dict]:
    return stages((REPO / "Dockerfile").read_text(encoding="utf-8"))


def test_multi_stage_slim_python_3_11_non_root(dockerfile):
    assert len(dockerfile) >= 2
    for stage in dockerfile:
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", stage["from"]), stage["from"]
    final = dockerfile[-1]
    uid = final["user"].split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric: runAsNonRoot can verify it
    # Only the built virtualenv comes from the build stage: no compiler in the final image.
    assert any(from_stage and sources == ["/opt/venv"] for sources, _dest, from_stage in final["copy"])


def test_fonts_and_compiled_catalogs(dockerfile):
    final_runs = " ".join(dockerfile[-1]["run"])
    assert "fonts-noto-core" in final_runs and "--no-install-recommends" in final_runs
    assert "rm -rf /var/lib/apt/lists" in final_runs
    build_runs = " ".join(" ".join(stage["run"]) for stage in dockerfile[:-1])
    assert "cowin-kit i18n compile" in build_runs
    # The fonts the image installs are where the FONT_DIRS default looks.
    from cowin_kit.config.settings import BY_KEY

    assert "/usr/share/fonts/truetype/noto" in BY_KEY["FONT_DIRS"].default


def test_the_command_is_gunicorn_with_the_shipped_config(dockerfile):
    final = dockerfile[-1]
    assert final["entrypoint"] is None
    assert final["cmd"] == ["gunicorn", "-c", "gunicorn.conf.py", "cowin_kit.wsgi:app"]
    copied = {dest: sources for sources, dest, _from in final["copy"]}
    assert copied[f"{final['workdir']}/gunicorn.conf.py"] == ["gunicorn.conf.py"]
    assert final["env"]["COWIN_KIT_LOG_FORMAT"] == "json"
    # The Helm chart runs the very same command.
    chart = (REPO / "deploy/helm/cowin-kit/templates/deployment-web.yaml").read_text()
    assert 'command: ["gunicorn"]' in chart
    assert 'args: ["-c", "gunicorn.conf.py", "cowin_kit.wsgi:app"]' in chart


# --- .dockerignore ---------------------------------------------------------------------------

def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches the path (or a parent folder) wins."""
    verdict = False
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        regex = _glob_regex(body.rstrip("/"))
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            verdict = not negate
    return verdict


def _glob_regex(glob: str) -> str:
    """Docker's globs: `**/` any folders (or none), `*` within a name, `?` one character."""
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(.*/)?", i + 3
        elif glob.startswith("**", i):
            out, i = out + ".*", i + 2
        elif glob[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif glob[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(glob[i]), i + 1
    return out


@pytest.fixture(scope="module")
def ignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_build_context_holds_what_is_copied_and_nothing_else(dockerfile, ignore_patterns):
    for stage in dockerfile:
        for sources, _dest, from_stage in stage["copy"]:
            if from_stage:
                continue
            for source in sources:
                assert not ignored(source.rstrip("/"), ignore_patterns), source
                assert (REPO / source).exists(), source
    for kept in ("cowin_kit/__init__.py", "cowin_kit/migrations/env.py", "gunicorn.conf.py",
                 "setup.cfg", "cowin_kit/locales/hi/LC_MESSAGES/messages.po"):
        assert not ignored(kept, ignore_patterns), kept
    for dropped in (".venv/bin/python", ".git/config", "tests/conftest.py", "instance/secret_key",
                    "instance/keys/20260101/dcc_key.pem", "bench/run.py", "docs/api.md",
                    "cowin_kit/__pycache__/db.cpython-311.pyc", "examples/countries/in/pack.yaml",
                    "cowin_kit/locales/hi/LC_MESSAGES/messages.mo", "deploy/helm/cowin-kit/Chart.yaml"):
        assert ignored(dropped, ignore_patterns), dropped


# --- the image's command, run here -----------------------------------------------------------

def _context_files(patterns: list[str]) -> list[Path]:
    """The files `docker build .` would send, by .dockerignore."""
    reincluded = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
    files = []
    for folder, dirs, names in os.walk(REPO):
        rel_folder = Path(folder).relative_to(REPO).as_posix()
        rel_folder = "" if rel_folder == "." else rel_folder + "/"
        dirs[:] = [d for d in dirs if not ignored(rel_folder + d, patterns)
                   or any(r.startswith(rel_folder + d) for r in reincluded)]
        files += [Path(rel_folder + n) for n in names if not ignored(rel_folder + n, patterns)]
    return files


@pytest.fixture(scope="module")
def image_root(tmp_path_factory, dockerfile, ignore_patterns) -> Path:
    """The image's file system, made by the Dockerfile's steps on this machine: the build
    context (by .dockerignore), `pip install .` (a real, non-editable install; the
    dependencies are the test environment's), `cowin-kit i18n compile` against that install,
    and the runtime stage's COPY of gunicorn.conf.py into WORKDIR."""
    root = tmp_path_factory.mktemp("image")
    context = root / "context"
    for rel in _context_files(ignore_patterns):
        (context / rel).parent.mkdir(parents=True, exist_ok=True)
        (context / rel).write_bytes((REPO / rel).read_bytes())
    site = root / "opt-venv-site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
         str(context)], capture_output=True, text=True, timeout=600, check=False)
    assert installed.returncode == 0, installed.stderr[-3000:]
    compiled = subprocess.run(
        [sys.executable, "-m", "cowin_kit.cli", "i18n", "compile"], cwd=root,
        env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True,
        timeout=300, check=False)
    assert compiled.returncode == 0, compiled.stderr
    final = dockerfile[-1]
    workdir = root / final["workdir"].lstrip("/")
    for sources, dest, from_stage in final["copy"]:
        if not from_stage:
            target = root / dest.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((context / sources[0]).read_bytes())
    assert (workdir / "gunicorn.conf.py").is_file()
    return root


def test_the_install_holds_what_the_app_needs(image_root):
    package = image_root / "opt-venv-site" / "cowin_kit"
    for po in (REPO / "cowin_kit" / "locales").glob("*/LC_MESSAGES/messages.po"):
        mo = package / po.relative_to(REPO / "cowin_kit").with_suffix(".mo")
        assert mo.is_file() and mo.stat().st_size > 0, mo
    assert list((package / "migrations" / "versions").glob("0001_*.py"))
    assert (package / "migrations" / "env.py").is_file()
    for folder in ("templates", "web/templates"):
        if (REPO / "cowin_kit" / folder).is_dir():
            shipped = {p.relative_to(REPO / "cowin_kit" / folder)
                       for p in (REPO / "cowin_kit" / folder).rglob("*") if p.is_file()}
            for rel in shipped:
                assert (package / folder / rel).is_file(), f"{folder}/{rel} not installed"
    assert not (image_root / "context" / "tests").exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _image_env(final: dict, overrides: dict[str, str]) -> dict[str, str]:
    """The image's ENV on this machine: /opt/venv is the test's virtualenv."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("COWIN_KIT_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env = dict(final["env"])
    env["PATH"] = env["PATH"].replace("/opt/venv/bin", str(VENV_BIN)).replace(
        "$PATH", base.get("PATH", ""))
    return {**base, **env, **overrides}


def _get(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def test_the_image_command_serves_readyz(dockerfile, image_root, fresh_database_url, tmp_path):
    final = dockerfile[-1]
    backend = "postgresql" if postgresql_server_url() else "sqlite"
    port = _free_port()
    env = _image_env(final, {
        "PORT": str(port),
        "COWIN_KIT_INSTANCE_PATH": str(tmp_path / "instance"),  # /var/lib/cowin-kit there
        "COWIN_KIT_DATABASE_URL": fresh_database_url(backend),
        "COWIN_KIT_SECRET_KEY": "container-test-" + "s" * 40,
        "COWIN_KIT_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "COWIN_KIT_ID_HASH_KEY": "container-test-" + "h" * 40,
        "COWIN_KIT_WEB_WORKERS": "2",
        "TMPDIR": str(tmp_path),
        "PYTHONPATH": str(image_root / "opt-venv-site"),  # the image's install, not the tree
    })
    assert env["COWIN_KIT_LOG_FORMAT"] == "json"
    # What the chart's migration Job runs with this image first.
    migrate = subprocess.run(["cowin-kit", "db", "upgrade"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stderr
    workdir = image_root / final["workdir"].lstrip("/")
    server = subprocess.Popen(final["cmd"], env=env, cwd=workdir, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    try:
        status = 0
        for _ in range(240):
            assert server.poll() is None, server.stdout.read()[-3000:]
            try:
                status, _headers, _body = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.25)
        assert status == 200
        id_number = "234567890124"
        status, headers, body = _get(f"http://127.0.0.1:{port}/readyz?ref={id_number}",
                                     {"X-Request-ID": "lb-41d2"})
        assert status == 200, body
        assert json.loads(body)["status"] == "ready"
        assert headers["X-Request-ID"] == "lb-41d2"
        for _ in range(6):  # spread over both workers
            assert _get(f"http://127.0.0.1:{port}/readyz")[0] == 200
        status, _headers, text = _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        counts = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "cowin_kit_http_request_duration_seconds_count":
                    counts[(sample.labels["endpoint"], sample.labels["status"])] = sample.value
        assert counts[("health.readyz", "200")] == 7  # every worker's requests added up
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # what Kubernetes sends: a graceful stop
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output[-2000:]
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert lines and all("time" in line and "level" in line for line in lines)
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    tagged = [line for line in access if line.get("request_id") == "lb-41d2"]
    assert len(tagged) == 1 and tagged[0]["path"] == "/readyz" and tagged[0]["status"] == 200
    assert all(line.get("request_id") not in (None, "-") for line in access)
    assert id_number not in output  # the query string is never logged


# --- rolling upgrades --------------------------------------------------------------------------

def _stamp(app, revision: str) -> None:
    from sqlalchemy import text

    from cowin_kit.core.db import get_database

    with get_database(app).engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :rev"), {"rev": revision})


def test_a_pod_of_the_previous_release_stays_ready_after_the_new_migration(app):
    """The chart migrates in a pre-upgrade hook, while the old pods still serve: an old pod
    must not drop out of the Service because the schema is newer than its code; an
    instance whose schema is behind its code is not ready."""
    from cowin_kit.core import migrate

    client = app.test_client()
    head = migrate.head_revisions()[0]
    try:
        assert client.get("/readyz").status_code == 200
        _stamp(app, "f00dfacef00d")  # a revision this code does not know: a newer release's
        newer = client.get("/readyz")
        assert newer.status_code == 200 and "newer" in newer.get_json()["note"]
        _stamp(app, migrate.all_revisions()[-2])  # behind this code: migrate first
        behind = client.get("/readyz")
        assert behind.status_code == 503 and "cowin-kit db upgrade" in behind.get_json()["reason"]
    finally:
        _stamp(app, head)


# --- gunicorn.conf.py ----------------------------------------------------------------------------

def _load_gunicorn_conf(monkeypatch, tmp_path, **env) -> dict:
    import logging
    import runpy

    from cowin_kit.core import logging_setup

    for key in [k for k in os.environ if k.startswith("COWIN_KIT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    monkeypatch.setenv("COWIN_KIT_ENV", "test")
    monkeypatch.setenv("COWIN_KIT_INSTANCE_PATH", str(tmp_path / "instance"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        return runpy.run_path(str(REPO / "gunicorn.conf.py"))
    finally:
        root = logging.getLogger()
        for handler in list(root.handlers):
            if getattr(handler, logging_setup._HANDLER_MARK, False):
                root.removeHandler(handler)


def test_gunicorn_settings_come_from_cowin_kit_settings(monkeypatch, tmp_path):
    from gunicorn.config import Config

    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "counter_123.db").write_bytes(b"stale")
    conf = _load_gunicorn_conf(monkeypatch, tmp_path, PORT="9123", COWIN_KIT_WEB_WORKERS="7",
                               COWIN_KIT_WEB_THREADS="8", COWIN_KIT_WEB_TIMEOUT="45",
                               COWIN_KIT_WEB_MAX_REQUESTS="1000")
    assert conf["bind"] == ["0.0.0.0:9123"]
    assert (conf["workers"], conf["threads"], conf["timeout"]) == (7, 8, 45)
    assert (conf["max_requests"], conf["max_requests_jitter"]) == (1000, 100)
    assert conf["worker_class"] == "gthread" and conf["preload_app"] is True
    assert conf["worker_tmp_dir"] == "/dev/shm"
    assert not (tmp_path / "metrics" / "counter_123.db").exists()  # an earlier run's values
    # Every name is one gunicorn knows (a typo would be silently ignored by gunicorn).
    config = Config()
    ours = {k for k in conf if not k.startswith("_") and k.islower()
            and not callable(conf[k]) and k not in {"annotations", "os", "tempfile", "Path"}}
    unknown = ours - set(config.settings) - {"logging_setup", "load_settings"}
    assert unknown == set()
    for name in ours & set(config.settings):
        config.set(name, conf[name])  # gunicorn's own validation of each value
    for hook in ("post_fork", "child_exit"):
        config.set(hook, conf[hook])
    assert config.logger_class.__name__ == "GunicornLogger"


def test_gunicorn_workers_follow_the_cpus_the_container_may_use(monkeypatch, tmp_path):
    conf = _load_gunicorn_conf(monkeypatch, tmp_path, COWIN_KIT_WEB_BIND="127.0.0.1:9")
    cpus = conf["available_cpus"]()
    assert 1 <= cpus <= (os.cpu_count() or 1)
    assert conf["workers"] == 2 * cpus + 1
    assert conf["bind"] == ["127.0.0.1:9"]
