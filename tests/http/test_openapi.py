"""The OpenAPI document of /api/v1: valid, complete, served with a docs page, and a
schemathesis run against the live app finds no 5xx and no answer outside the schema."""

from __future__ import annotations

import hashlib
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate

from cowin_kit.core.apidoc import API_PREFIX, STATIC
from cowin_kit.testing import auth, member, national_admin_token, sign_in
from cowin_kit.testing import valid_aadhaar as _valid_aadhaar


def test_the_document_validates_and_covers_every_route(reg_app):
    client = reg_app.test_client()
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    documented = {(path, method.upper()) for path, ops in document["paths"].items()
                  for method in ops}
    for rule in reg_app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX) or rule.endpoint.startswith("api_docs."):
            continue
        path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {rule.rule} is not documented"
    assert "Problem" in document["components"]["schemas"]


def test_the_document_has_the_cowin_v2_api_and_ordered_tags(reg_app):
    document = reg_app.test_client().get("/api/v1/openapi.json").get_json()
    tags = [tag["name"] for tag in document["tags"]]
    used = {op["tags"][0] for ops in document["paths"].values() for op in ops.values()}
    assert used <= set(tags), used - set(tags)
    v2 = {path for path in document["paths"] if path.startswith("/api/v2/")}
    for rule in reg_app.url_map.iter_rules():  # every CoWIN route is documented
        if rule.rule.startswith("/api/v2/"):
            assert rule.rule.replace("<int:", "{").replace(">", "}") in v2, rule.rule
    states = document["paths"]["/api/v2/admin/location/states"]["get"]
    assert states["tags"] == ["cowin-v2-location"] and "security" not in states
    assert states["responses"]["default"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/CowinError"}
    schedule = document["paths"]["/api/v2/appointment/schedule"]["post"]
    assert schedule["security"] == [{"citizenToken": []}]
    body = schedule["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert set(document["components"]["schemas"][body.split("/")[-1]]["required"]) == \
        {"dose", "session_id", "slot", "beneficiaries"}
    by_pin = document["paths"]["/api/v2/appointment/sessions/public/findByPin"]["get"]
    assert {p["name"] for p in by_pin["parameters"]} == {"pincode", "date"}


def test_the_docs_page_is_swagger_ui_from_the_kits_own_files(reg_app):
    client = reg_app.test_client()
    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = response.get_data(as_text=True)
    assert "http://" not in page and "https://" not in page  # no CDN, nothing external
    # the table of contents: every tag in the document's order, each with its operations
    document = client.get("/api/v1/openapi.json").get_json()
    positions = [page.index(f'href="#/{tag["name"].replace(" ", "%20")}"')
                 for tag in document["tags"]]
    assert positions == sorted(positions)
    assert 'href="#/cowin-v2-location/api_v2_states"' in page
    assert "/api/v1/beneficiaries" in page and "/api/v2/appointment/schedule" in page
    # Swagger UI and the page's script, served by the app
    assets = re.findall(r'(?:src|href)="(/api/v1/docs/assets/[^"]+)"', page)
    assert len(assets) == 4
    for asset in assets:
        with client.get(asset) as served:
            assert served.status_code == 200, asset
            assert served.mimetype in {"text/css", "text/javascript", "application/javascript"}
    assert client.get("/api/v1/docs/assets/../apidoc.py").status_code == 404
    assert client.get("/api/v1/docs/assets/vendor/other.js").status_code == 404
    with client.get("/api/v1/docs/assets/api-docs/docs.js") as served:
        script = served.get_data(as_text=True)
    assert "tryItOutEnabled: true" in script and "validatorUrl: null" in script
    # the vendored files are the ones VENDORED.md names, with their licence
    vendored = STATIC / "vendor" / "swagger-ui"
    notes = (vendored / "VENDORED.md").read_text()
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        digest = hashlib.sha256((vendored / name).read_bytes()).hexdigest()
        assert f"`{name}` {digest}" in notes, name
    assert "Apache License" in (vendored / "LICENSE").read_text()


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_violation(reg_app):
    client = reg_app.test_client()
    token = sign_in(reg_app, client)
    client.post("/api/v1/beneficiaries", json=member(_valid_aadhaar(1)[0]), headers=auth(token))
    staff_token = national_admin_token(reg_app, client)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", reg_app)
    checks = [schemathesis.checks.not_a_server_error,
              schemathesis.checks.response_schema_conformance,
              schemathesis.checks.status_code_conformance]
    operations = list(schema.get_all_operations())
    assert len(operations) >= 15
    for result in operations:
        operation = result.ok()
        strategy = operation.as_strategy()
        as_staff = "staffToken" in str(operation.definition.raw.get("security", ""))

        @settings(max_examples=20, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def check(case):
            # identity: the WSGI transport does not undo gzip, which large cached answers
            # get (tested in test_availability_cache.py)
            response = case.call(headers={**auth(staff_token if as_staff else token),
                                          "Accept-Encoding": "identity"})
            case.validate_response(response, checks=checks)

        check()
