"""Outgoing messages (SMS, e-mail) through a pluggable notifier.

Built in: ``log`` (the logger ``cowin_kit.notifications``; the demo prints it) and
``file:PATH`` (one JSON line per message). Plugins register real gateways.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from flask import Flask, current_app
from flask_babel import force_locale

from cowin_kit.core.i18n import lazy_gettext
from cowin_kit.plugins import notifier_factory
from cowin_kit.core.setting import SettingsError

log = logging.getLogger("cowin_kit.notifications")

TEMPLATES: dict[str, Any] = {
    "otp": lazy_gettext("%(otp)s is your one-time password for vaccination registration. "
                        "It is valid for %(minutes)d minutes. Do not share it."),
    "otp_change_mobile": lazy_gettext("%(otp)s is your one-time password to move your "
                                      "vaccination account to this number. Valid for "
                                      "%(minutes)d minutes."),
    "session_cancelled": lazy_gettext("The vaccination session of %(date)s at %(facility)s "
                                      "was cancelled; the appointment of %(name)s is released. "
                                      "Please book another session."),
    "slot_alert": lazy_gettext("%(seats)d seats for dose %(dose)d are free, e.g. at "
                               "%(facility)s. Book now; this alert is sent at most every few "
                               "hours."),
    "beneficiary_registered": lazy_gettext("%(name)s is registered for vaccination. "
                                           "Reference ID %(reference_id)s, secret code "
                                           "%(secret_code)s."),
}


@dataclass(frozen=True)
class OutgoingMessage:
    to: str
    template: str
    locale: str
    text: str


class Notifier(Protocol):
    def send(self, message: OutgoingMessage) -> None: ...


class LogNotifier:
    def send(self, message: OutgoingMessage) -> None:
        log.info("message to %s [%s, %s]: %s", message.to, message.template, message.locale,
                 message.text)


class FileNotifier:
    def __init__(self, path: str):
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> None:
        line = json.dumps(asdict(message), ensure_ascii=False)
        with self._lock, self.path.open("a", encoding="utf-8") as stream:
            stream.write(line + "\n")


NOTIFIER_FACTORIES: dict[str, Callable[[str], Notifier]] = {
    "log": lambda _arg: LogNotifier(),
    "file": FileNotifier,
}


def make_notifier(spec: str) -> Notifier:
    name, _, argument = spec.partition(":")
    factory = NOTIFIER_FACTORIES.get(name)
    if factory is None:
        factory = notifier_factory(name)  # registered by an enabled plugin
    if factory is None:
        raise ValueError(f"NOTIFIER: unknown notifier {name!r} "
                         f"(built in: log, file:PATH; or a notifier plugin's name)")
    if name == "file" and not argument:
        raise ValueError("NOTIFIER: file needs a path, as file:/var/log/cowin/messages.jsonl")
    return factory(argument)


def init_app(app: Flask) -> None:
    try:
        with app.app_context():  # plugins' notifiers are registered on the app
            notifier = make_notifier(app.config["COWIN_KIT"]["NOTIFIER"])
        app.extensions["cowin_kit.notifier"] = notifier
    except ValueError as exc:
        raise SettingsError(f"invalid settings:\n  {exc}") from None


def render(template: str, locale: str, **params: Any) -> str:
    with force_locale(locale):
        return str(TEMPLATES[template]) % params


def notify(to: str, template: str, locale: str, **params: Any) -> OutgoingMessage:
    message = OutgoingMessage(to=to, template=template, locale=locale,
                              text=render(template, locale, **params))
    try:
        current_app.extensions["cowin_kit.notifier"].send(message)
    except Exception:  # a gateway outage must not fail the citizen's request
        log.exception("notifier failed for template %s", template)
    return message
