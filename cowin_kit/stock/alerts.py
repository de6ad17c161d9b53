"""Alerts raised by the worker: near-expiry lots, stock-outs and low stock, once per store,
lot or product and day, each sent to the nearest staff of the store's place who manage
stock there (a message in the outbox, queued with the alert row); and the list staff
read."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.core import metrics
from cowin_kit.identity.models import StaffUser
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.stock import rules
from cowin_kit.stock.base import (
    CONSUMPTION_DAYS, READ, _check_somewhere, _readable_stores, _zone, log,
    message_store_staff, settings,
)
from cowin_kit.stock.models import (
    DOSE, ISSUE, LOT_RECALLED, WASTAGE, Alert, Balance, Entry, Lot, Store,
)


# --- alerts (the worker) -------------------------------------------------------------------

def raise_alerts(session: Session, pack: ActivePack | None, day: date) -> list[Alert]:
    """Near-expiry lots held at a store (expiring within the pack's ``stock.near_expiry``),
    stock-outs (a store that used a product in the last 28 days holds none of it) and low
    stock (fewer days of stock than ``stock.min_days_of_stock``), each raised once per
    store, lot or product and day: a row of ``stock_alert``, a log line (logger
    ``cowin_kit.stock``), the ``cowin_kit_stock_alerts_total`` counter, and a message to
    the mobile of the nearest staff holding ``stock.manage`` at the store's place
    (:func:`message_store_staff`), queued in the transaction that writes the alert row:
    an alert already raised (its unique key) is neither raised nor sent again. The
    dashboard lists them too. Commits; the alerts raised."""
    facts = settings(pack)
    raised: list[Alert] = []
    existing = set(session.scalars(select(Alert.key).where(Alert.day == day)))
    recipients: dict[int, list[StaffUser]] = {}   # by store, found once per run

    def add(kind: str, store: Store, lot: Lot | None, product_id: int | None,
            details: dict[str, Any]) -> None:
        key = f"{kind}:{store.id}:{lot.id if lot else 'p' + str(product_id)}:{day.isoformat()}"
        if key in existing:
            return
        existing.add(key)
        alert = Alert(key=key, kind=kind, store_id=store.id, lot_id=lot.id if lot else None,
                      product_id=product_id, day=day, details=details)
        session.add(alert)
        raised.append(alert)
        log.warning("stock alert %s at %s: %s", kind, store.code, details)
        template, params = _message_of(kind, details)
        details["messages"] = message_store_staff(session, pack, store, template,
                                                  known=recipients, **params)

    stores = {s.id: s for s in session.scalars(select(Store))}
    products = {p.id: p.code for p in session.scalars(select(VaccineProduct))}
    held: dict[tuple[int, int], int] = defaultdict(int)
    for balance, lot in session.execute(select(Balance, Lot).join(Lot, Lot.id == Balance.lot_id)):
        held[(balance.store_id, lot.product_id)] += max(balance.on_hand, 0)
        if balance.on_hand > 0 and lot.status != LOT_RECALLED and rules.near_expiry(
                lot.expires_on, day, facts.near_expiry_days):
            add("near_expiry", stores[balance.store_id], lot, lot.product_id,
                {"product": products[lot.product_id], "lot": lot.number,
                 "expires_on": lot.expires_on.isoformat(), "on_hand": balance.on_hand})
    start = datetime.combine(day - timedelta(days=CONSUMPTION_DAYS - 1), datetime.min.time(),
                             _zone(pack))
    used: dict[tuple[int, int], int] = defaultdict(int)
    for store_id, product_id, total in session.execute(
            select(Entry.store_id, Lot.product_id, func.sum(Entry.quantity))
            .join(Lot, Lot.id == Entry.lot_id)
            .where(Entry.kind.in_((DOSE, WASTAGE, ISSUE)), Entry.occurred_at >= start)
            .group_by(Entry.store_id, Lot.product_id)):
        used[(store_id, product_id)] = -int(total or 0)
    for (store_id, product_id), n in sorted(used.items()):
        if n <= 0:
            continue
        on = held.get((store_id, product_id), 0)
        left = rules.days_of_stock(on, n, CONSUMPTION_DAYS)
        figures = {"product": products[product_id], "on_hand": on, "used": n,
                   "days_of_stock": left}
        if on <= 0:
            add("stock_out", stores[store_id], None, product_id, figures)
        elif left is not None and left < facts.min_days_of_stock:
            add("low_stock", stores[store_id], None, product_id, figures)
    session.commit()
    for alert in raised:
        metrics.STOCK_ALERTS.labels(kind=alert.kind).inc()
    return raised


def _message_of(kind: str, details: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The message template of an alert and its parameters (from the alert's details)."""
    if kind == "near_expiry":
        return "stock_near_expiry", {"lot": details["lot"], "vaccine": details["product"],
                                     "date": details["expires_on"],
                                     "doses": details["on_hand"]}
    if kind == "stock_out":
        return "stock_out", {"vaccine": details["product"], "used": details["used"]}
    return "stock_low", {"vaccine": details["product"], "doses": details["on_hand"],
                         "days": details["days_of_stock"]}


def recent_alerts(session: Session, actor: StaffUser | None, *, since: date,
                  limit: int = 200) -> list[tuple[Alert, str]]:
    """Alerts since ``since`` at the stores the actor may read, newest first, with the
    store's code."""
    _check_somewhere(actor, READ)
    allowed = _readable_stores(session, actor)
    query = (select(Alert, Store.code).join(Store, Store.id == Alert.store_id)
             .where(Alert.day >= since).order_by(Alert.day.desc(), Alert.id.desc())
             .limit(limit))
    if allowed is not None:
        query = query.where(Alert.store_id.in_([s.id for s in allowed] or [-1]))
    return [(alert, code) for alert, code in session.execute(query)]
