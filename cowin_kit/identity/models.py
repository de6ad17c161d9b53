"""Identity documents, genders, staff accounts with their role grants, and the API keys
of partner applications."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Optional

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cowin_kit.core.db import Base, utcnow

if TYPE_CHECKING:
    from cowin_kit.geography.models import Location
    from cowin_kit.geography.models import Facility


class IdDocumentType(Base):
    __tablename__ = "id_document_type"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    labels: Mapped[dict[str, str]]
    validator: Mapped[str] = mapped_column(String(500))
    min_age: Mapped[int] = mapped_column(default=0)
    registration: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)


class Gender(Base):
    __tablename__ = "gender"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    labels: Mapped[dict[str, str]]
    position: Mapped[int] = mapped_column(default=0)


class StaffUser(Base):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    # where alerts reach the person (stock alerts, serious AEFI cases): a mobile number
    # (E.164), to which the message outbox sends; an e-mail address kept beside it
    mobile: Mapped[Optional[str]] = mapped_column(String(20))
    email: Mapped[Optional[str]] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[Optional[datetime]]
    # wrong secret codes given in a row at dose recording, and the pause they led to
    secret_code_failures: Mapped[int] = mapped_column(default=0)
    secret_code_paused_until: Mapped[Optional[datetime]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # carried in the user's tokens; raised on sign-out, deactivation and a new password
    token_epoch: Mapped[int] = mapped_column(default=0, server_default="0")

    grants: Mapped[list["RoleGrant"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class RoleGrant(Base):
    """A role held on a part of the hierarchy: no location means the whole country."""

    __tablename__ = "role_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(32))
    location_id: Mapped[Optional[int]] = mapped_column(ForeignKey("location.id"), index=True)
    facility_id: Mapped[Optional[int]] = mapped_column(ForeignKey("facility.id"), index=True)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[StaffUser] = relationship(back_populates="grants")
    # For showing a grant's codes; access checks only need the ids above.
    location: Mapped[Optional["Location"]] = relationship()
    facility: Mapped[Optional["Facility"]] = relationship()


class PartnerApiKey(Base):
    """A third-party application's key (sent as X-Api-Key). Only a SHA-256 of the key is
    stored: keys are long random strings, so a slow hash adds nothing and lookups stay one
    indexed query per request. The prefix lets operators tell keys apart in lists."""

    __tablename__ = "partner_api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_prefix: Mapped[str] = mapped_column(String(8))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[Optional[datetime]]
    rate_limit_per_minute: Mapped[int] = mapped_column(default=600)

    creator: Mapped[StaffUser] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None
