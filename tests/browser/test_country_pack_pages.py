"""Every example country pack in every one of its languages, in real Chromium (issue 18):
the home page and a booking search by place render in that language (`<html lang>`),
right to left for Arabic-script languages (`dir="rtl"`), without serious accessibility
problems (axe-core) and no wider than a 360 px phone. The search finds the demo sessions
of the pack's first demo facility, named in the page's language."""

from __future__ import annotations

import pytest
from babel import Locale
from sqlalchemy import select

from cowin_kit.testing import demo_facility

from cowin_kit.config.examples import example_packs
from cowin_kit.config.packs import load_pack

CASES = [(code, locale) for code, folder in sorted(example_packs().items())
         for locale in load_pack(folder).locales]


def _first_demo_place(live) -> tuple[list[str], str]:
    """The location codes from level 1 down to the first demo facility's place, and the
    facility's names by locale."""
    from cowin_kit.geography.models import Facility, Location

    with live.session() as session:
        facility = demo_facility(session)
        chain, place = [], session.get(Location, facility.location_id)
        while place is not None:
            chain.insert(0, place.code)
            place = session.get(Location, place.parent_id) if place.parent_id else None
        return chain, dict(facility.names or {}) | {"": facility.name}


def _check_page(page, locale: str, check_accessibility) -> None:
    html = page.locator("html")
    assert html.get_attribute("lang") == locale
    rtl = Locale.parse(locale).character_order == "right-to-left"
    assert html.get_attribute("dir") == ("rtl" if rtl else "ltr")
    check_accessibility(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{page.url} is {width} px wide at 360 px"


@pytest.mark.parametrize(("pack_code", "locale"), CASES, ids=[f"{c}-{l}" for c, l in CASES])
def test_home_and_booking_search_in_each_language(live_instance, new_page, check_accessibility,
                                                  pack_code, locale):
    live = live_instance(pack_code)
    page = new_page()
    page.goto(f"{live.url}/?lang={locale}")
    _check_page(page, locale, check_accessibility)

    chain, names = _first_demo_place(live)
    places = "&".join(f"place{n}={code}" for n, code in enumerate(chain, start=1))
    page.goto(f"{live.url}/sessions?search=1&{places}&lang={locale}")
    _check_page(page, locale, check_accessibility)
    facility = names.get(locale) or names[""]
    assert facility in page.content(), facility
