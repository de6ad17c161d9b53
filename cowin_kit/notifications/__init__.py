"""Outgoing messages (SMS, e-mail) through a pluggable notifier, by way of an outbox.

Services call ``queue(session, ...)``: the message is rendered and written as a row of
``message_outbox`` in the service's transaction, never sent inside the request. The rows
are sent by cowin_kit.notifications.sender (the worker; OTPs also by the web process's
sender thread), with retries, a time budget per message and a circuit breaker.

Built in: ``log`` (the logger ``cowin_kit.notifications``; the demo prints it; outside
dev/demo/test the text is masked, since it holds OTPs and secret codes) and ``file:PATH``
(one JSON line per message). Plugins register real gateways.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from flask import Flask
from flask_babel import force_locale
from sqlalchemy import event
from sqlalchemy.orm import Session

from cowin_kit.core.i18n import lazy_gettext, ngettext
from cowin_kit.plugins import notifier_factory
from cowin_kit.core.setting import SettingsError
from cowin_kit.notifications.models import PRIORITY_NORMAL, PRIORITY_OTP, OutboxMessage
from cowin_kit.notifications.sender import SECRET_TEMPLATES as _SENDER_SECRET_TEMPLATES

log = logging.getLogger("cowin_kit.notifications")

@dataclass(frozen=True)
class PluralText:
    """A message template holding a count (the parameter named ``count``): translated
    with ngettext when rendered, so that each language picks its plural form (Arabic
    "3 دقائق", "11 دقيقةً"). The text's count placeholder is ``%(num)d``."""

    singular: str
    plural: str
    count: str

    def render(self, params: dict[str, Any]) -> str:
        return ngettext(self.singular, self.plural, int(params[self.count]), **params)


def lazy_ngettext(singular: str, plural: str, count: str) -> PluralText:
    """A :class:`PluralText` (named so that message extraction finds its two forms)."""
    return PluralText(singular, plural, count)


# A template is a lazy text formatted with the message's parameters, or a PluralText.
TEMPLATES: dict[str, Any] = {
    "otp": lazy_ngettext(
        "%(otp)s is your one-time password for vaccination registration. It is valid for "
        "%(num)d minute. Do not share it.",
        "%(otp)s is your one-time password for vaccination registration. It is valid for "
        "%(num)d minutes. Do not share it.", "minutes"),
    "otp_change_mobile": lazy_ngettext(
        "%(otp)s is your one-time password to move your vaccination account to this "
        "number. Valid for %(num)d minute.",
        "%(otp)s is your one-time password to move your vaccination account to this "
        "number. Valid for %(num)d minutes.", "minutes"),
    "session_cancelled": lazy_gettext("The vaccination session of %(date)s at %(facility)s "
                                      "was cancelled; the appointment of %(name)s is released. "
                                      "Please book another session."),
    "slot_alert": lazy_ngettext(
        "%(num)d seat for dose %(dose)d is free, e.g. at %(facility)s. Book now; this alert "
        "is sent at most every few hours.",
        "%(num)d seats for dose %(dose)d are free, e.g. at %(facility)s. Book now; this "
        "alert is sent at most every few hours.", "seats"),
    "beneficiary_registered": lazy_gettext("%(name)s is registered for vaccination. "
                                           "Reference ID %(reference_id)s, secret code "
                                           "%(secret_code)s."),
    "routine_reminder_before": lazy_gettext("%(name)s is due for %(vaccines)s on %(date)s. "
                                            "Please visit your vaccination centre."),
    "routine_reminder_overdue": lazy_gettext("%(name)s has not had %(vaccines)s, due on "
                                             "%(date)s. Please visit your vaccination centre "
                                             "soon."),
    "certificate_code": lazy_gettext("%(name)s: vaccination certificate %(certificate_id)s, "
                                     "reference ID %(reference_id)s. Show them at a "
                                     "vaccination centre, or sign in with this number on the "
                                     "website to download the certificate."),
    # to staff (identity.services.alert_recipients): stock and safety alerts
    "stock_near_expiry": lazy_ngettext(
        "Stock alert, %(store)s: lot %(lot)s of %(vaccine)s expires on %(date)s; %(num)d "
        "dose on hand. Use or move it first.",
        "Stock alert, %(store)s: lot %(lot)s of %(vaccine)s expires on %(date)s; %(num)d "
        "doses on hand. Use or move them first.", "doses"),
    "stock_out": lazy_ngettext(
        "Stock alert, %(store)s: no %(vaccine)s left (%(num)d dose used in the last 28 "
        "days). Ask for a supply.",
        "Stock alert, %(store)s: no %(vaccine)s left (%(num)d doses used in the last 28 "
        "days). Ask for a supply.", "used"),
    "stock_low": lazy_ngettext(
        "Stock alert, %(store)s: %(vaccine)s for about %(days)s days left (%(num)d dose on "
        "hand). Ask for a supply.",
        "Stock alert, %(store)s: %(vaccine)s for about %(days)s days left (%(num)d doses "
        "on hand). Ask for a supply.", "doses"),
    "stock_recall": lazy_ngettext(
        "Recall: lot %(lot)s of %(vaccine)s is recalled (%(reason)s). Stop giving it; "
        "%(num)d dose of it at %(store)s.",
        "Recall: lot %(lot)s of %(vaccine)s is recalled (%(reason)s). Stop giving it; "
        "%(num)d doses of it at %(store)s.", "doses"),
    "aefi_serious": lazy_gettext("Serious adverse event reported (report %(report)s, "
                                 "%(vaccine)s lot %(lot)s, %(place)s). See the vaccine "
                                 "safety page to investigate."),
}

#: Templates whose text holds a secret (an OTP, a secret code): erased as soon as the
#: message is sent. Other texts are kept until the gateway reports the message
#: delivered, so that a failed one can be sent again (channels.services.retry_message).
SECRET_TEMPLATES = _SENDER_SECRET_TEMPLATES

#: Replies written by a channel (already in the person's language): no template text.
REPLY_TEMPLATE = "channel_reply"


@dataclass(frozen=True)
class OutgoingMessage:
    to: str
    template: str
    locale: str
    text: str


class Notifier(Protocol):
    def send(self, message: OutgoingMessage) -> str | None: ...


class LogNotifier:
    """Messages as log lines. ``show_text`` is false in production: the text holds OTPs
    and secret codes, which must not reach the logs."""

    def __init__(self, show_text: bool = True):
        self.show_text = show_text

    def send(self, message: OutgoingMessage) -> None:
        text = message.text if self.show_text else f"<{len(message.text)} characters masked>"
        log.info("message to %s [%s, %s]: %s", message.to, message.template, message.locale,
                 text)


class FileNotifier:
    def __init__(self, path: str):
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> str:
        """Append the message as a JSON line, with a new ``id``: returned as the gateway's
        id of the message (delivery reports for it can then be tried out)."""
        reference = uuid.uuid4().hex
        line = json.dumps({**asdict(message), "id": reference}, ensure_ascii=False)
        with self._lock, self.path.open("a", encoding="utf-8") as stream:
            stream.write(line + "\n")
        return reference


NOTIFIER_FACTORIES: dict[str, Callable[[str], Notifier]] = {
    "log": lambda arg: LogNotifier(show_text=arg == "show-text"),
    "file": FileNotifier,
}


def make_notifier(spec: str, *, show_text: bool = True) -> Notifier:
    name, _, argument = spec.partition(":")
    factory = NOTIFIER_FACTORIES.get(name)
    if factory is None:
        factory = notifier_factory(name)  # registered by an enabled plugin
    if factory is None:
        raise ValueError(f"NOTIFIER: unknown notifier {name!r} "
                         f"(built in: log, file:PATH; or a notifier plugin's name)")
    if name == "file" and not argument:
        raise ValueError("NOTIFIER: file needs a path, as file:/var/log/cowin/messages.jsonl")
    if name == "log":
        argument = "show-text" if show_text else ""
    return factory(argument)


def init_app(app: Flask) -> None:
    from cowin_kit.config.settings import DEVELOPMENT_ENVIRONMENTS
    from cowin_kit.notifications.sender import Sender

    settings = app.config["COWIN_KIT"]
    try:
        with app.app_context():  # plugins' notifiers are registered on the app
            notifier = make_notifier(settings["NOTIFIER"],
                                     show_text=settings["ENV"] in DEVELOPMENT_ENVIRONMENTS)
        app.extensions["cowin_kit.notifier"] = notifier
    except ValueError as exc:
        raise SettingsError(f"invalid settings:\n  {exc}") from None
    app.extensions[SENDER] = Sender(app, notifier)


def render(template: str, locale: str, **params: Any) -> str:
    with force_locale(locale):
        text = TEMPLATES[template]
        return text.render(params) if isinstance(text, PluralText) else str(text) % params


def queue(session: Session, to: str, template: str, locale: str, *,
          priority: int = PRIORITY_NORMAL, **params: Any) -> OutboxMessage:
    """Render a message and add it to the outbox in ``session``; the caller commits. Once
    committed, a priority message wakes this process's sender (see sender.Sender.wake)."""
    row = OutboxMessage(recipient=to, channel="sms", template=template, locale=locale,
                        text=render(template, locale, **params), priority=priority)
    session.add(row)
    queued = session.info.setdefault(QUEUED, set())
    queued.add(priority)
    return row


def queue_text(session: Session, to: str, locale: str, text: str, *,
               template: str = REPLY_TEMPLATE) -> OutboxMessage:
    """``queue`` for a text already written in ``locale`` (a channel's reply)."""
    row = OutboxMessage(recipient=to, channel="sms", template=template, locale=locale,
                        text=text, priority=PRIORITY_NORMAL)
    session.add(row)
    session.info.setdefault(QUEUED, set()).add(PRIORITY_NORMAL)
    return row


def queue_otp(session: Session, to: str, template: str, locale: str,
              **params: Any) -> OutboxMessage:
    """``queue`` for a one-time password: sent before any other message."""
    return queue(session, to, template, locale, priority=PRIORITY_OTP, **params)


SENDER = "cowin_kit.notifications.sender"
QUEUED = "cowin_kit.notifications.queued"


@event.listens_for(Session, "after_commit")
def _wake_sender(session: Session) -> None:
    priorities = session.info.pop(QUEUED, None)
    if priorities:
        from cowin_kit.notifications.sender import wake

        wake(max(priorities))


@event.listens_for(Session, "after_rollback")
def _forget_queued(session: Session) -> None:
    session.info.pop(QUEUED, None)
