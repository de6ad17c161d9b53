"""The record of installed country packs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base, utcnow


class InstalledPack(Base):
    """One installed country pack; ``document`` keeps pack.yaml as installed, so every
    process reads the country's facts from the database, not from a file on its disk."""

    __tablename__ = "installed_pack"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(2), unique=True)
    version: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]]
    # The pack's own gettext catalogs, {locale: .po text}; they override the kit's messages.
    translations: Mapped[dict[str, str]] = mapped_column(default=dict)
    installed_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
