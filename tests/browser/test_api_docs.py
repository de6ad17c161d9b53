"""The API reference in Chromium: Swagger UI renders the OpenAPI document from the kit's
own files (no request leaves the instance), the table of contents leads to an operation,
and "Try it out" on a public CoWIN v2 operation answers from the live instance."""

from __future__ import annotations

from urllib.parse import urlparse


def test_try_a_public_operation_from_the_reference(new_page, live_server, artifacts_dir):
    page = new_page(viewport={"width": 1280, "height": 900})
    origin = urlparse(live_server.url).netloc
    elsewhere: list[str] = []
    page.on("request", lambda request: elsewhere.append(request.url)
            if urlparse(request.url).netloc not in (origin, "") else None)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .opblock-tag")
    assert page.locator(".swagger-ui .opblock-tag").first.inner_text().startswith("citizens")

    # the table of contents' link opens the operation, filtered to its tag
    page.click(".docs-toc summary")
    page.click('a[href="#/cowin-v2-location/api_v2_states"]')
    operation = page.locator("#operations-cowin-v2-location-api_v2_states.is-open")
    operation.wait_for()
    assert page.locator(".swagger-ui .opblock-tag").all_inner_texts()[0].startswith(
        "cowin-v2-location")
    operation.locator("button.execute").click()  # "Try it out" is on: Execute at once
    status = operation.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for()
    body = operation.locator(".live-responses-table .microlight").first.inner_text()
    page.screenshot(path=str(artifacts_dir / "api-docs-try-it.png"))
    assert status.inner_text().strip().startswith("200"), status.inner_text()
    assert '"states"' in body and '"state_name"' in body
    assert elsewhere == [], elsewhere
    assert errors == [], errors
