"""The public availability cache: gzip-compressed answers for clients that accept them,
ETags per representation, and the answer's language taken from each request."""

from __future__ import annotations

import gzip
from datetime import timedelta

from cowin_kit.testing import publish, today


def _publish_many(app, count):
    for n in range(count):
        publish(app, code=f"F-TVM-{n}", postal=f"6950{n:02d}")


def test_large_answers_are_served_gzipped_to_clients_that_accept_it(reg_app):
    _publish_many(reg_app, 8)
    client = reg_app.test_client()
    url = f"/api/v1/sessions?location=IN-KL&date={(today() + timedelta(days=3)).isoformat()}"
    plain = client.get(url)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert len(plain.get_data()) >= 1024 and "Accept-Encoding" in plain.headers["Vary"]
    # the language comes from these request headers: shared caches must key on them
    assert {"Accept-Language", "Cookie"} <= {v.strip() for v in plain.headers["Vary"].split(",")}
    for _attempt in range(2):  # the second from the cache
        packed = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert packed.status_code == 200 and packed.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(packed.get_data()) == plain.get_data()
        assert len(packed.get_data()) < len(plain.get_data()) / 2
        assert packed.headers["ETag"] != plain.headers["ETag"]
        assert packed.headers["ETag"].endswith('-gzip"')
        assert "Accept-Encoding" in packed.headers["Vary"]
    # each representation revalidates with its own tag
    again = client.get(url, headers={"Accept-Encoding": "gzip",
                                     "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == packed.headers["ETag"]
    crossed = client.get(url, headers={"If-None-Match": packed.headers["ETag"]})
    assert crossed.status_code == 200 and crossed.get_data() == plain.get_data()
    # "gzip;q=0" refuses gzip: the plain body
    refused = client.get(url, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers
    assert refused.get_data() == plain.get_data()


def test_small_answers_are_not_compressed(reg_app):
    publish(reg_app)
    client = reg_app.test_client()
    url = f"/api/v1/sessions?location=IN-KL&date={(today() + timedelta(days=3)).isoformat()}"
    first = client.get(url, headers={"Accept-Encoding": "gzip"})
    second = client.get(url, headers={"Accept-Encoding": "gzip"})
    for answer in (first, second):
        assert answer.status_code == 200 and "Content-Encoding" not in answer.headers
        assert "Accept-Encoding" not in answer.headers.get("Vary", "")
    assert second.get_data() == first.get_data()


def test_answers_follow_each_requests_language(reg_app):
    """The language is resolved once per combination of request inputs (remembered):
    alternating inputs must still get their own language."""
    client = reg_app.test_client()
    url = "/api/v2/appointment/sessions/public/findByDistrict?district_id=999999&date=01-01-2030"
    details = []
    for language in ("hi", "en", "hi-IN,hi;q=0.9", "fr-FR", "en-GB,en;q=0.8"):
        answer = client.get(url, headers={"Accept-Language": language})
        assert answer.status_code == 404  # CoWIN's error shape: errorCode + error text
        details.append(answer.get_json()["error"])
    hindi, english = details[0], details[1]
    assert hindi != english
    assert details == [hindi, english, hindi, english, english]
    assert client.get(url + "&lang=hi", headers={"Accept-Language": "en"}).get_json()["error"] \
        == hindi
