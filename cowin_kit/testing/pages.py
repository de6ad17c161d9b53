"""Driving the server-rendered pages through Flask's test client: forms with their CSRF
token, field errors, staff sign-in."""

from __future__ import annotations

import html
import re

from cowin_kit.testing.api import STAFF_PASSWORD

__all__ = ["field_error", "form_post", "text", "token_of", "web_staff_sign_in"]

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def token_of(page: str) -> str:
    """The CSRF token of the page's form."""
    found = CSRF.search(page)
    assert found, "no CSRF field on the page"
    return found.group(1)


def text(response) -> str:
    return response.get_data(as_text=True)


def form_post(client, page_path: str, action: str | None = None, **data):
    """GET the page, then POST its form with the page's CSRF token."""
    page = client.get(page_path)
    assert page.status_code == 200, text(page)
    return client.post(action or page_path, data={"csrf_token": token_of(text(page)), **data})


def field_error(page: str, field: str) -> str:
    """The error message shown next to ``field`` (the element the input points to)."""
    found = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.S)
    assert found, f"no error shown next to {field}"
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', page) or \
        re.search(rf'aria-describedby="[^"]*{field}-error', page)
    return html.unescape(found.group(1))


def web_staff_sign_in(client, username) -> None:
    response = form_post(client, "/staff/sign-in", username=username, password=STAFF_PASSWORD)
    assert response.status_code == 303, text(response)
