"""Use cases of the phone channels: one USSD step, one inbound SMS, a delivery report,
and the health workers' handling of failed messages.

A USSD step is replay-safe: the session row keeps the last step's key and screen, so
the same step again (a gateway's retry) gets the same screen and does nothing; a step
is claimed by moving the row's ``version`` on (a conditional UPDATE that also returns the
session's state), so two copies arriving together are handled once: the second waits
for the first's row lock and then finds the step taken. A step that may write through a
service commits its claim before the service runs; a step that only reads keeps the
claim, the new state and its screen in one transaction. A step that does not follow the
session's last one, or comes after the session ended or expired, is answered with a
clear "dial again" screen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from flask_babel import force_locale
from sqlalchemy import bindparam, delete, false, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cowin_kit.audit.services import NATIONAL, Actor, record, set_actor
from cowin_kit.channels import rules, ussd
from cowin_kit.channels.models import InboundSms, UssdSession
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import Conflict, DomainError, NotFound
from cowin_kit.core.i18n import gettext as _, ngettext, pgettext
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser
from cowin_kit.immunization import duelists, reminders
from cowin_kit.notifications import SECRET_TEMPLATES, queue_text
from cowin_kit.notifications.models import OutboxMessage
from cowin_kit.plugins import ChannelGateway, DeliveryReport, GatewayRequest
from cowin_kit.programme import due as due_rules
from cowin_kit.registration import rules as registration_rules
from cowin_kit.registration import services as registration
from cowin_kit.registration.models import Beneficiary, CitizenAccount
from cowin_kit.scheduling import availability

log = logging.getLogger("cowin_kit.channels")

ACTION = "messages.manage"


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Reply:
    text: str
    end: bool


def limits_of(gateway: ChannelGateway) -> rules.Limits:
    return rules.Limits(gateway.gsm_limit, gateway.ucs2_limit)


def _language(pack: ActivePack, account: CitizenAccount | None) -> str:
    if account is not None and account.locale in pack.locales:
        return account.locale
    return pack.default_locale


def _plain(pack: ActivePack, locale: str, limits: rules.Limits, message: Any) -> Reply:
    with force_locale(locale):
        return Reply(rules.shorten(str(message), limits), True)


def _stale(pack: ActivePack, locale: str, limits: rules.Limits) -> Reply:
    return _plain(pack, locale, limits, _("This session has ended. Please dial again."))


# --- USSD ---------------------------------------------------------------------------------

@lru_cache(maxsize=8192)
def _normalized(raw: str, region: str) -> str | None:
    try:
        return registration_rules.normalize_mobile(raw, region)
    except registration_rules.InvalidMobile:
        return None


def _account_of(session: Session, mobile: str) -> CitizenAccount | None:
    """The account of a number already in E.164 (no parsing again), or None."""
    return session.scalars(select(CitizenAccount).where(CitizenAccount.mobile == mobile)).first()


def caller_number(raw: str, pack: ActivePack) -> str | None:
    """The gateway's caller number in E.164 (as registration.parse_mobile), None if the
    pack does not serve it; remembered: a caller's number comes with every step."""
    return _normalized(raw, pack.document["phone_region"])


def handle_ussd(session: Session, pack: ActivePack, gateway_name: str,
                gateway: ChannelGateway, call: GatewayRequest, *, ttl_seconds: int,
                request_id: str | None = None, source_ip: str | None = None,
                now: datetime | None = None) -> Reply:
    """Answer one USSD callback (see the module docstring).

    The usual step costs one statement to claim it (a conditional UPDATE that returns the
    session's state), the menus' own reads, one UPDATE of the new state and one commit.
    A step whose answer may write through a service (``ussd.WRITING``) commits its claim
    first, so that the service's commit (or its roll-back) cannot let a copy of the step
    run it again; anything unusual (the first step, a replay, a stale or foreign step,
    a copy in flight) is sorted out by reading the row."""
    now = now or _now()
    limits = limits_of(gateway)
    mobile = caller_number(call.phone, pack)
    if mobile is None:
        return _plain(pack, pack.default_locale, limits,
                      _("This service is not open to this number."))
    claimed = _claim(session, gateway_name, call, mobile, now) \
        if call.answer is not None else None
    if claimed is None:
        return _unusual(session, pack, gateway_name, call, mobile, limits, ttl_seconds,
                        request_id, source_ip, now)
    row_id, version, state, data, locale = claimed
    writing = state in ussd.WRITING
    if writing:
        session.commit()
    ctx = ussd.Context(session, pack, mobile, locale, limits, request_id, source_ip)
    ctx.act()
    failed = False
    try:
        state, text, end = advance(ctx, state, data, call.answer or "")
    except Exception:
        session.rollback()
        failed = True
        log.exception("USSD step failed in state %s", state)
        with force_locale(locale):
            text, end = rules.shorten(str(_("Sorry, something went wrong. Please dial "
                                             "again.")), limits), True
    params = {"b_id": row_id, "b_state": state, "b_data": data, "b_screen": text,
              "b_ended": end, "b_locale": ctx.locale, "b_now": now,
              "b_expires": now + timedelta(seconds=ttl_seconds)}
    if failed and not writing:  # the claim was rolled back with the step: claim again
        session.execute(_STORE_RECLAIMED, {**params, "b_version": version,
                                           "b_new_version": version + 1,
                                           "b_step": call.step_key})
    else:
        session.execute(_STORE, {**params, "b_version": version + 1})
    session.commit()
    return Reply(text, end)


_TABLE = UssdSession.__table__
# The statements of a step, built once (their SQL and cache keys are made once, too).
_CLAIM_WHERE = (_TABLE.c.gateway == bindparam("b_gateway"),
                _TABLE.c.session_key == bindparam("b_key"),
                _TABLE.c.mobile == bindparam("b_mobile"),
                _TABLE.c.step_key != bindparam("b_step"),
                _TABLE.c.ended == false(), _TABLE.c.expires_at > bindparam("b_now"))
_CLAIM_VALUES = {"version": _TABLE.c.version + 1, "step_key": bindparam("b_step"),
                 "screen": "", "updated_at": bindparam("b_now")}
_CLAIMED = (_TABLE.c.id, _TABLE.c.version, _TABLE.c.state, _TABLE.c.data, _TABLE.c.locale)
_CLAIM = update(_TABLE).where(*_CLAIM_WHERE).values(_CLAIM_VALUES).returning(*_CLAIMED)
_CLAIM_AFTER = update(_TABLE).where(*_CLAIM_WHERE, _TABLE.c.step_key == bindparam("b_prev")) \
    .values(_CLAIM_VALUES).returning(*_CLAIMED)
_STORED = {"state": bindparam("b_state"), "data": bindparam("b_data"),
           "screen": bindparam("b_screen"), "ended": bindparam("b_ended"),
           "locale": bindparam("b_locale"), "steps": _TABLE.c.steps + 1,
           "updated_at": bindparam("b_now"), "expires_at": bindparam("b_expires")}
_STORE = update(_TABLE).where(_TABLE.c.id == bindparam("b_id"),
                              _TABLE.c.version == bindparam("b_version")).values(_STORED)
_STORE_RECLAIMED = update(_TABLE).where(
    _TABLE.c.id == bindparam("b_id"), _TABLE.c.version == bindparam("b_version")).values(
    {**_STORED, "version": bindparam("b_new_version"), "step_key": bindparam("b_step")})


def _claim(session: Session, gateway_name: str, call: GatewayRequest, mobile: str,
           now: datetime) -> tuple[int, int, str, dict, str] | None:
    """Move the session on to this step if it is the caller's live session and this
    step follows its last one: (id, version before, state, data, locale), else None."""
    params = {"b_gateway": gateway_name, "b_key": call.session_id, "b_mobile": mobile,
              "b_step": call.step_key, "b_now": now}
    if call.previous_key is None:
        row = session.execute(_CLAIM, params).first()
    else:
        row = session.execute(_CLAIM_AFTER, {**params, "b_prev": call.previous_key}).first()
    if row is None:
        return None
    return row.id, row.version - 1, row.state, dict(row.data or {}), row.locale


def _unusual(session: Session, pack: ActivePack, gateway_name: str, call: GatewayRequest,
             mobile: str, limits: rules.Limits, ttl_seconds: int, request_id: str | None,
             source_ip: str | None, now: datetime) -> Reply:
    """A step that could not be claimed: the first of a session, a replay (the same
    screen again), a copy of a step in flight, or a stale or foreign one."""
    session.rollback()
    row = session.execute(select(
        _TABLE.c.mobile, _TABLE.c.locale, _TABLE.c.step_key, _TABLE.c.screen,
        _TABLE.c.ended).where(_TABLE.c.gateway == gateway_name,
                              _TABLE.c.session_key == call.session_id)).first()
    if row is None:
        if call.answer is not None:  # answers of a session this server does not know
            return _stale(pack, pack.default_locale, limits)
        return _open(session, pack, gateway_name, call, mobile, limits, ttl_seconds,
                     request_id, source_ip, now)
    if row.mobile != mobile:
        return _stale(pack, row.locale, limits)
    if call.step_key == row.step_key:  # the same step again: the same screen
        if row.screen:
            return Reply(row.screen, row.ended)
        return _busy(row.locale, limits)
    return _stale(pack, row.locale, limits)


def _busy(locale: str, limits: rules.Limits) -> Reply:
    with force_locale(locale):
        return Reply(rules.shorten(str(_("Still working on your last answer. Please wait "
                                         "and try again.")), limits), False)


def _open(session: Session, pack: ActivePack, gateway_name: str, call: GatewayRequest,
          mobile: str, limits: rules.Limits, ttl_seconds: int, request_id: str | None,
          source_ip: str | None, now: datetime) -> Reply:
    account = _account_of(session, mobile)
    locale = _language(pack, account)
    ctx = ussd.Context(session, pack, mobile, locale, limits, request_id, source_ip,
                       _account=account)
    data: dict[str, Any] = {}
    text, end = _show(ctx, "main", data, None)
    session.add(UssdSession(
        gateway=gateway_name, session_key=call.session_id, mobile=mobile,
        network=call.network[:16], locale=locale, state="main", data=data,
        step_key=call.step_key, screen=text, ended=end, version=1, steps=0,
        created_at=now, updated_at=now, expires_at=now + timedelta(seconds=ttl_seconds)))
    try:
        session.commit()
    except IntegrityError:  # the same first request twice at once: answer as the first
        session.rollback()
        first = session.scalars(select(UssdSession).where(
            UssdSession.gateway == gateway_name,
            UssdSession.session_key == call.session_id)).one()
        return Reply(first.screen, first.ended) if first.screen else _busy(locale, limits)
    return Reply(text, end)


@lru_cache(maxsize=2048)
def _paginate(message: str, labels: tuple[str, ...], limits: rules.Limits, more: str
              ) -> list[str]:
    """rules.paginate, remembered: most screens (menus, prompts) are the same text for
    every caller of a language. Callers copy the list before changing it."""
    return rules.paginate(message, labels, limits, more)


def _show(ctx: ussd.Context, state: str, data: dict, notice: str | None,
          screen: ussd.Screen | None = None) -> tuple[str, bool]:
    """Render ``state`` (or ``screen``) in the caller's language, paginated; keep its
    pages and options in ``data``; the first page and whether it ends the session."""
    with force_locale(ctx.locale):
        if screen is None:
            render, _answer = ussd.STATES[state]
            screen = render(ctx, data)
        message = "\n".join(part for part in (notice, screen.message) if part)
        pages = _paginate(message, tuple(label for label, _value in screen.options),
                          ctx.limits, str(pgettext("ussd", "More")))
    data["_opts"] = [value for _label, value in screen.options]
    data["_pages"], data["_page"], data["_end"] = list(pages), 0, screen.end
    return pages[0], screen.end and len(pages) == 1


def advance(ctx: ussd.Context, state: str, data: dict, answer: str) -> tuple[str, str, bool]:
    """One answer in ``state``: (the next state, its first page, whether it ends)."""
    pages, page = data.get("_pages") or [], data.get("_page", 0)
    if answer == rules.MORE and page < len(pages) - 1:
        data["_page"] = page + 1
        return state, pages[page + 1], bool(data.get("_end")) and page + 1 == len(pages) - 1
    if answer.strip() == rules.MAIN_MENU:
        data.clear()
        text, end = _show(ctx, "main", data, None)
        return "main", text, end
    if data.get("_end"):  # the last page of a closing screen was answered: close it
        return state, pages[-1], True
    _render, answer_to = ussd.STATES[state]
    with force_locale(ctx.locale):
        result = answer_to(ctx, data, answer.strip())
    if isinstance(result, ussd.Screen):
        text, end = _show(ctx, state, data, None, result)
        return state, text, end
    text, end = _show(ctx, result.state, data, result.notice or None)
    return result.state, text, end


def purge_sessions(session: Session, *, now: datetime | None = None,
                   keep: timedelta = timedelta(hours=1)) -> int:
    """Delete USSD sessions that expired more than ``keep`` ago (the worker, each round)."""
    now = now or _now()
    removed = session.execute(delete(UssdSession).where(UssdSession.expires_at < now - keep)
                              .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return removed or 0


def every_static_screen(ctx: ussd.Context) -> dict[str, list[str]]:
    """The pages of every screen that needs no data (menus, prompts, notices) in the
    caller's language: what a translator checks, and the tests hold to the limits."""
    out: dict[str, list[str]] = {}
    samples = {"kind": "adult", "name": "Asha Devi Kumari", "birth_year": 1990,
               "birth_date": "2020-01-25", "then": "due"}
    for name in ("main", "reg_kind", "reg_name", "reg_birth", "reg_idnum", "reg_relation",
                 "reg_guardian", "reg_confirm", "find_how", "find_pin", "pin", "pin_otp",
                 "pin_new", "pin_repeat", "language"):
        data = dict(samples)
        text, _end = _show(ctx, name, data, None)
        out[name] = data["_pages"]
        for notice_state, notice in _NOTICES.items():
            if notice_state == name:
                with force_locale(ctx.locale):
                    message = str(notice())
                data = dict(samples)
                _show(ctx, name, data, message)
                out[f"{name}+notice"] = data["_pages"]
    with force_locale(ctx.locale):
        texts = [_("This session has ended. Please dial again."),
                 _("Still working on your last answer. Please wait and try again."),
                 _("Sorry, something went wrong. Please dial again."),
                 _("This service is not open to this number."),
                 _("Sent by SMS."), _("Cancelled."), _("PIN saved.")]
        out["plain"] = [rules.shorten(str(t), ctx.limits) for t in texts]
    return out


_NOTICES = {
    "main": lambda: _("Nobody is registered on this number yet."),
    "reg_name": lambda: _("Type the name in letters."),
    "reg_birth": lambda: _("Type the date as 8 digits, e.g. 25012020."),
    "reg_idnum": lambda: _("Type the number of the document."),
    "find_pin": lambda: _("Type the postal code in digits."),
    "pin_new": lambda: _("Choose 4 digits, not 1111 or 1234."),
    "pin_repeat": lambda: _("The two PINs differ."),
    "pin": lambda: _("Too many wrong PINs; try again in 15 minutes."),
}


# --- SMS ----------------------------------------------------------------------------------

COMMANDS = ("status", "centre", "due", "stop", "start")


def _keyword_msgids() -> dict[str, Any]:
    # TRANSLATORS: SMS keywords: one word each, as people would type them (no spaces)
    return {"status": _("STATUS"), "centre": _("CENTRE"), "due": _("DUE"),
            "stop": _("STOP"), "start": _("START")}


def keywords(pack: ActivePack) -> dict[str, dict[str, list[str]]]:
    """command -> locale -> spellings: the English keyword and its translation in each
    pack language, plus the pack's own (``channels.keywords``, any language); built once
    per snapshot of the pack."""
    return pack.memo(("channels", "keywords"), lambda: _keywords(pack))


def _keywords(pack: ActivePack) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {command: {"en": [command.upper()]}
                                            for command in COMMANDS}
    out["centre"]["en"].append("CENTER")
    for locale in pack.locales:
        with force_locale(locale):
            for command, word in _keyword_msgids().items():
                out[command].setdefault(locale, []).append(str(word))
    extra = (pack.document.get("channels") or {}).get("keywords") or {}
    for command, words in extra.items():
        out[command].setdefault("", []).extend(words)
    return out


def _command(text: str, pack: ActivePack) -> tuple[str | None, str, str | None]:
    """(command, argument, the language its keyword is in)."""
    for command, by_locale in keywords(pack).items():
        for locale, words in by_locale.items():
            found, argument = rules.keyword_of(text, {command: words})
            if found is not None:
                return found, argument, locale or None
    return None, text.strip(), None


def handle_sms(session: Session, pack: ActivePack, gateway_name: str, call: GatewayRequest,
               *, request_id: str | None = None, source_ip: str | None = None) -> str | None:
    """Answer one inbound SMS: the reply is queued in the outbox (in the sender's
    language) and returned; None when the message was handled before (same gateway
    message id) or comes from a number the pack does not serve."""
    mobile = caller_number(call.phone, pack)
    if mobile is None:
        return None
    if call.message_id and session.scalar(select(InboundSms.id).where(
            InboundSms.gateway == gateway_name,
            InboundSms.message_id == call.message_id)) is not None:
        return None
    account = _account_of(session, mobile)
    who = str(account.id) if account else "*" * max(len(mobile) - 4, 0) + mobile[-4:]
    set_actor(Actor("citizen", who, request_id, source_ip, channel="sms"))
    command, argument, keyword_locale = _command(call.answer or "", pack)
    locale = account.locale if account is not None and account.locale in pack.locales \
        else keyword_locale if keyword_locale in pack.locales else pack.default_locale
    with force_locale(locale):
        reply = _sms_reply(session, pack, account, command, argument, locale)
    if call.message_id:
        session.add(InboundSms(gateway=gateway_name, message_id=call.message_id,
                               keyword=command or "", account_id=account.id if account else None))
    queue_text(session, mobile, locale, reply)
    try:
        session.commit()
    except IntegrityError:  # the same message handled by a parallel request
        session.rollback()
        return None
    return reply


def _help(pack: ActivePack) -> str:
    words = {command: str(word) for command, word in _keyword_msgids().items()}
    return str(_("Send %(status)s <reference ID>, %(centre)s <postal code>, %(due)s, "
                 "%(stop)s or %(start)s.", **words))


def _sms_reply(session: Session, pack: ActivePack, account: CitizenAccount | None,
               command: str | None, argument: str, locale: str) -> str:
    if command is None:
        return _help(pack)
    if command == "centre":
        return _centres(session, pack, argument, locale)
    if account is None:
        return str(_("Nobody is registered on this number yet."))
    if command in ("stop", "start"):
        reminders.set_opt_out(session, account, command == "stop")
        return str(_("You will get no more reminders. Send %(start)s to get them again.",
                     start=str(_keyword_msgids()["start"])) if command == "stop"
                   else _("Reminders are on again."))
    if command == "status":
        try:
            view = registration.get_beneficiary(session, account, argument.strip())
        except DomainError as exc:
            return str(exc.message)
        status = {"Not Vaccinated": _("not vaccinated"),
                  "Partially Vaccinated": _("partially vaccinated"),
                  "Vaccinated": _("vaccinated")}[view.vaccination_status]
        return str(ngettext("%(name)s (%(ref)s): %(status)s, %(num)d dose recorded.",
                            "%(name)s (%(ref)s): %(status)s, %(num)d doses recorded.",
                            len(view.doses), name=view.beneficiary.name,
                            ref=view.beneficiary.reference_id, status=status))
    return _due_text(session, pack, account, locale)


def _centres(session: Session, pack: ActivePack, argument: str, locale: str) -> str:
    code = argument.strip().replace(" ", "")
    if not code:
        return _help(pack)
    today = duelists.today_in(pack)
    centres = availability.find_availability(
        session, days=[today + timedelta(days=n) for n in range(7)], postal_code=code)
    parts = []
    for centre in centres:
        seats = [(s.session.session_date, s.available_total) for s in centre.sessions
                 if s.available_total > 0]
        if seats:
            day, free = seats[0]
            names = centre.facility.names or {}
            name = names.get(locale) or centre.facility.name
            parts.append(str(ngettext("%(name)s: %(day)s, %(num)d free seat",
                                      "%(name)s: %(day)s, %(num)d free seats", free,
                                      name=name, day=day.strftime("%d/%m"))))
    if not parts:
        return str(_("No free seats in the next 7 days at postal code %(code)s.", code=code))
    return "; ".join(parts[:3])


def _due_text(session: Session, pack: ActivePack, account: CitizenAccount, locale: str) -> str:
    parts = []
    people = session.scalars(select(Beneficiary).where(
        Beneficiary.account_id == account.id, Beneficiary.birth_date.is_not(None))
        .order_by(Beneficiary.id))
    today = duelists.today_in(pack)
    for person in people:
        result = duelists.person_due(session, pack, person.reference_id, today, account=account)
        doses = [s for s in result.doses if s.status in (due_rules.OVERDUE, due_rules.DUE)]
        if doses:
            names = ", ".join(f"{result.routine.schedule_name(s.schedule, locale)} {s.dose}"
                              for s in doses[:4])
            parts.append(f"{person.name}: {names}")
    if not parts:
        return str(_("Nothing is due now for the people on this number."))
    return str(_("Due now: %(list)s.", list="; ".join(parts)))


# --- delivery reports and failed messages ------------------------------------------------------

def record_delivery(session: Session, report: DeliveryReport, *,
                    now: datetime | None = None) -> bool:
    """Store a gateway's delivery report on its outbox message; False if no message has
    that id. ``delivered`` is final (a late ``sent`` report does not undo it); a delivered
    message's text is erased."""
    row = session.scalars(select(OutboxMessage).where(
        OutboxMessage.provider_ref == report.message_id)).first()
    if row is None:
        return False
    if row.delivery_status != "delivered":
        row.delivery_status = report.status
        row.delivery_reason = report.reason[:100] or None
        if report.status == "delivered":
            row.delivered_at = now or _now()
            row.text = ""
    session.commit()
    return True


@dataclass(frozen=True)
class FailedMessage:
    id: int
    recipient_masked: str
    template: str
    locale: str
    created_at: datetime
    status: str
    delivery_status: str | None
    reason: str | None
    can_retry: bool


def _check(actor: StaffUser | None) -> None:
    """Staff need ``messages.manage``; None is the server's operator (the CLI)."""
    if actor is not None:
        access.check_access(actor, ACTION)


def failed_messages(session: Session, actor: StaffUser | None, *, limit: int = 100
                    ) -> list[FailedMessage]:
    """Messages the gateway could not send or deliver, not yet handled, newest first."""
    _check(actor)
    rows = session.scalars(select(OutboxMessage).where(
        (OutboxMessage.status == "failed") | (OutboxMessage.delivery_status == "failed"),
        OutboxMessage.handled.is_(None)).order_by(OutboxMessage.id.desc())
        .limit(max(1, min(limit, 500))))
    return [FailedMessage(r.id, "*" * max(len(r.recipient) - 4, 0) + r.recipient[-4:],
                          r.template, r.locale, r.created_at, r.status, r.delivery_status,
                          r.delivery_reason or r.last_error,
                          bool(r.text) and r.template not in SECRET_TEMPLATES)
            for r in rows]


def _failed(session: Session, message_id: int) -> OutboxMessage:
    row = session.get(OutboxMessage, message_id, with_for_update=True)
    if row is None or not (row.status == "failed" or row.delivery_status == "failed"):
        raise NotFound(_("No failed message with this id."), code="message_not_found")
    if row.handled is not None:
        raise Conflict(_("This message has already been handled."), code="message_handled")
    return row


def retry_message(session: Session, actor: StaffUser | None, message_id: int) -> OutboxMessage:
    """Send a failed message again, as a new outbox message naming the failed one."""
    _check(actor)
    row = _failed(session, message_id)
    if not row.text or row.template in SECRET_TEMPLATES:
        session.rollback()
        raise Conflict(_("This message's text is no longer kept: the person must ask again."),
                       code="message_text_erased")
    again = queue_text(session, row.recipient, row.locale, row.text, template=row.template)
    again.retry_of = row.id
    row.handled, row.text = "retried", ""
    session.flush()
    record(session, "message.retry", "message", row.id, place=NATIONAL, retry=again.id)
    session.commit()
    return again


def escalate_message(session: Session, actor: StaffUser | None, message_id: int) -> OutboxMessage:
    """A health worker takes a failed message over (they will reach the person another
    way): it leaves the list, and its text is erased."""
    _check(actor)
    row = _failed(session, message_id)
    row.handled, row.text = "escalated", ""
    record(session, "message.escalate", "message", row.id, place=NATIONAL)
    session.commit()
    return row

