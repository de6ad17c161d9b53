"""The chart's options for production installs, as popular charts offer them: the database
in parts (host, port, name, user; the password from a Secret, the URL composed in the pod
by Kubernetes' $(VAR) expansion), worker autoscaling, an image pinned by digest and a
global registry, labels on every object, extra pod labels, volumes, init containers and a
priority class. Each rendered from ci/production-existing-secrets-values.yaml (which
test_helm.py also lints and validates against the Kubernetes 1.30 schemas) or the minimal
set with the option added; the composed URL is run here against PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from test_helm import (CHART, KUBE_VERSION, PG_SERVER_URL, _container_env, _merge, _run_job,
                       by_kind, ci_values, one, render)
import helm_python as helm
import kubernetes_validate

PRODUCTION = CHART / "ci" / "production-existing-secrets-values.yaml"
MINIMAL = CHART / "ci" / "minimal-values.yaml"
WORKLOADS = ("Deployment", "Job", "CronJob")
SELECTOR = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component")


def pod_template(document: dict) -> dict:
    spec = document["spec"]
    return spec["jobTemplate"]["spec"]["template"] if document["kind"] == "CronJob" else spec["template"]


def workloads(documents: list[dict]) -> list[dict]:
    return [d for d in documents if d["kind"] in WORKLOADS]


def database_parts(url: str) -> dict:
    parsed = make_url(url)
    return {"host": parsed.host, "port": parsed.port or 5432, "name": parsed.database,
            "user": parsed.username, "existingSecret": "db-credentials",
            "passwordKey": "secret-password", "parameters": "connect_timeout=10"}


def password_secret(password: str) -> dict:
    """The Secret the ministry makes (outside the chart) with the database password."""
    return {"kind": "Secret", "metadata": {"name": "db-credentials"},
            "stringData": {"secret-password": password}}


def test_the_database_url_is_composed_in_every_pod_from_parts_and_a_secret(tmp_path):
    values = ci_values(PRODUCTION)
    documents = render(values)
    assert not by_kind(documents, "Secret")  # every secret is managed outside the chart
    db = values["database"]
    secret = {"kind": "Secret", "metadata": {"name": db["existingSecret"]},
              "stringData": {db["passwordKey"]: "p4ss-word_~.x"}}
    checked = 0
    for document in workloads(documents):
        for container in pod_template(document)["spec"]["containers"]:
            names = [e["name"] for e in container.get("env", [])]
            if "COWIN_KIT_DATABASE_URL" not in names:
                continue
            # $(VAR) only expands variables defined before it.
            assert names.index("DATABASE_USER") < names.index("COWIN_KIT_DATABASE_URL")
            assert names.index("DATABASE_PASSWORD") < names.index("COWIN_KIT_DATABASE_URL")
            database_env = [e for e in container["env"] if e["name"] in
                            ("DATABASE_USER", "DATABASE_PASSWORD", "COWIN_KIT_DATABASE_URL")]
            env = _container_env({"env": database_env}, [secret], tmp_path)
            url = make_url(env["COWIN_KIT_DATABASE_URL"])
            assert (url.drivername, url.host, url.port, url.database, url.username, url.password) == (
                "postgresql+psycopg", db["host"], db["port"], db["name"], db["user"], "p4ss-word_~.x")
            assert url.query == {"sslmode": "verify-full",
                                 "sslrootcert": "/etc/cowin-kit/db-ca/ca.crt"}
            checked += 1
    # web, worker, migrations, pack, first admin, backup
    assert checked == 6


@pytest.mark.skipif(not PG_SERVER_URL, reason="needs COWIN_KIT_TEST_DATABASE_URL (a PostgreSQL server)")
def test_the_migration_job_runs_here_with_the_database_in_parts(fresh_database_url, tmp_path):
    url = fresh_database_url("postgresql")
    values = ci_values(MINIMAL)
    del values["secrets"]["databaseUrl"]
    values["database"] = database_parts(url)
    documents = render(values)
    secret = one(documents, "Secret", "cowin-cowin-kit-secrets")
    assert "DATABASE_URL" not in secret["stringData"]
    # The password of the server's own URL (none for a trusting local server).
    documents.append(password_secret(make_url(url).password or "local-server-trusts"))
    migrated = _run_job(documents, "cowin-cowin-kit-migrate", tmp_path)
    assert "database at" in migrated.stdout


@pytest.mark.parametrize("bad, message", [
    ({"database": {"host": "pg", "name": "cowin", "user": "cowin"}}, "existingSecret"),
    ({"database": {"host": "pg", "existingSecret": "db", "name": "cowin"}}, "user"),
    ({"database": {"host": "pg", "existingSecret": "db", "user": "u"}}, "name"),
    ({"database": {"host": "pg", "existingSecret": "db", "name": "c", "user": "u@x"}}, "user"),
    ({"database": {"port": 0}}, "port"),
    ({"database": {"parameters": "?sslmode=require"}}, "parameters"),
    ({"image": {"digest": "sha256:abc"}}, "digest"),
    ({"global": {"imageRegistry": "https://registry"}}, "imageRegistry"),
    ({"worker": {"autoscaling": {"enabled": True, "maxReplica": 3}}}, "maxReplica"),
    ({"commonLabels": {"team": "x" * 64}}, "team"),
    ({"web": {"podLabels": {"bad key!": "x"}}}, "bad key!"),
    ({"web": {"priorityClassName": "High"}}, "priorityClassName"),
    ({"worker": {"initContainers": [{"image": "busybox"}]}}, "name"),
    ({"extraVolumeMounts": [{"name": "ca"}]}, "mountPath"),
    ({"extraVolumes": [{"secret": {"secretName": "ca"}}]}, "name"),
])
def test_options_outside_the_schema_are_refused(bad, message):
    values = _merge(ci_values(MINIMAL), bad)
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmError) as raised:
        chart.validate_schema(chart.merge_values(values))
    assert message in str(raised.value)


def test_the_image_by_digest_from_the_global_registry():
    values = ci_values(PRODUCTION)
    documents = render(values)
    registry = values["global"]["imageRegistry"]
    app = f"{registry}/{values['image']['repository']}@{values['image']['digest']}"
    images = {c["name"]: c["image"] for d in workloads(documents)
              for c in pod_template(d)["spec"].get("initContainers", [])
              + pod_template(d)["spec"]["containers"]}
    assert images.pop("pack") == f"{registry}/health/cowin-kit-pack-ke:2026.1"
    assert images.pop("backup") == f"{registry}/postgres:16-alpine"
    assert set(images.values()) == {app}  # web, its templated init container, worker, jobs
    assert set(images) == {"web", "wait-for-database", "worker", "migrate", "first-admin"}
    digest = "sha256:" + "0123456789abcdef" * 4
    pinned = render(_merge(values, {"pack": {"image": {"digest": digest}},
                                    "backup": {"image": {"digest": digest}}}))
    images = {c["name"]: c["image"] for d in workloads(pinned)
              for c in pod_template(d)["spec"]["containers"]}
    assert images["pack"] == f"{registry}/health/cowin-kit-pack-ke@{digest}"
    assert images["backup"] == f"{registry}/postgres@{digest}"
    # Without a digest the tag (default: the chart's appVersion), without a registry as given.
    (web,) = [d for d in render(ci_values(MINIMAL)) if d["kind"] == "Deployment"
              and d["metadata"]["name"].endswith("-web")]
    assert pod_template(web)["spec"]["containers"][0]["image"] == "cowin-kit:0.1.0"


def test_common_labels_on_every_object_and_pod_labels_on_their_pods():
    values = ci_values(PRODUCTION)
    documents = render(values)
    common = values["commonLabels"]
    for document in documents:
        assert common.items() <= document["metadata"]["labels"].items(), document["metadata"]["name"]
    for document in workloads(documents):
        labels = pod_template(document)["metadata"]["labels"]
        assert common.items() <= labels.items(), document["metadata"]["name"]
        assert ("traffic" in labels) == document["metadata"]["name"].endswith("-web")
    # Pod labels never replace the selector's (the Deployment would select no pod).
    values = _merge(ci_values(MINIMAL), {
        "web": {"podLabels": {"app.kubernetes.io/component": "other", "tier": "front"}},
        "commonLabels": {"app.kubernetes.io/name": "other"}})
    web = one(render(values), "Deployment", "cowin-cowin-kit-web")
    labels = pod_template(web)["metadata"]["labels"]
    assert web["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert labels["tier"] == "front"
    assert web["metadata"]["labels"]["app.kubernetes.io/name"] == "cowin-kit"


def test_worker_autoscaling():
    documents = render(ci_values(PRODUCTION))
    hpa = one(documents, "HorizontalPodAutoscaler", "cowin-cowin-kit-worker")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "cowin-cowin-kit-worker"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 8)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert "replicas" not in one(documents, "Deployment", "cowin-cowin-kit-worker")["spec"]
    one(documents, "HorizontalPodAutoscaler", "cowin-cowin-kit-web")  # both are scaled
    # Off (the default): a fixed number of workers; no worker, no autoscaler.
    documents = render(ci_values(MINIMAL))
    assert not by_kind(documents, "HorizontalPodAutoscaler")
    assert one(documents, "Deployment", "cowin-cowin-kit-worker")["spec"]["replicas"] == 1
    documents = render(_merge(ci_values(MINIMAL), {"worker": {
        "enabled": False, "autoscaling": {"enabled": True}}}))
    assert not by_kind(documents, "HorizontalPodAutoscaler")


def test_extra_volumes_init_containers_and_priority_class():
    values = ci_values(PRODUCTION)
    documents = render(values)
    mount = values["extraVolumeMounts"][0]
    for document in workloads(documents):
        spec = pod_template(document)["spec"]
        name = document["metadata"]["name"]
        assert spec["priorityClassName"] == "cowin-kit-high", name
        # in the backup's too: pg_dump reads the database's CA bundle of the URL
        assert values["extraVolumes"][0] in spec["volumes"], name
        for container in spec["containers"]:
            assert mount in container["volumeMounts"], name
    web = one(documents, "Deployment", "cowin-cowin-kit-web")
    (init,) = pod_template(web)["spec"]["initContainers"]
    assert init["name"] == "wait-for-database"
    assert "initContainers" not in pod_template(
        one(documents, "Deployment", "cowin-cowin-kit-worker"))["spec"]
    for document in documents:
        if document["kind"] in ("Deployment", "HorizontalPodAutoscaler", "Job", "CronJob"):
            manifest = {k: v for k, v in document.items() if k != "_template"}
            kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True)
