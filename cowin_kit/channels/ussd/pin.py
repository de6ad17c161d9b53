"""The booking PIN: asked once per USSD session before a booking, a move or a
cancellation; set on first use after an SMS OTP (the same OTP service as the web)."""

from __future__ import annotations

from cowin_kit.channels import pins, rules
from cowin_kit.channels.ussd.base import Context, Go, Screen, error, state
from cowin_kit.core.errors import DomainError
from cowin_kit.core.i18n import gettext as _
from cowin_kit.registration import services as registration


def need_pin(ctx: Context, data: dict, then: str) -> Go:
    """Go to ``then`` once the caller has given their PIN in this session; first set one
    (after an SMS OTP) if the account has none."""
    data["after_pin"] = then
    if data.get("pin_ok"):
        return Go(then)
    account = ctx.account(create=True)
    if pins.has_pin(ctx.session, account):
        return Go("pin")
    try:
        data["otp_txn"] = registration.request_otp(ctx.session, ctx.pack, ctx.mobile,
                                                   locale=ctx.locale).id
    except DomainError as exc:
        ctx.session.rollback()
        data.clear()
        return Go("main", error(exc))
    return Go("pin_otp")


@state("pin", writes=True)
class Pin:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Your PIN:"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        try:
            pins.check_pin(ctx.session, ctx.account(), answer.strip())
        except DomainError as exc:
            ctx.session.rollback()
            if exc.code == "pin_paused":
                data.clear()
                return Go("main", error(exc))
            return Go("pin", error(exc))
        data["pin_ok"] = True
        return Go(data["after_pin"])


@state("pin_otp", writes=True)
class PinOtp:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("To set your PIN, type the code we sent by SMS:"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        try:
            registration.confirm_otp(ctx.session, data["otp_txn"], answer.strip(),
                                     locale=ctx.locale)
        except DomainError as exc:
            ctx.session.rollback()
            if exc.code == "otp_invalid":
                return Go("pin_otp", error(exc))
            data.clear()
            return Go("main", error(exc))
        data.pop("otp_txn")
        data["otp_ok"] = True
        return Go("pin_new")


@state("pin_new")
class PinNew:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Choose a 4-digit PIN:"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        pin = answer.strip()
        if not rules.is_pin(pin) or rules.weak_pin(pin):
            return Go("pin_new", _("Choose 4 digits, not 1111 or 1234."))
        data["new_pin"] = pins.pending_hash(ctx.mobile, pin)
        return Go("pin_repeat")


@state("pin_repeat", writes=True)
class PinRepeat:
    @staticmethod
    def render(ctx: Context, data: dict) -> Screen:
        return Screen(_("Type the PIN again:"))

    @staticmethod
    def answer(ctx: Context, data: dict, answer: str) -> Go | Screen:
        if not data.get("otp_ok") or pins.pending_hash(ctx.mobile, answer.strip()) \
                != data.get("new_pin"):
            data.pop("new_pin", None)
            return Go("pin_new", _("The two PINs differ."))
        pins.set_pin(ctx.session, ctx.account(), answer.strip())
        data.pop("new_pin")
        data["pin_ok"] = True
        return Go(data["after_pin"], _("PIN saved."))
