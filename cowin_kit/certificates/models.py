"""Issued certificates. The signed texts are kept so that a citizen downloads exactly
what was signed; a correction revokes the old certificate and issues a new one."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base, BigId, new_uuid, utcnow


class Certificate(Base):
    __tablename__ = "certificate"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)  # hcid
    beneficiary_id: Mapped[int] = mapped_column(BigId, ForeignKey("beneficiary.id"), index=True)
    # NULL once its dose was voided or set aside in a merge (the certificate is revoked)
    dose_id: Mapped[Optional[int]] = mapped_column(BigId, ForeignKey("dose.id"), index=True)
    provisional: Mapped[bool]
    key_id: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    dcc: Mapped[Optional[str]] = mapped_column(Text)
    shc: Mapped[Optional[str]] = mapped_column(Text)  # the JWS
    vc: Mapped[Optional[str]] = mapped_column(Text)   # the VC1: QR text
    uvci: Mapped[Optional[str]] = mapped_column(String(100), index=True)
    superseded_at: Mapped[Optional[datetime]]
    revoked_at: Mapped[Optional[datetime]]
    revocation_reason: Mapped[Optional[str]] = mapped_column(String(64))
