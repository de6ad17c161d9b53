"""cowin-kit plugin ``sms-http``: outgoing messages through an HTTP SMS gateway.

Enable with ``PLUGINS=sms-http`` and ``NOTIFIER=sms-http`` (or ``sms-http:<url>``); the
settings are declared below (``SMS_HTTP_*``) and documented in README.md.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import dataclass
from string import Template
from typing import Any, Callable, Mapping

from cowin_kit.plugins import HttpError, Plugin, PluginContext, Setting, http_request

PLACEHOLDERS = ("to", "text", "template", "locale", "sender")


class GatewayError(Exception):
    """The gateway refused the message, or kept failing after every retry."""


def render_body(template: str, content_type: str, values: Mapping[str, str]) -> bytes:
    """``template`` with ``$to``, ``$text``, ... replaced by ``values``, each quoted for the
    content type (JSON strings, or URL-encoded form values)."""
    if content_type.split(";")[0].strip() == "application/x-www-form-urlencoded":
        quoted = {key: urllib.parse.quote_plus(value) for key, value in values.items()}
    elif "json" in content_type:
        quoted = {key: json.dumps(value, ensure_ascii=False) for key, value in values.items()}
    else:
        quoted = dict(values)
    return Template(template).substitute(quoted).encode("utf-8")


@dataclass
class HttpSmsNotifier:
    url: str
    body: str = '{"to": $to, "text": $text}'
    content_type: str = "application/json"
    auth_header: str = ""
    sender: str = ""
    retries: int = 3
    backoff_seconds: float = 0.5
    timeout_seconds: float = 10.0
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("SMS_HTTP_URL: set the gateway's http(s) URL "
                             "(or NOTIFIER=sms-http:<url>)")
        if self.auth_header and ":" not in self.auth_header:
            raise ValueError("SMS_HTTP_AUTH_HEADER: expected `Name: value`")
        try:  # a template with an unknown placeholder is a start-up error, not a lost SMS
            render_body(self.body, self.content_type, {key: "" for key in PLACEHOLDERS})
        except (KeyError, ValueError) as exc:
            raise ValueError(f"SMS_HTTP_BODY: unknown or broken placeholder {exc} "
                             f"(use {', '.join('$' + p for p in PLACEHOLDERS)})") from None

    def send(self, message: Any) -> None:
        """Post ``message``; retry with exponential backoff; raise GatewayError if it
        cannot be delivered (cowin-kit logs it without failing the request). The auth
        header never follows a redirect to another origin (plugins.http_request)."""
        data = render_body(self.body, self.content_type, {
            "to": message.to, "text": message.text, "template": message.template,
            "locale": message.locale, "sender": self.sender})
        headers = {"Content-Type": self.content_type}
        if self.auth_header:
            name, _, value = self.auth_header.partition(":")
            headers[name.strip()] = value.strip()
        try:
            http_request("POST", self.url, headers=headers, body=data,
                         timeout=self.timeout_seconds, retries=self.retries,
                         backoff_seconds=self.backoff_seconds, sleep=self.sleep)
        except HttpError as exc:
            if exc.transient:
                raise GatewayError(f"gateway failed {exc.attempts} times, last: {exc.reason}") \
                    from None
            if exc.status is not None and not 300 <= exc.status < 400:
                raise GatewayError(f"gateway answered HTTP {exc.status}; not retried") from None
            raise GatewayError(f"gateway: {exc.reason}") from None  # e.g. a redirect away


def register(context: PluginContext) -> None:
    settings = context.settings

    def factory(argument: str) -> HttpSmsNotifier:
        return HttpSmsNotifier(
            url=argument or settings["URL"], body=settings["BODY"],
            content_type=settings["CONTENT_TYPE"], auth_header=settings["AUTH_HEADER"],
            sender=settings["SENDER"], retries=settings["RETRIES"],
            backoff_seconds=settings["BACKOFF_SECONDS"],
            timeout_seconds=settings["TIMEOUT_SECONDS"])

    context.register_notifier("sms-http", factory)


plugin = Plugin(register=register, settings=[
    Setting("SMS_HTTP_URL", "str", "", "URL of the SMS gateway (POST)."),
    Setting("SMS_HTTP_AUTH_HEADER", "str", "",
            "One header `Name: value` sent with every request, e.g. "
            "`Authorization: Bearer <token>`.", secret=True),
    Setting("SMS_HTTP_BODY", "str", '{"to": $to, "text": $text}',
            "Request body template: $to, $text, $template, $locale, $sender."),
    Setting("SMS_HTTP_CONTENT_TYPE", "str", "application/json", "Content type of the body."),
    Setting("SMS_HTTP_SENDER", "str", "", "Sender ID, for $sender."),
    Setting("SMS_HTTP_RETRIES", "int", 3,
            "Further attempts after a connection error, timeout, HTTP 429 or 5xx."),
    Setting("SMS_HTTP_BACKOFF_SECONDS", "float", 0.5,
            "Wait before the first retry; doubled for each further retry."),
    Setting("SMS_HTTP_TIMEOUT_SECONDS", "float", 10.0, "Timeout of each request."),
])
