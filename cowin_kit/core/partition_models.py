"""How far the online conversion of a table to monthly partitions got
(cowin_kit.core.partitioning; written with plain SQL there, read by `cowin-kit db
partition --status`)."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base


class PartitionConversion(Base):
    """One table's conversion: every row with an id up to ``watermark`` has been copied to
    the partitioned shadow table (the next batch starts after it)."""

    __tablename__ = "partition_conversion"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    watermark: Mapped[Optional[str]] = mapped_column(String(64))
    rows_copied: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    started_at: Mapped[datetime]
    finished_at: Mapped[Optional[datetime]]
