"""The field app's files as the server gives them (Flask's test client): the shell, the
manifest, the service worker and its cache list, the words per pack language (complete,
right-to-left for Arabic, plural forms as the catalogs say), and the size budget of what
a phone downloads to install the app (stated in docs/field-app.md)."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from cowin_kit.web.field import APP_FILES, messages

BUDGET_GZIP_BYTES = 150 * 1024


def fetch(client, url: str) -> tuple[int, bytes]:
    response = client.get(url)
    try:
        return response.status_code, response.get_data()
    finally:
        response.close()


def test_the_shell_names_its_files_and_the_pack_languages(reg_app):
    client = reg_app.test_client()
    page = client.get("/field/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'rel="manifest" href="/field/manifest.webmanifest"' in html
    assert '<script type="module" src="/field/static/app.js">' in html
    assert 'data-locales="en hi"' in html and 'data-calling-code="91"' in html
    assert "Content-Security-Policy" in page.headers
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html


def test_manifest_and_service_worker(reg_app):
    client = reg_app.test_client()
    manifest = client.get("/field/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    body = json.loads(manifest.get_data(as_text=True))
    assert body["start_url"] == "/field/" and body["scope"] == "/field/"
    assert body["display"] == "standalone"
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in body["icons"]}
    for icon in body["icons"]:
        assert fetch(client, icon["src"])[0] == 200

    worker = client.get("/field/sw.js")
    assert worker.mimetype == "text/javascript"
    source = worker.get_data(as_text=True)
    version = re.search(r'const CACHE = "cowin-field-([0-9a-f]{16})"', source).group(1)
    files = json.loads(re.search(r"const FILES = (\[.*?\]);", source).group(1))
    assert "/field/" in files and "/field/i18n/hi.json" in files
    assert {f"/field/static/{name}" for name in APP_FILES} <= set(files)
    for url in files:  # everything the worker keeps is there to keep
        assert fetch(client, url)[0] == 200, url
    assert f'data-version="{version}"' in client.get("/field/").get_data(as_text=True)


def test_words_in_every_language_of_the_catalogs(reg_app):
    client = reg_app.test_client()
    assert client.get("/field/i18n/de.json").status_code == 404
    english = client.get("/field/i18n/en.json").get_json()
    hindi = client.get("/field/i18n/hi.json").get_json()
    assert set(english["messages"]) == set(messages.MESSAGES) == set(hindi["messages"])
    assert english["dir"] == "ltr" and hindi["messages"]["sync_now"] != "Sync now"
    assert english["messages"]["doses_saved"] == ["%(num)d dose recorded.",
                                                  "%(num)d doses recorded."]
    assert english["plural"][:3] == [1, 0, 1]


@pytest.mark.parametrize("locale,forms,examples", [
    ("ar", 6, {0: 0, 1: 1, 2: 2, 5: 3, 11: 4, 100: 5, 103: 3}),
    ("uk", 3, {1: 0, 3: 1, 5: 2, 11: 2, 21: 0, 112: 2}),
    ("fr", 3, {0: 0, 1: 0, 2: 2, 199: 2}),  # CLDR: form 1 is exact millions
])
def test_plural_forms_and_direction_of_other_languages(locale, forms, examples):
    from cowin_kit import create_app
    from cowin_kit.web.field import words

    app = create_app({"ENV": "test"})
    with app.test_request_context():
        answer = words(locale)
    assert answer["dir"] == ("rtl" if locale == "ar" else "ltr")
    assert len(answer["messages"]["doses_saved"]) == forms
    assert all(answer["messages"]["doses_saved"])
    for n, form in examples.items():
        assert answer["plural"][n] == form, n


def test_what_a_phone_downloads_to_install_the_app_fits_the_budget(reg_app):
    """Shell, manifest, worker, scripts, styles, icons and one language, gzip-compressed
    (the figure is in docs/field-app.md)."""
    client = reg_app.test_client()
    source = client.get("/field/sw.js").get_data()
    files = json.loads(re.search(rb"const FILES = (\[.*?\]);", source).group(1))
    total = len(gzip.compress(source, 9))
    for url in files:
        if url.startswith("/field/i18n/") and not url.endswith("/hi.json"):
            continue
        status, data = fetch(client, url)
        assert status == 200, url
        total += len(gzip.compress(data, 9))
    print(f"field app, gzip: {total} bytes")
    assert total < BUDGET_GZIP_BYTES
