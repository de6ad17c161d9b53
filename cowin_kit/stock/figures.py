"""What the stores hold and the dashboard's figures: stock on hand, the ledger of a store,
days of stock and wastage rates per product and area."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.i18n import gettext as _
from cowin_kit.geography.models import Location
from cowin_kit.geography.tree import place_paths
from cowin_kit.identity.models import StaffUser
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.stock import rules
from cowin_kit.stock.base import (
    CONSUMPTION_DAYS, READ, _check, _check_somewhere, _readable_stores, _zone, local_day,
    store_by_code,
)
from cowin_kit.stock.models import DOSE, WASTAGE, Balance, Entry, Lot, OpenVial, Store


# --- what the stores hold, and the dashboard -----------------------------------------------

@dataclass(frozen=True)
class LotStock:
    store: str
    product: str
    lot: str
    expires_on: date
    status: str
    on_hand: int


def on_hand(session: Session, pack: ActivePack | None, actor: StaffUser | None, *,
            store: str | None = None) -> list[LotStock]:
    """Doses on hand per store and lot (the stores the actor may read, or one)."""
    query = (select(Store.code, VaccineProduct.code, Lot.number, Lot.expires_on, Lot.status,
                    Balance.on_hand)
             .join(Store, Store.id == Balance.store_id).join(Lot, Lot.id == Balance.lot_id)
             .join(VaccineProduct, VaccineProduct.id == Lot.product_id)
             .order_by(Store.code, VaccineProduct.code, Lot.expires_on, Lot.number))
    if store is not None:
        target = store_by_code(session, pack, store)
        _check(session, actor, READ, target)
        query = query.where(Balance.store_id == target.id)
    else:
        allowed = _readable_stores(session, actor)
        if allowed is not None:
            query = query.where(Balance.store_id.in_([s.id for s in allowed] or [-1]))
    return [LotStock(*row) for row in session.execute(query)]


def ledger(session: Session, pack: ActivePack | None, actor: StaffUser | None, *, store: str,
           limit: int = 500) -> list[tuple[Entry, str, str]]:
    """A store's latest ledger entries (newest first) with product and lot number."""
    target = store_by_code(session, pack, store)
    _check(session, actor, READ, target)
    rows = session.execute(
        select(Entry, VaccineProduct.code, Lot.number).join(Lot, Lot.id == Entry.lot_id)
        .join(VaccineProduct, VaccineProduct.id == Lot.product_id)
        .where(Entry.store_id == target.id)
        .order_by(Entry.occurred_at.desc(), Entry.id.desc()).limit(limit))
    return [(entry, product, number) for entry, product, number in rows]


@dataclass(frozen=True)
class AreaStock:
    """One row of the dashboard: an area (or the national store) and a product."""
    area: str          # location code, or "national"
    name: str
    product: str
    on_hand: int
    given: int         # doses given in the period
    wasted: int        # doses wasted in the period
    vials_opened: int
    days_of_stock: float | None
    wastage_rate: float | None   # per cent


SUMMARY_COLUMNS = ("area", "name", "product", "on_hand", "given", "wasted", "vials_opened",
                   "days_of_stock", "wastage_rate_percent")


def summary(session: Session, pack: ActivePack | None, actor: StaffUser | None, *,
            level: int = 1, on: date | None = None, period_days: int = CONSUMPTION_DAYS,
            locale: str = "en") -> list[AreaStock]:
    """Stock on hand, doses given and wasted over the last ``period_days`` (to ``on``),
    vials opened, days of stock and the wastage rate per product and area of hierarchy
    ``level`` (every store inside the area: its own, those below, its facilities'); the
    national store is its own row. Only stores the actor may read."""
    _check_somewhere(actor, READ)
    on = on or local_day(pack, datetime.now(timezone.utc))
    start = datetime.combine(on - timedelta(days=period_days - 1), datetime.min.time(),
                             _zone(pack))
    end = datetime.combine(on + timedelta(days=1), datetime.min.time(), _zone(pack))
    allowed = _readable_stores(session, actor)
    stores = {s.id: s for s in (allowed if allowed is not None
                                else session.scalars(select(Store)))}
    paths = place_paths(session, pack)
    locations = {row.code: row for row in session.scalars(
        select(Location).where(Location.level == level))}

    def area_of(store: Store) -> str | None:
        if store.location_id is None:
            return "national"
        path = paths.get(store.location_id, ())
        # the path runs from the place up to the top level (level 1 is its last code)
        index = len(path) - level
        return path[index] if 0 <= index < len(path) else None

    figures: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"on_hand": 0, "given": 0, "wasted": 0, "vials": 0})
    products = {p.id: p.code for p in session.scalars(select(VaccineProduct))}
    lot_products = dict(session.execute(select(Lot.id, Lot.product_id)).all())

    def bucket(store_id: int, lot_id: int) -> dict[str, int] | None:
        store = stores.get(store_id)
        area = area_of(store) if store is not None else None
        if area is None:
            return None
        return figures[(area, products[lot_products[lot_id]])]

    for store_id, lot_id, quantity in session.execute(
            select(Balance.store_id, Balance.lot_id, Balance.on_hand)):
        if (b := bucket(store_id, lot_id)) is not None:
            b["on_hand"] += quantity
    for store_id, lot_id, kind, total in session.execute(
            select(Entry.store_id, Entry.lot_id, Entry.kind, func.sum(Entry.quantity))
            .where(Entry.kind.in_((DOSE, WASTAGE)), Entry.occurred_at >= start,
                   Entry.occurred_at < end)
            .group_by(Entry.store_id, Entry.lot_id, Entry.kind)):
        if (b := bucket(store_id, lot_id)) is not None:
            b["given" if kind == DOSE else "wasted"] += -int(total or 0)
    for store_id, lot_id, n in session.execute(
            select(OpenVial.store_id, OpenVial.lot_id, func.count())
            .where(OpenVial.opened_at >= start, OpenVial.opened_at < end)
            .group_by(OpenVial.store_id, OpenVial.lot_id)):
        if (b := bucket(store_id, lot_id)) is not None:
            b["vials"] += n
    out = []
    for (area, product), f in sorted(figures.items()):
        place = locations.get(area)
        name = place.localized_name(locale) if place is not None else _("National store")
        out.append(AreaStock(area, name, product, f["on_hand"], f["given"], f["wasted"],
                             f["vials"],
                             rules.days_of_stock(f["on_hand"], f["given"] + f["wasted"],
                                                 period_days),
                             rules.wastage_rate(f["given"], f["wasted"])))
    return out


def summary_rows(rows: Iterable[AreaStock]) -> list[tuple[Any, ...]]:
    return [(r.area, r.name, r.product, r.on_hand, r.given, r.wasted, r.vials_opened,
             "" if r.days_of_stock is None else r.days_of_stock,
             "" if r.wastage_rate is None else r.wastage_rate) for r in rows]
