"""The chart with PostgreSQL and Redis from operators (ci/cloudnativepg-values.yaml and
deploy/helm/examples/cloudnativepg-cluster.yaml): every container that reads the database
URL reads the Secret CloudNativePG makes for the example Cluster (`<name>-app`, key
`uri`), Redis's from its own Secret, and the release's Secret is not asked for either.
(The set is also rendered, linted and validated with the other ci/*.yaml in test_helm.py.)"""

from __future__ import annotations

from pathlib import Path

import helm_python as helm
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "cowin-kit"
CLUSTER = REPO / "deploy" / "helm" / "examples" / "cloudnativepg-cluster.yaml"


def test_database_and_redis_urls_come_from_the_operators_secrets():
    values = yaml.safe_load((CHART / "ci" / "cloudnativepg-values.yaml").read_text())
    cluster = yaml.safe_load(CLUSTER.read_text())
    assert (cluster["apiVersion"], cluster["kind"]) == ("postgresql.cnpg.io/v1", "Cluster")
    assert values["database"]["existingSecret"] == f"{cluster['metadata']['name']}-app"
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name="cowin", namespace="health")
    documents = [d for t, text in rendered.items() if not t.endswith(".txt")
                 for d in yaml.safe_load_all(text) if d]
    refs = {}
    for document in documents:
        if document["kind"] not in ("Deployment", "Job", "CronJob", "Pod"):
            continue
        spec = document["spec"]
        pod = (spec["jobTemplate"]["spec"]["template"]["spec"] if document["kind"] == "CronJob"
               else spec if document["kind"] == "Pod" else spec["template"]["spec"])
        for container in pod.get("initContainers", []) + pod["containers"]:
            for env in container.get("env", []):
                if env["name"] in ("COWIN_KIT_DATABASE_URL", "COWIN_KIT_REDIS_URL"):
                    refs.setdefault(env["name"], set()).add(
                        tuple(sorted(env["valueFrom"]["secretKeyRef"].items())))
    assert refs["COWIN_KIT_DATABASE_URL"] == {(("key", "uri"), ("name", "cowin-db-app"))}
    assert refs["COWIN_KIT_REDIS_URL"] == {(("key", "url"), ("name", "cowin-redis-url"))}
    assert not [d for d in documents if d["kind"] == "Secret"]  # existingSecret: none made
