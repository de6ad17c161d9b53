"""/metrics: Prometheus text format, what the services count, the outbox backlog counted
at scrape, and who may read it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from cowin_kit.testing import add_members, auth, publish, sign_in, staff_token

from cowin_kit import create_app
from cowin_kit.certificates.signing import keystore as keystore_module
from cowin_kit.certificates import services
from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_database


def scrape(client, **environ) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", environ_base=environ)
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_the_path_of_a_citizen_and_a_vaccinator_is_counted(reg_app):
    client = reg_app.test_client()
    with reg_app.app_context():
        keystore_module.generate(services.keystore().keys_dir, "IN", "MoHFW")
    before = scrape(client)

    token = sign_in(reg_app, client)
    *refs, walk_in = add_members(reg_app, client, token, 3)
    session_id = publish(reg_app, days_ahead=3, code="F-TVM-1")
    booked = client.post("/api/v1/appointments", headers=auth(token), json={
        "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": refs})
    assert booked.status_code == 201, booked.get_json()
    vaccinator = staff_token(reg_app, client, "vax.metrics", "vaccinator",
                             facility_code="F-TVM-1")
    recorded = client.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": walk_in, "vaccine": "COVISHIELD", "lot": "4121Z005"})
    assert recorded.status_code == 201, recorded.get_json()

    middle = scrape(client)
    assert value(middle, "cowin_kit_otps_sent_total") - value(before, "cowin_kit_otps_sent_total") >= 1
    assert value(middle, "cowin_kit_appointments_booked_total") \
        - value(before, "cowin_kit_appointments_booked_total") == 2
    assert value(middle, "cowin_kit_doses_recorded_total") \
        - value(before, "cowin_kit_doses_recorded_total") == 1
    # The dose's certificate is due and not yet issued: the backlog, counted at scrape.
    assert value(middle, "cowin_kit_certificate_outbox_due") == 1

    with reg_app.app_context():
        issued = services.process_outbox(get_database(reg_app).session_factory, active_pack(),
                                         services.keystore().current())
    assert issued == 1
    after = scrape(client)
    assert value(after, "cowin_kit_certificates_issued_total") \
        - value(middle, "cowin_kit_certificates_issued_total") == 1
    assert value(after, "cowin_kit_certificate_outbox_due") == 0

    # Latency by endpoint and status (the route's endpoint, never the raw path).
    booking = dict(endpoint="api_scheduling.book", method="POST", status="201")
    assert value(after, "cowin_kit_http_request_duration_seconds_count", **booking) \
        - value(before, "cowin_kit_http_request_duration_seconds_count", **booking) == 1
    client.get("/no/such/page/9876543210")
    unmatched = scrape(client)
    assert value(unmatched, "cowin_kit_http_request_duration_seconds_count",
                 endpoint="unmatched", method="GET", status="404") >= 1
    assert not any("9876543210" in str(labels) for _name, labels in unmatched)


def test_booking_latency_is_labelled_by_endpoint(reg_app):
    client = reg_app.test_client()
    client.get("/healthz")
    samples = scrape(client)
    assert value(samples, "cowin_kit_http_request_duration_seconds_count",
                 endpoint="health.healthz", method="GET", status="200") >= 1
    buckets = [labels for name, labels in samples
               if name == "cowin_kit_http_request_duration_seconds_bucket"
               and dict(labels).get("endpoint") == "health.healthz"]
    assert ("le", "+Inf") in {item for labels in buckets for item in labels}


def test_metrics_are_refused_to_public_clients(app):
    client = app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.2.3.4"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 404
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "2001:db8::1"}).status_code == 404


def test_behind_a_trusted_proxy_the_real_client_decides(database_url, tmp_path):
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "i"),
                      "DATABASE_URL": database_url, "TRUSTED_PROXIES": 1})
    client = app.test_client()
    # The ingress (10.x) forwards a public client: refused.
    public = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.5"},
                        headers={"X-Forwarded-For": "198.51.100.20"})
    assert public.status_code == 404
    inside = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.5"},
                        headers={"X-Forwarded-For": "10.1.1.1"})
    assert inside.status_code == 200
    get_database(app).dispose()


def test_metrics_can_be_switched_off_or_limited(database_url, tmp_path):
    off = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "a"),
                      "DATABASE_URL": database_url, "METRICS_ENABLED": False})
    assert off.test_client().get("/metrics").status_code == 404
    only = create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "b"),
                       "DATABASE_URL": database_url,
                       "METRICS_ALLOWED_NETWORKS": "192.0.2.0/24"})
    client = only.test_client()
    assert client.get("/metrics").status_code == 404  # 127.0.0.1 is not in the list
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code == 200
    get_database(only).dispose()
    get_database(off).dispose()


def test_a_malformed_network_stops_the_start(database_url, tmp_path):
    import pytest

    from cowin_kit.config.settings import SettingsError

    with pytest.raises(SettingsError, match="METRICS_ALLOWED_NETWORKS"):
        create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path / "c"),
                    "DATABASE_URL": database_url, "METRICS_ALLOWED_NETWORKS": "10.0.0.0/99"})


def test_the_worker_serves_its_own_metrics(database_url, tmp_path):
    """`cowin-kit worker` with WORKER_METRICS_PORT (as the chart runs it) answers /metrics
    with its counters and the outbox backlog; its log lines are JSON."""
    import json
    import os
    import signal
    import socket
    import subprocess
    import sys
    import threading
    import time
    import urllib.error
    import urllib.request
    from pathlib import Path

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COWIN_KIT_")}
    env.update({"COWIN_KIT_ENV": "test", "COWIN_KIT_INSTANCE_PATH": str(tmp_path / "i"),
                "COWIN_KIT_DATABASE_URL": database_url, "COWIN_KIT_LOG_FORMAT": "json",
                "COWIN_KIT_WORKER_METRICS_PORT": str(port)})
    worker = subprocess.Popen([str(Path(sys.executable).parent / "cowin-kit"), "worker"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    try:
        text = ""
        for _ in range(240):
            assert worker.poll() is None, worker.stdout.read()[-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                    text = answer.read().decode()
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.25)
        names = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
        assert {"cowin_kit_certificates_issued_total", "cowin_kit_certificate_outbox_due"} <= names
        # No pack is installed here: the first round fails, and says so in a JSON line.
        guard = threading.Timer(60, worker.kill)  # never hang the suite
        guard.start()
        first = json.loads(worker.stdout.readline())
        guard.cancel()
        assert first["logger"] == "cowin_kit.worker" and "exception" in first
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.communicate(timeout=60)


def test_database_connection_saturation_is_counted_on_postgresql(pg_app):
    """The server's open connections and its max_connections (the chart's saturation
    alert divides them)."""
    samples = scrape(pg_app.test_client())
    used = value(samples, "cowin_kit_database_connections")
    limit = value(samples, "cowin_kit_database_max_connections")
    assert 1 <= used <= limit and limit >= 10
