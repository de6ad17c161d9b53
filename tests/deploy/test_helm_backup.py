"""The chart's backup CronJob: off by default, refused without a volume, a valid
Kubernetes 1.30 CronJob reading the database URL from the Secret; and its script, as
rendered, run here against PostgreSQL: it writes a pg_dump custom-format file that
pg_restore (the restore docs/install-helm.md describes) loads into an empty database."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cowin_kit.testing import create_database, drop_database, postgresql_server_url

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "cowin-kit"


def render(backup: dict) -> list[dict]:
    values = yaml.safe_load((CHART / "ci" / "minimal-values.yaml").read_text())
    values["backup"] = backup
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name="cowin", namespace="health")
    return [d for template, text_ in sorted(rendered.items()) if not template.endswith(".txt")
            for d in yaml.safe_load_all(text_) if d]


def test_the_backup_cronjob(tmp_path):
    assert not [d for d in render({}) if d["kind"] == "CronJob"]
    with pytest.raises(Exception, match="persistentVolumeClaim"):
        render({"enabled": True})
    (cronjob,) = [d for d in render({"enabled": True, "persistentVolumeClaim": "backups",
                                     "keepDays": 7}) if d["kind"] == "CronJob"]
    kubernetes_validate.validate(cronjob, "1.30.0", strict=True)
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (env,) = [e for e in container["env"] if e["name"] == "COWIN_KIT_DATABASE_URL"]
    assert env["valueFrom"]["secretKeyRef"]["key"] == "DATABASE_URL"
    assert {"name": "backups", "persistentVolumeClaim": {"claimName": "backups"}} in pod["volumes"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert "-mtime +7 -delete" in container["args"][0]


def test_the_rendered_script_dumps_and_the_dump_restores(pg_database_url, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    (cronjob,) = [d for d in render({"enabled": True, "persistentVolumeClaim": "backups",
                                     "mountPath": str(folder)}) if d["kind"] == "CronJob"]
    script = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][0]
    engine = create_engine(pg_database_url)
    with engine.begin() as connection:
        revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
    engine.dispose()
    done = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, timeout=300,
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path),
                               "COWIN_KIT_DATABASE_URL": pg_database_url})
    assert done.returncode == 0, done.stderr
    (dump,) = folder.glob("cowin-kit-*.dump")
    assert dump.read_bytes().startswith(b"PGDMP") and "backup written" in done.stdout

    server = postgresql_server_url()
    target, name = create_database(server)
    try:
        url = make_url(target)
        libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
        restored = subprocess.run(["pg_restore", "--no-owner", "--dbname", libpq, str(dump)],
                                  capture_output=True, text=True, timeout=300)
        assert restored.returncode == 0, restored.stderr
        check = create_engine(target)
        with check.begin() as connection:
            assert connection.scalar(text("SELECT version_num FROM alembic_version")) == revision
        check.dispose()
    finally:
        drop_database(server, name)
