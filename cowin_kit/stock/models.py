"""Stock tables: lots, stores, the ledger (one row per movement), the balance per store and
lot (kept in step with the ledger, the row that serializes parallel draws), open vials and
the alerts raised by the worker."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base, BigId, utcnow

LOT_ACTIVE = "active"
LOT_RECALLED = "recalled"
LOT_STATUSES = (LOT_ACTIVE, LOT_RECALLED)

STORE_NATIONAL = "national"
STORE_AREA = "area"
STORE_FACILITY = "facility"

# Ledger kinds; quantities are doses, signed (+ into the store, - out of it).
RECEIPT = "receipt"          # + from a manufacturer or outside the kit (national receipts)
ISSUE = "issue"              # - sent to another store (its transfer_in is the other side)
TRANSFER_IN = "transfer_in"  # + received from another store of the kit
DOSE = "dose"                # -1 per dose given (imports: -n per facility, lot and day)
WASTAGE = "wastage"          # - doses discarded: an open vial's rest, damage, expiry, VVM
ADJUSTMENT = "adjustment"    # +/- with a reason (found, lost, correction)
COUNT = "count"              # +/- the difference a physical count found
ENTRY_KINDS = (RECEIPT, ISSUE, TRANSFER_IN, DOSE, WASTAGE, ADJUSTMENT, COUNT)


class Lot(Base):
    """A manufacturer's lot (batch) of one product: the register doses are checked
    against. ``number_key`` is the number as matched (upper case, single spaces)."""

    __tablename__ = "stock_lot"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("vaccine_product.id"), index=True)
    number: Mapped[str] = mapped_column(String(64))
    number_key: Mapped[str] = mapped_column(String(64))
    manufacturer: Mapped[str] = mapped_column(String(200))
    expires_on: Mapped[date] = mapped_column(Date)
    doses_per_vial: Mapped[int]
    vvm_stage: Mapped[Optional[int]]          # vaccine vial monitor stage 1-4 (3, 4: discard)
    status: Mapped[str] = mapped_column(String(16), default=LOT_ACTIVE)
    recalled_at: Mapped[Optional[datetime]]
    recall_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("product_id", "number_key"),)


class Store(Base):
    """A place that holds vaccine: the national store, one per place of the pack's
    hierarchy (state, district, ...), one per facility. ``code``: ``national``,
    ``area:<location code>`` or ``facility:<facility code>``."""

    __tablename__ = "stock_store"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(32))   # "national", a hierarchy key, "facility"
    location_id: Mapped[Optional[int]] = mapped_column(ForeignKey("location.id"), index=True)
    facility_id: Mapped[Optional[int]] = mapped_column(ForeignKey("facility.id"), unique=True)
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("stock_store.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Balance(Base):
    """Doses of one lot on hand at one store: the sum of its ledger entries, kept in the
    same transaction as each entry; locked (FOR UPDATE) by every draw on it."""

    __tablename__ = "stock_balance"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stock_store.id"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("stock_lot.id"), index=True)
    on_hand: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("store_id", "lot_id"),)


class Entry(Base):
    """One movement of the ledger (see ENTRY_KINDS)."""

    __tablename__ = "stock_entry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stock_store.id"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("stock_lot.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int]
    other_store_id: Mapped[Optional[int]] = mapped_column(ForeignKey("stock_store.id"))
    dose_id: Mapped[Optional[int]] = mapped_column(
        BigId, ForeignKey("dose.id", ondelete="SET NULL"), index=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    occurred_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(150), default="")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_stock_entry_store_occurred", "store_id", "occurred_at"),)


class OpenVial(Base):
    """A multi-dose vial opened at a store (a facility's session): doses left in it, and
    how it ended (``used`` up or ``discarded`` under the product's open-vial policy)."""

    __tablename__ = "stock_open_vial"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stock_store.id"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("stock_lot.id"))
    opened_at: Mapped[datetime]
    opened_on: Mapped[date] = mapped_column(Date)   # the session's (local) day
    doses_left: Mapped[int]
    closed_at: Mapped[Optional[datetime]]
    close_reason: Mapped[Optional[str]] = mapped_column(String(16))  # used | discarded

    __table_args__ = (Index("ix_stock_open_vial_store_lot", "store_id", "lot_id",
                            "closed_at"),)


class Alert(Base):
    """A near-expiry, stock-out or low-stock alert raised by the worker, once per
    ``key`` (kind, store, lot or product, day)."""

    __tablename__ = "stock_alert"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))      # near_expiry | stock_out | low_stock
    store_id: Mapped[int] = mapped_column(ForeignKey("stock_store.id"), index=True)
    lot_id: Mapped[Optional[int]] = mapped_column(ForeignKey("stock_lot.id"))
    product_id: Mapped[Optional[int]] = mapped_column(ForeignKey("vaccine_product.id"))
    day: Mapped[date] = mapped_column(Date, index=True)
    details: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
