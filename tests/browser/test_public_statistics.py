"""The public statistics page in real Chromium on a 360 px phone, in English and Hindi:
the demo's doses on the page, a click down to a state, nothing wider than the screen,
axe-core finds no serious problem; the figures are those of the open data."""

from __future__ import annotations

import re


def _narrow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{page.url} is {width} px wide at 360 px"


def test_the_public_page_on_a_phone_in_two_languages(live_server, new_page,
                                                    check_accessibility, artifacts_dir):
    live = live_server
    summary = live.app.test_client().get("/api/v1/open-data/summary").get_json()
    assert isinstance(summary["doses"], int) and summary["doses"] > 0   # the demo's doses

    page = new_page()
    page.goto(live.url + "/statistics/")
    assert page.locator("h1").inner_text().startswith("Vaccination statistics")
    total = page.locator("dl.tiles dd").nth(3).inner_text()
    assert re.sub(r"\D", "", total) == str(summary["doses"])
    assert page.locator("svg").count() >= 3               # trend, areas, ages
    _narrow(page)
    check_accessibility(page)
    page.screenshot(path=str(artifacts_dir / "statistics-360.png"), full_page=True)

    # down to the state with the most doses, by its link in the table
    top = summary["areas"][0]
    page.get_by_role("link", name=top["name"], exact=True).first.click()
    page.wait_for_url(f"**/statistics/{top['code']}")
    assert top["name"] in page.locator("h1").inner_text()
    _narrow(page)
    check_accessibility(page)

    hindi = new_page(locale="hi")
    hindi.goto(live.url + "/statistics/?lang=hi")
    assert hindi.locator("html").get_attribute("lang") == "hi"
    assert "टीकाकरण के आँकड़े" in hindi.locator("h1").inner_text()
    _narrow(hindi)
    check_accessibility(hindi)
    hindi.screenshot(path=str(artifacts_dir / "statistics-hi-360.png"), full_page=True)
