"""Monitoring as code in the Helm chart: the ServiceMonitor and PodMonitor scrape what the
Service and the worker pods expose; the PrometheusRule's alerts (error rate, p99 latency,
certificate backlog growing, certificates not issued, messages delayed or given up,
database connections saturated, pods not ready) each fire on a series that should raise
them and stay quiet on a healthy one, run by `promtool test rules` (Debian's prometheus
package; .ci/run installs it); the Grafana dashboard is valid against the dashboard JSON
model's schema, each of its queries parses (`promtool check rules`) and reads only
metrics the app exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "cowin-kit"
DASHBOARD = CHART / "dashboards" / "cowin-kit.json"
SCHEMA = Path(__file__).parent / "monitoring" / "grafana-dashboard.schema.json"
KUBE_VERSION = "1.30.0"
FULLNAME = "cowin-cowin-kit"  # release "cowin"
ON = {"serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus"}},
      "podMonitor": {"enabled": True, "labels": {"release": "kube-prometheus"}},
      "prometheusRule": {"enabled": True, "metricSelector": 'namespace="health"',
                         "labels": {"release": "kube-prometheus"}},
      "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "Health"}}}


def render(values: dict) -> list[dict]:
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name="cowin", namespace="health")
    return [d for template, text in sorted(rendered.items()) if not template.endswith(".txt")
            for d in yaml.safe_load_all(text) if d]


def minimal(**monitoring) -> dict:
    values = yaml.safe_load((CHART / "ci" / "minimal-values.yaml").read_text())
    values["monitoring"] = monitoring
    return values


def of_kind(documents: list[dict], kind: str) -> list[dict]:
    return [d for d in documents if d["kind"] == kind]


def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("promtool is missing: .ci/run installs Debian's prometheus package")
    pytest.skip("needs promtool (apt-get install prometheus)")


def run_promtool(*args: str, cwd: Path) -> None:
    done = subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


# ----------------------------------------------------------------------------- rendering

def test_everything_is_off_by_default():
    documents = render(minimal())
    for kind in ("ServiceMonitor", "PodMonitor", "PrometheusRule"):
        assert not of_kind(documents, kind)
    assert not [d for d in of_kind(documents, "ConfigMap") if "dashboard" in d["metadata"]["name"]]


def test_the_monitors_select_what_the_service_and_the_workers_expose():
    values = minimal(**ON)
    report = helm.lint(CHART, values, strict=True, namespace="health",
                       kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == []
    documents = render(values)
    (service,) = of_kind(documents, "Service")
    (monitor,) = of_kind(documents, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["health"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}

    worker = next(d for d in of_kind(documents, "Deployment") if d["metadata"]["name"].endswith("-worker"))
    (pod_monitor,) = of_kind(documents, "PodMonitor")
    pod = worker["spec"]["template"]
    assert pod_monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    (endpoint,) = pod_monitor["spec"]["podMetricsEndpoints"]
    ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
    assert endpoint["port"] in ports
    # without a worker metrics port there is nothing for the PodMonitor to scrape
    values["worker"] = dict(values.get("worker") or {}, metricsPort=0)
    assert not of_kind(render(values), "PodMonitor")


def test_the_dashboard_configmap_holds_the_dashboard_for_grafanas_sidecar():
    documents = render(minimal(**ON))
    (configmap,) = [d for d in of_kind(documents, "ConfigMap")
                    if d["metadata"]["name"] == f"{FULLNAME}-dashboard"]
    kubernetes_validate.validate(configmap, KUBE_VERSION, strict=True)
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "Health"}
    assert json.loads(configmap["data"]["cowin-kit.json"]) == json.loads(DASHBOARD.read_text())


# ----------------------------------------------------------------------------- alerts

def _rule_files(tmp_path: Path) -> tuple[dict, Path, Path]:
    (rule,) = of_kind(render(minimal(**ON)), "PrometheusRule")
    spec = rule["spec"]
    full = tmp_path / "rules.yaml"
    full.write_text(yaml.safe_dump(spec))
    # promtool test rules compares annotations too; the alerts' conditions are what the
    # scenarios below check (the annotation templates are checked by `check rules`)
    bare = json.loads(json.dumps(spec))
    for group in bare["groups"]:
        for item in group["rules"]:
            item.pop("annotations", None)
    conditions = tmp_path / "conditions.yaml"
    conditions.write_text(yaml.safe_dump(bare))
    return spec, full, conditions


HEALTH = 'namespace="health"'
REQUESTS = "cowin_kit_http_request_duration_seconds"


def _series(name: str, values: str, **labels: str) -> dict:
    inner = ",".join([HEALTH] + [f'{k}="{v}"' for k, v in labels.items()])
    return {"series": f"{name}{{{inner}}}", "values": values}


def _case(alert: str, firing: list[dict], healthy: list[dict], at: str = "25m",
          labels: dict | None = None) -> list[dict]:
    """Two promtool tests: the alert fires on ``firing`` and not on ``healthy``."""
    expected = [{"exp_labels": dict(labels or {}, severity=SEVERITY[alert])}]
    return [{"interval": "1m", "input_series": firing,
             "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": expected}]},
            {"interval": "1m", "input_series": healthy,
             "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": []}]}]


SEVERITY = {"CowinKitHighErrorRate": "critical", "CowinKitSlowRequests": "warning",
            "CowinKitCertificateBacklogGrowing": "warning",
            "CowinKitCertificatesNotIssued": "critical", "CowinKitMessagesDelayed": "warning",
            "CowinKitMessagesGivenUp": "warning",
            "CowinKitDatabaseConnectionsSaturated": "warning", "CowinKitPodsNotReady": "warning",
            "CowinKitNoReadyWebPod": "critical"}


def _bucket(le: str, values: str) -> dict:
    return _series(f"{REQUESTS}_bucket", values, endpoint="api_scheduling.book",
                   method="POST", status="201", le=le)


def _scenarios() -> list[dict]:
    ok = dict(endpoint="api_scheduling.book", method="POST", status="201")
    failed = dict(ok, status="500")
    elsewhere = {"series": f'{REQUESTS}_count{{namespace="other",endpoint="x",method="GET",status="500"}}',
                 "values": "0+1000x40"}  # another instance's errors are not ours
    web = f"{FULLNAME}-web"
    return [
        # 10% of requests fail (above 5%); then 0.5%
        *_case("CowinKitHighErrorRate",
               [_series(f"{REQUESTS}_count", "0+540x40", **ok),
                _series(f"{REQUESTS}_count", "0+60x40", **failed)],
               [_series(f"{REQUESTS}_count", "0+597x40", **ok),
                _series(f"{REQUESTS}_count", "0+3x40", **failed), elsewhere]),
        # every request takes 2.5-5 s; then all under 0.1 s
        *_case("CowinKitSlowRequests",
               [_bucket("0.1", "0x40"), _bucket("2.5", "0x40"), _bucket("5", "0+100x40"),
                _bucket("+Inf", "0+100x40")],
               [_bucket("0.1", "0+100x40"), _bucket("2.5", "0+100x40"),
                _bucket("5", "0+100x40"), _bucket("+Inf", "0+100x40")]),
        # 600 due and growing; then 600 due and steady (the workers keep up)
        *_case("CowinKitCertificateBacklogGrowing",
               [_series("cowin_kit_certificate_outbox_due", "600+10x40")],
               [_series("cowin_kit_certificate_outbox_due", "600x40")]),
        # certificates due and none issued; then issued at 5 a minute
        *_case("CowinKitCertificatesNotIssued",
               [_series("cowin_kit_certificate_outbox_due", "5x40"),
                _series("cowin_kit_certificates_issued_total", "100x40")],
               [_series("cowin_kit_certificate_outbox_due", "5x40"),
                _series("cowin_kit_certificates_issued_total", "100+5x40")]),
        *_case("CowinKitMessagesDelayed",
               [_series("cowin_kit_message_outbox_oldest_pending_age_seconds", "300x40")],
               [_series("cowin_kit_message_outbox_oldest_pending_age_seconds", "20x40")]),
        *_case("CowinKitMessagesGivenUp",
               [_series("cowin_kit_message_send_failures_total", "0x20 1x20", final="true")],
               [_series("cowin_kit_message_send_failures_total", "0x20 1x20", final="false")]),
        *_case("CowinKitDatabaseConnectionsSaturated",
               [_series("cowin_kit_database_connections", "90x40"),
                _series("cowin_kit_database_max_connections", "100x40")],
               [_series("cowin_kit_database_connections", "50x40"),
                _series("cowin_kit_database_max_connections", "100x40")]),
        *_case("CowinKitPodsNotReady",
               [_series("kube_deployment_status_replicas_unavailable", "1x40", deployment=web)],
               [_series("kube_deployment_status_replicas_unavailable", "0x40", deployment=web),
                _series("kube_deployment_status_replicas_unavailable", "3x40",
                        deployment="someone-else-web")],
               labels={"deployment": web}),
        *_case("CowinKitNoReadyWebPod",
               [_series("kube_deployment_status_replicas_available", "0x40", deployment=web)],
               [_series("kube_deployment_status_replicas_available", "2x40", deployment=web)]),
    ]


def test_the_rules_are_valid_and_each_alert_fires_when_it_should(tmp_path):
    spec, full, conditions = _rule_files(tmp_path)
    alerts = {r["alert"] for group in spec["groups"] for r in group["rules"]}
    assert alerts == set(SEVERITY)
    for group in spec["groups"]:
        for item in group["rules"]:
            assert item["labels"]["severity"] == SEVERITY[item["alert"]]
            assert item["annotations"]["summary"] and item["annotations"]["description"]
            assert HEALTH in item["expr"], item["alert"]  # the selector reaches every query
    run_promtool("check", "rules", str(full), cwd=tmp_path)
    tests = tmp_path / "tests.yaml"
    tests.write_text(yaml.safe_dump({"rule_files": [conditions.name],
                                     "evaluation_interval": "1m", "tests": _scenarios()}))
    run_promtool("test", "rules", tests.name, cwd=tmp_path)


def test_promtool_does_catch_an_alert_that_does_not_fire(tmp_path):
    """The check above is not vacuous: a scenario expecting an alert on healthy data fails."""
    _spec, _full, conditions = _rule_files(tmp_path)
    wrong = _case("CowinKitMessagesDelayed",
                  [_series("cowin_kit_message_outbox_oldest_pending_age_seconds", "20x40")], [])
    tests = tmp_path / "tests.yaml"
    tests.write_text(yaml.safe_dump({"rule_files": [conditions.name],
                                     "evaluation_interval": "1m", "tests": wrong[:1]}))
    done = subprocess.run([promtool(), "test", "rules", tests.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0


# ----------------------------------------------------------------------------- dashboard

def _queries(dashboard: dict) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_the_dashboard_is_valid_against_the_dashboard_schema():
    dashboard = json.loads(DASHBOARD.read_text())
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(dashboard)
    broken = json.loads(json.dumps(dashboard))
    broken["panels"][1]["gridPos"]["w"] = 30  # wider than Grafana's 24 columns
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(broken)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:  # no two panels overlap on the grid
        box = panel["gridPos"]
        for other in dashboard["panels"]:
            if other is panel:
                continue
            o = other["gridPos"]
            assert (box["x"] + box["w"] <= o["x"] or o["x"] + o["w"] <= box["x"]
                    or box["y"] + box["h"] <= o["y"] or o["y"] + o["h"] <= box["y"]), \
                (panel["title"], other["title"])


def test_every_dashboard_query_parses_and_reads_exported_metrics(tmp_path, app):
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [q.replace("$__rate_interval", "5m").replace("$namespace", ".*")
               for q in _queries(dashboard)]
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": q} for i, q in enumerate(queries)]}]}
    (tmp_path / "queries.yaml").write_text(yaml.safe_dump(rules))
    run_promtool("check", "rules", "queries.yaml", cwd=tmp_path)

    scraped = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert scraped.status_code == 200
    exported = set()
    for family in text_string_to_metric_families(scraped.get_data(as_text=True)):
        exported.add(family.name)
        exported |= {f"{family.name}{suffix}" for suffix in ("_total", "_bucket", "_count", "_sum")}
    # counted at scrape on PostgreSQL only (tests/http/test_metrics.py)
    exported |= {"cowin_kit_database_connections", "cowin_kit_database_max_connections"}
    (spec, _full, _conditions) = _rule_files(tmp_path)
    used = set()
    for text in queries + [r["expr"] for g in spec["groups"] for r in g["rules"]]:
        used |= set(re.findall(r"\bcowin_kit_[a-z_]+", text))
    assert used and used <= exported, used - exported
