"""What the channels keep: the state of each USSD session (server side, keyed by the
gateway's session id, until it expires), the PIN a caller set for bookings, and the
inbound SMS handled (once per gateway message id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base, BigId, utcnow


class UssdSession(Base):
    """One USSD session of one caller. ``step_key`` is the last step handled and
    ``screen`` its answer: the same step again (a gateway's retry) gets that screen and
    does nothing. ``version`` moves on with every step, so that two copies of one step
    arriving together are handled once (the one that moves it on)."""

    __tablename__ = "ussd_session"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    gateway: Mapped[str] = mapped_column(String(32))
    session_key: Mapped[str] = mapped_column(String(100))
    mobile: Mapped[str] = mapped_column(String(20))
    network: Mapped[str] = mapped_column(String(16), default="")
    locale: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]]
    step_key: Mapped[str] = mapped_column(Text, default="")
    screen: Mapped[str] = mapped_column(Text, default="")
    ended: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)
    steps: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (UniqueConstraint("gateway", "session_key"),)


class ChannelPin(Base):
    """The PIN an account's holder set (after an SMS OTP) to book, move and cancel
    appointments by USSD: only a keyed hash is stored. Wrong PINs in a row pause it."""

    __tablename__ = "channel_pin"

    account_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("citizen_account.id", ondelete="CASCADE"), primary_key=True)
    pin_hash: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(default=0)
    paused_until: Mapped[Optional[datetime]]
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundSms(Base):
    """An SMS received through a gateway, once per gateway message id: its keyword and
    outcome, never its text (it may hold a reference ID)."""

    __tablename__ = "inbound_sms"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    gateway: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(100))
    keyword: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[Optional[int]] = mapped_column(
        BigId, ForeignKey("citizen_account.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("gateway", "message_id"),
                      Index("ix_inbound_sms_received_at", "received_at"))
