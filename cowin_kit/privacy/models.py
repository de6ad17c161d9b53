"""What the retention jobs remember between runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base


class RetentionMark(Base):
    """How far a retention job got: every row of its kind older than ``done_until`` has
    been handled, so the next run starts there (audit events are many; each is looked at
    once, not at every run)."""

    __tablename__ = "retention_mark"

    job: Mapped[str] = mapped_column(String(32), primary_key=True)
    done_until: Mapped[datetime]
