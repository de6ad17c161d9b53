"""The Helm chart, without a cluster: rendered by Helm's own Go SDK (helm-python-sdk) for
every ci/*.yaml value set, linted in strict mode, every manifest validated against the
Kubernetes 1.30 schemas in strict mode; secrets never in ConfigMaps; probes, resources,
security contexts and hooks as they must be; values outside the schema refused. The smoke
test runs the rendered migration, pack, first-admin and web commands with their rendered
environment on this machine and expects /readyz 200."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from cowin_kit.testing import postgresql_server_url
from conftest import EXAMPLES

PG_SERVER_URL = postgresql_server_url()

from cowin_kit.config.settings import DECLARATIONS

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "cowin-kit"
CI_FILES = sorted((CHART / "ci").glob("*.yaml"))
KUBE_VERSION = "1.30.0"
VENV_BIN = Path(sys.executable).parent
POD_KINDS = {"Deployment", "Job", "Pod"}


def ci_values(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def render(values: dict, *, name: str = "cowin") -> list[dict]:
    """Every manifest the chart renders (hooks and tests included), parsed."""
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name=name, namespace="health")
    documents = []
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                document["_template"] = template
                documents.append(document)
    return documents


def notes(values: dict) -> str:
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name="cowin", namespace="health")
    return next(text for template, text in rendered.items() if template.endswith("NOTES.txt"))


def by_kind(documents: list[dict], kind: str) -> list[dict]:
    return [d for d in documents if d["kind"] == kind]


def one(documents: list[dict], kind: str, name: str) -> dict:
    (found,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def pod_spec(document: dict) -> dict:
    return document["spec"] if document["kind"] == "Pod" else document["spec"]["template"]["spec"]


def containers(document: dict) -> list[dict]:
    spec = pod_spec(document)
    return spec.get("initContainers", []) + spec["containers"]


@pytest.fixture(scope="module", params=CI_FILES, ids=[p.stem for p in CI_FILES])
def ci(request) -> tuple[dict, list[dict]]:
    values = ci_values(request.param)
    return values, render(values)


def test_there_are_the_three_value_sets():
    assert {p.stem for p in CI_FILES} >= {"minimal-values", "production-values",
                                          "existing-secrets-values"}


@pytest.mark.parametrize("path", CI_FILES, ids=[p.stem for p in CI_FILES])
def test_lint_is_clean_in_strict_mode(path):
    report = helm.lint(CHART, ci_values(path), strict=True, namespace="health",
                       kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_every_manifest_is_valid_kubernetes_1_30(ci):
    _values, documents = ci
    assert documents
    for document in documents:
        manifest = {k: v for k, v in document.items() if k != "_template"}
        kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True)


def test_the_validator_does_catch_a_wrong_manifest(ci):
    """The check above is not vacuous: a misspelt field fails it."""
    _values, documents = ci
    deployment = {k: v for k, v in by_kind(documents, "Deployment")[0].items() if k != "_template"}
    deployment = json.loads(json.dumps(deployment))
    deployment["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)


def _secret_values(values: dict, documents: list[dict]) -> set[str]:
    found = {v for v in (values.get("secrets") or {}).values() if v and v != values["secrets"].get("existingSecret")}
    for secret in by_kind(documents, "Secret"):
        found |= set((secret.get("stringData") or {}).values())
    return {v for v in found if len(v) >= 8}


def test_no_secret_value_lands_in_a_configmap(ci):
    values, documents = ci
    secrets = _secret_values(values, documents)
    if not (values.get("secrets") or {}).get("existingSecret"):
        assert secrets, "the chart-managed Secret holds the secrets"
    for config_map in by_kind(documents, "ConfigMap"):
        text = json.dumps(config_map.get("data") or {})
        for secret in secrets:
            assert secret not in text, f"a secret value is in ConfigMap {config_map['metadata']['name']}"
        for key in (config_map.get("data") or {}):
            setting = key.removeprefix("COWIN_KIT_")
            declared = [d for d in DECLARATIONS if d.key == setting]
            assert not (declared and declared[0].secret), f"secret setting {key} in a ConfigMap"
    # ... and every secret setting reaches the containers from a Secret.
    for document in documents:
        if document["kind"] not in POD_KINDS or document["_template"].endswith("test-readyz.yaml"):
            continue
        env = {e["name"]: e for c in containers(document) for e in c.get("env", [])}
        for key in ("SECRET_KEY", "ENCRYPTION_KEYS", "ID_HASH_KEY", "REDIS_URL"):
            assert "secretKeyRef" in env[f"COWIN_KIT_{key}"]["valueFrom"], document["metadata"]["name"]
        database_url = env["COWIN_KIT_DATABASE_URL"]
        if "value" in database_url:  # composed from database.host...: only the password is secret
            assert "$(DATABASE_PASSWORD)" in database_url["value"]
            assert "secretKeyRef" in env["DATABASE_PASSWORD"]["valueFrom"]
        else:
            assert "secretKeyRef" in database_url["valueFrom"], document["metadata"]["name"]


def test_web_probes_resources_and_security(ci):
    values, documents = ci
    web = one(documents, "Deployment", "cowin-cowin-kit-web")
    (container,) = web["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["command"] == ["gunicorn"]
    assert container["args"] == ["-c", "gunicorn.conf.py", "cowin_kit.wsgi:app"]
    if values.get("autoscaling", {}).get("enabled"):
        assert "replicas" not in web["spec"]
        hpa = one(documents, "HorizontalPodAutoscaler", "cowin-cowin-kit-web")
        assert hpa["spec"]["scaleTargetRef"]["name"] == "cowin-cowin-kit-web"
    for document in documents:
        if document["kind"] not in POD_KINDS:
            continue
        spec = pod_spec(document)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec.get("automountServiceAccountToken") is False
        for c in containers(document):
            where = f"{document['metadata']['name']}/{c['name']}"
            for side in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][side]), where
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, where
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], where
            if document["kind"] != "Pod":  # the helm test pod writes nothing
                mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
                assert mounts.get("/tmp") == "tmp", where
                volumes = {v["name"]: v for v in spec["volumes"]}
                assert "emptyDir" in volumes["tmp"], where


def test_worker_runs_the_worker_command_with_a_probe(ci):
    _values, documents = ci
    worker = one(documents, "Deployment", "cowin-cowin-kit-worker")
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["cowin-kit"] and container["args"] == ["worker"]
    assert container["livenessProbe"]["tcpSocket"]["port"] == "metrics"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["COWIN_KIT_WORKER_METRICS_PORT"] == "9100"


def _hook(document: dict) -> tuple[str, int, str]:
    annotations = document["metadata"].get("annotations", {})
    return (annotations.get("helm.sh/hook", ""), int(annotations.get("helm.sh/hook-weight", 0)),
            annotations.get("helm.sh/hook-delete-policy", ""))


def test_hooks_are_annotated_and_ordered(ci):
    values, documents = ci
    migrate = one(documents, "Job", "cowin-cowin-kit-migrate")
    hook, migrate_weight, policy = _hook(migrate)
    assert hook == "pre-install,pre-upgrade" and policy == "before-hook-creation"
    (container,) = migrate["spec"]["template"]["spec"]["containers"]
    assert container["command"] + container["args"] == ["cowin-kit", "db", "upgrade"]
    assert migrate["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # What the pre-install Jobs read exists before them: hooks of a lower weight.
    # A rollback restores them too (pre-rollback), but never reruns migrations.
    settings = one(documents, "ConfigMap", "cowin-cowin-kit-settings")
    assert _hook(settings)[0] == "pre-install,pre-upgrade,pre-rollback"
    assert _hook(settings)[1] < migrate_weight
    for secret in by_kind(documents, "Secret"):
        assert _hook(secret)[0] == "pre-install,pre-upgrade,pre-rollback"
        assert _hook(secret)[1] < migrate_weight
    packs = [d for d in by_kind(documents, "Job") if d["metadata"]["name"].endswith("-pack")]
    if values.get("pack", {}).get("source", "none") == "none":
        assert packs == []
    else:
        hook, weight, policy = _hook(packs[0])
        assert hook == "pre-install,pre-upgrade" and weight > migrate_weight
        assert policy == "before-hook-creation"
    admins = [d for d in by_kind(documents, "Job") if d["metadata"]["name"].endswith("-first-admin")]
    assert len(admins) == (1 if values.get("firstAdmin", {}).get("enabled") else 0)
    for admin in admins:
        assert _hook(admin)[0] == "post-install"
    (test_pod,) = by_kind(documents, "Pod")
    assert _hook(test_pod)[0] == "test"
    assert "/readyz" in test_pod["spec"]["containers"][0]["args"][0]
    # Regular resources are not hooks.
    for document in documents:
        if document["kind"] in {"Deployment", "Service", "Ingress", "HorizontalPodAutoscaler",
                                "PodDisruptionBudget", "NetworkPolicy", "ServiceAccount"}:
            assert _hook(document)[0] == ""


def test_signing_keys_are_mounted_one_folder_per_generation():
    values = ci_values(CHART / "ci" / "production-values.yaml")
    documents = render(values)
    web = one(documents, "Deployment", "cowin-cowin-kit-web")
    spec = web["spec"]["template"]["spec"]
    (keys,) = [v for v in spec["volumes"] if v["name"] == "signing-keys"]
    paths = {item["path"] for source in keys["projected"]["sources"]
             for item in source["secret"]["items"]}
    assert "20260101T000000000000/dcc_key.pem" in paths
    assert "20270101T000000000000/vc_key.pem" in paths and len(paths) == 10
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    mount = [m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "signing-keys"][0]
    assert env["COWIN_KIT_CERT_KEYS_DIR"] == mount["mountPath"] and mount["readOnly"] is True


def test_ingress_with_tls_and_the_notes():
    values = ci_values(CHART / "ci" / "production-values.yaml")
    documents = render(values)
    ingress = one(documents, "Ingress", "cowin-cowin-kit")
    assert ingress["spec"]["tls"][0]["hosts"] == ["vaccination.example.gov"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "cowin-cowin-kit", "port": {"name": "http"}}
    text = notes(values)
    assert "https://vaccination.example.gov/" in text and "helm test cowin" in text
    minimal = notes(ci_values(CHART / "ci" / "minimal-values.yaml"))
    assert "no certificate signing keys" in minimal and "port-forward" in minimal


@pytest.mark.parametrize("bad, message", [
    ({"replicaCount": 3}, "replicaCount"),
    ({"web": {"replica": 2}}, "replica"),
    ({"web": {"replicas": "two"}}, "replicas"),
    ({"settings": {"DATABASE_URL": "postgresql://u:p@db/cowin"}}, "DATABASE_URL"),
    ({"settings": {"SECRET_KEY": "x"}}, "SECRET_KEY"),
    ({"settings": {"NO_SUCH_SETTING": "x"}}, "NO_SUCH_SETTING"),
    ({"settings": {"LOG_FORMAT": "xml"}}, "LOG_FORMAT"),
    ({"settings": {"TRUSTED_PROXIES": "one"}}, "TRUSTED_PROXIES"),
    ({"pack": {"source": "git"}}, "source"),
    ({"signingKeys": {"generations": [{"id": "a/b", "secretName": "k"}]}}, "id"),
    ({"ingress": {"hosts": [{"host": "x", "paths": [{"path": "no-slash"}]}]}}, "path"),
])
def test_values_outside_the_schema_are_refused(bad, message):
    values = _merge(ci_values(CHART / "ci" / "minimal-values.yaml"), bad)
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmError) as raised:
        chart.validate_schema(chart.merge_values(values))
    assert message in str(raised.value)
    with pytest.raises(helm.HelmError):
        render(values)
    report = helm.lint(CHART, values, strict=True)
    assert report["errors"] or [m for m in report["messages"] if m["severity"] >= 2]


def test_the_ci_values_are_within_the_schema():
    with helm.Chart.load(CHART) as chart:
        for path in CI_FILES:
            chart.validate_schema(chart.merge_values(ci_values(path)))


def test_schema_settings_are_declared_non_secret_settings_of_the_same_type():
    """The chart's `settings` can only hold real, non-secret settings (a secret one would
    land in the ConfigMap), and every setting a ministry may set is there."""
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    settings = schema["properties"]["settings"]
    assert settings["additionalProperties"] is False
    declared = {d.key: d for d in DECLARATIONS}
    json_type = {"str": "string", "int": "integer", "bool": "boolean", "list": "array",
                 "float": "number"}
    for key, prop in settings["properties"].items():
        assert key in declared, f"{key} is not a setting"
        assert not declared[key].secret, f"{key} is secret"
        assert prop["type"] == json_type[declared[key].type], key
        if declared[key].choices:
            assert prop["enum"] == list(declared[key].choices), key
    for key in ("DATABASE_URL", "SECRET_KEY", "ENCRYPTION_KEYS", "ID_HASH_KEY", "REDIS_URL"):
        assert key not in settings["properties"]
    # Every other setting is offered, so a new one cannot be forgotten: but those the chart
    # sets itself (paths, ports), the test suite's own, and the example packs' folder (the
    # chart installs the pack of its values).
    set_by_the_chart = {"INSTANCE_PATH", "CERT_KEYS_DIR", "WORKER_METRICS_PORT", "WEB_BIND",
                        "VECTORS", "TEST_CACHE", "EXAMPLES_DIR"}
    offered = {key for key, d in declared.items() if not d.secret} - set_by_the_chart
    assert offered == set(settings["properties"]), offered ^ set(settings["properties"])


def test_every_schema_object_is_closed():
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    open_ok = {"global", "podSecurityContext", "securityContext", "affinity"}

    def walk(node, path):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                assert node.get("additionalProperties") is False, path
            for key, child in node.items():
                if key == "properties":
                    for name, prop in child.items():
                        if name not in open_ok:
                            walk(prop, f"{path}.{name}")
                elif isinstance(child, (dict, list)):
                    walk(child, path)
        elif isinstance(node, list):
            for child in node:
                walk(child, path)

    walk(schema, "values")


def test_pack_files_in_folders_and_the_configmap_limit():
    values = _merge(ci_values(CHART / "ci" / "minimal-values.yaml"), {"pack": {
        "source": "configMap",
        "files": {"pack.yaml": "code: XX\n", "locales/hi.po": "msgid \"\"\n"}}})
    documents = render(values)
    config_map = one(documents, "ConfigMap", "cowin-cowin-kit-pack")
    assert set(config_map["data"]) == {"pack.yaml", "locales__hi.po"}
    job = one(documents, "Job", "cowin-cowin-kit-pack")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    mounts = {m["mountPath"]: m["subPath"] for m in container["volumeMounts"] if m["name"] == "pack"}
    assert mounts == {"/pack/pack.yaml": "pack.yaml", "/pack/locales/hi.po": "locales__hi.po"}
    assert container["args"] == ["pack", "install", "/pack"]

    too_big = _merge(values, {"pack": {"files": {"locations.csv": "x" * 1_100_000}}})
    with pytest.raises(helm.HelmError, match="1 MiB"):
        render(too_big)


def test_required_secrets_are_named_in_the_error():
    values = ci_values(CHART / "ci" / "minimal-values.yaml")
    values["secrets"] = {"databaseUrl": "postgresql+psycopg://db/cowin"}
    with pytest.raises(helm.HelmError, match="secrets.secretKey"):
        render(values)


def _merge(base: dict, extra: dict) -> dict:
    out = json.loads(json.dumps(base))
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


# --- smoke: the rendered commands, run here --------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _container_env(container: dict, documents: list[dict], tmp_root: Path) -> dict[str, str]:
    """The container's environment as Kubernetes would give it: envFrom ConfigMaps, then
    env with secretKeyRef/configMapKeyRef resolved from the given objects, and $(VAR)
    expanded. /tmp is the pod's emptyDir: here a folder of the test."""
    def lookup(kind: str, name: str) -> dict:
        (found,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
        return found.get("data") or found.get("stringData") or {}

    env: dict[str, str] = {}

    def expand(value: str) -> str:  # $(VAR) of a variable defined before; $$ is a $
        return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                      lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
                      value)

    for source in container.get("envFrom", []):
        env.update(lookup("ConfigMap", source["configMapRef"]["name"]))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = expand(str(item["value"]))
            continue
        ref = item["valueFrom"].get("secretKeyRef") or item["valueFrom"]["configMapKeyRef"]
        kind = "Secret" if "secretKeyRef" in item["valueFrom"] else "ConfigMap"
        data = lookup(kind, ref["name"])
        if ref["key"] in data:
            env[item["name"]] = data[ref["key"]]
        elif not ref.get("optional"):
            raise AssertionError(f"{ref['name']} has no key {ref['key']}")
    return {k: (str(tmp_root) + v[4:] if v.startswith("/tmp/") else v) for k, v in env.items()}


def _run_env(rendered: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("COWIN_KIT_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    base["PATH"] = f"{VENV_BIN}{os.pathsep}{base.get('PATH', '')}"
    return {**base, **rendered}


@pytest.fixture
def smoke_values(fresh_database_url):
    from cryptography.fernet import Fernet

    backend = "postgresql" if PG_SERVER_URL else "sqlite"
    if not PG_SERVER_URL and os.environ.get("CI") == "true":
        pytest.fail("CI must set COWIN_KIT_TEST_DATABASE_URL")
    values = ci_values(CHART / "ci" / "minimal-values.yaml")
    values["secrets"] = {
        "databaseUrl": fresh_database_url(backend), "secretKey": "smoke-" + "k" * 40,
        "encryptionKeys": Fernet.generate_key().decode(), "idHashKey": "smoke-" + "h" * 40,
        "adminPassword": "smoke test admin password"}
    values["firstAdmin"] = {"enabled": True, "username": "national.admin"}
    pack_dir = EXAMPLES / "in"
    files, binary = {}, {}
    for path in sorted(p for p in pack_dir.rglob("*") if p.is_file()):
        name = path.relative_to(pack_dir).as_posix()
        try:
            files[name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # the logo: --set pack.binaryFiles.logo\.png=$(base64 ...)
            binary[name] = base64.b64encode(path.read_bytes()).decode()
    values["pack"] = {"source": "configMap", "files": files, "binaryFiles": binary}
    return values


def _run_job(documents, name, tmp_path, mounts: dict[str, Path] | None = None):
    job = one(documents, "Job", name)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = _run_env(_container_env(container, documents, tmp_path))
    argv = [container["command"][0], *container["command"][1:], *container.get("args", [])]
    for mount_path, local in (mounts or {}).items():  # a mounted volume: a local folder
        argv = [str(local) + a[len(mount_path):] if a.startswith(mount_path) else a
                for a in argv]
    result = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, f"{shlex.join(argv)}\n{result.stdout}\n{result.stderr}"
    return result


def test_smoke_rendered_jobs_and_web_server_run_here(smoke_values, tmp_path):
    documents = render(smoke_values)

    # 1. The migration hook Job.
    migrated = _run_job(documents, "cowin-cowin-kit-migrate", tmp_path)
    assert "database at" in migrated.stdout

    # 2. The pack Job, its ConfigMap's files laid out as its subPath mounts place them.
    job = one(documents, "Job", "cowin-cowin-kit-pack")
    config_map = one(documents, "ConfigMap", "cowin-cowin-kit-pack")
    pack_root = tmp_path / "pack-volume"
    for mount in job["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]:
        if mount["name"] == "pack":
            target = pack_root / mount["mountPath"].removeprefix("/pack/")
            target.parent.mkdir(parents=True, exist_ok=True)
            key = mount["subPath"]
            if key in config_map.get("data", {}):
                target.write_text(config_map["data"][key], encoding="utf-8")
            else:
                target.write_bytes(base64.b64decode(config_map["binaryData"][key]))
    installed = _run_job(documents, "cowin-cowin-kit-pack", tmp_path, {"/pack": pack_root})
    assert "installed pack IN" in installed.stdout

    # 3. The first administrator, twice (the second run finds the account and stops).
    created = _run_job(documents, "cowin-cowin-kit-first-admin", tmp_path)
    assert "created staff user national.admin" in created.stdout
    assert "granted national_admin" in created.stdout
    again = _run_job(documents, "cowin-cowin-kit-first-admin", tmp_path)
    assert "exists: nothing to do" in again.stdout

    # 4. The web container: its command, args and environment (the port moved to a free one).
    web = one(documents, "Deployment", "cowin-cowin-kit-web")
    (container,) = web["spec"]["template"]["spec"]["containers"]
    env = _run_env(_container_env(container, documents, tmp_path))
    port = _free_port()
    env["PORT"] = str(port)
    env["COWIN_KIT_WEB_WORKERS"] = "2"  # not the CPU count of this shared machine
    argv = container["command"] + container["args"]
    # The image's WORKDIR holds gunicorn.conf.py: here that is the repository's top.
    server = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        status, body = _wait_ready(f"http://127.0.0.1:{port}/readyz", server)
        assert status == 200, body
        assert json.loads(body)["status"] == "ready"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            assert answer.status == 200
        # Signing in works with the first admin's password, through the real server.
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/staff/sign-in", method="POST",
            data=json.dumps({"username": "national.admin",
                             "password": "smoke test admin password"}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200 and json.loads(answer.read())["token"]
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output[-2000:]
    access = [json.loads(line) for line in output.splitlines()
              if line.startswith("{") and '"gunicorn.access"' in line]
    assert any(line["path"] == "/readyz" and line["status"] == 200 for line in access)


def _wait_ready(url: str, server: subprocess.Popen, attempts: int = 240) -> tuple[int, str]:
    last = (0, "")
    for _ in range(attempts):
        if server.poll() is not None:
            raise AssertionError(f"the server stopped: {server.stdout.read()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            last = (exc.code, exc.read().decode())
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.25)
    return last


def test_the_prometheus_rule_alerts_on_delayed_and_given_up_messages():
    """Off by default (it needs the Prometheus Operator's CRDs); on, it alerts on the
    outbox metrics the app exports, with the threshold and selector of the values."""
    base = ci_values(CHART / "ci" / "minimal-values.yaml")
    assert not by_kind(render(base), "PrometheusRule")
    values = json.loads(json.dumps(base))
    values["monitoring"] = {"prometheusRule": {
        "enabled": True, "labels": {"release": "kube-prometheus"}, "messageAgeSeconds": 300,
        "metricSelector": 'namespace="health"'}}
    report = helm.lint(CHART, values, strict=True, namespace="health",
                       kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == []
    (rule,) = by_kind(render(values), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus"
    alerts = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    delayed = alerts["CowinKitMessagesDelayed"]["expr"]
    assert delayed == ('max(cowin_kit_message_outbox_oldest_pending_age_seconds'
                       '{namespace="health"}) > 300')
    given_up = alerts["CowinKitMessagesGivenUp"]["expr"]
    assert 'cowin_kit_message_send_failures_total{namespace="health",final="true"}' in given_up
    # the app exports these names: tests/http/test_message_outbox.py reads them from /metrics
