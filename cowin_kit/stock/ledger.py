"""The stock ledger: receipts, issues and transfers between stores, adjustments with a
reason and physical counts, each an entry with the balance of its (store, lot) moved in
the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import InvalidInput, RuleViolation
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.identity.models import StaffUser
from cowin_kit.stock import rules
from cowin_kit.stock.base import store_place
from cowin_kit.stock.base import (
    MANAGE, local_day, _actor_name, _check, _upsert_ignore, store_by_code,
)
from cowin_kit.stock.lots import _lot_refused, lot_by_code
from cowin_kit.stock.models import (
    ADJUSTMENT, COUNT, ISSUE, RECEIPT, TRANSFER_IN, WASTAGE, Balance, Entry, Lot, Store,
)


# --- the ledger ----------------------------------------------------------------------------

def _balance_row(session: Session, store_id: int, lot_id: int, lock: bool = True) -> Balance:
    """The balance row of (store, lot), made if missing, locked FOR UPDATE (PostgreSQL):
    every change of one lot's stock at one store waits for the one before it."""
    query = (select(Balance).where(Balance.store_id == store_id, Balance.lot_id == lot_id)
             .execution_options(populate_existing=True))
    if lock:
        query = query.with_for_update()
    found = session.scalars(query).first()
    if found is None:
        _upsert_ignore(session, Balance, {"store_id": store_id, "lot_id": lot_id, "on_hand": 0,
                                          "updated_at": datetime.now(timezone.utc)},
                       ["store_id", "lot_id"])
        found = session.scalars(query).one()
    return found


def _post(session: Session, store_id: int, lot_id: int, kind: str, quantity: int, *,
          occurred_at: datetime, actor: str, reason: str = "", other_store_id: int | None = None,
          dose_id: int | None = None) -> None:
    """One ledger entry and the balance moved with it (the caller holds the row lock)."""
    session.add(Entry(store_id=store_id, lot_id=lot_id, kind=kind, quantity=quantity,
                      other_store_id=other_store_id, dose_id=dose_id, reason=reason[:200],
                      occurred_at=occurred_at, actor=actor[:150]))
    session.execute(update(Balance).where(Balance.store_id == store_id, Balance.lot_id == lot_id)
                    .values(on_hand=Balance.on_hand + quantity,
                            updated_at=datetime.now(timezone.utc))
                    .execution_options(synchronize_session=False))


def _quantity(value: Any, *, allow_negative: bool = False) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number == 0 or (number < 0 and not allow_negative) or abs(number) > 10_000_000:
        message = _("Give a number of doses.")
        raise InvalidInput(message, code="invalid_quantity", fields={"quantity": [message]})
    return number


def _moment(value: datetime | None) -> datetime:
    now = datetime.now(timezone.utc)
    moment = value or now
    if moment.tzinfo is None:
        raise InvalidInput(_("Give the time with its UTC offset."), code="invalid_time")
    if moment > now + timedelta(minutes=5):
        raise InvalidInput(_("A stock movement cannot be in the future."), code="invalid_time")
    return moment


@dataclass(frozen=True)
class Movement:
    """What a ledger service did: the store, lot, kind, quantity and the new on-hand."""
    store: str
    product: str
    lot: str
    kind: str
    quantity: int
    on_hand: int


def _movement(session: Session, store: Store, lot: Lot, product: str, kind: str,
              quantity: int) -> Movement:
    on_hand = session.scalar(select(Balance.on_hand).where(Balance.store_id == store.id,
                                                           Balance.lot_id == lot.id))
    return Movement(store.code, product, lot.number, kind, quantity, on_hand or 0)


def receive(session: Session, pack: ActivePack | None, actor: StaffUser | None, *,
            store: str, product_code: str, number: str, quantity: int,
            occurred_at: datetime | None = None, reason: str = "") -> Movement:
    """Doses of a registered lot received from outside the kit (a manufacturer's
    shipment at the national store, a donation). Commits."""
    target = store_by_code(session, pack, store)
    _check(session, actor, MANAGE, target)
    lot = lot_by_code(session, pack, product_code, number)
    quantity = _quantity(quantity)
    moment = _moment(occurred_at)
    _balance_row(session, target.id, lot.id)
    _post(session, target.id, lot.id, RECEIPT, quantity, occurred_at=moment,
          actor=_actor_name(actor), reason=reason)
    audit.record(session, "stock.receive", "stock_store", target.code,
                 place=store_place(session, target), vaccine=product_code,
                 lot=lot.number, quantity=quantity)
    session.flush()
    result = _movement(session, target, lot, product_code, RECEIPT, quantity)
    session.commit()
    return result


def transfer(session: Session, pack: ActivePack | None, actor: StaffUser | None, *,
             from_store: str, to_store: str, product_code: str, number: str, quantity: int,
             occurred_at: datetime | None = None) -> Movement:
    """Issue doses from one store to another (down the hierarchy, or between facilities):
    an ``issue`` at the source and a ``transfer_in`` at the destination, in one
    transaction. Refused (``insufficient_stock``) beyond what the source holds; a
    recalled or expired lot is not sent (``lot_recalled``, ``lot_expired``). Commits."""
    source = store_by_code(session, pack, from_store)
    target = store_by_code(session, pack, to_store)
    _check(session, actor, MANAGE, source)
    if source.id == target.id:
        message = _("Choose another store to send to.")
        raise InvalidInput(message, code="same_store", fields={"to_store": [message]})
    lot = lot_by_code(session, pack, product_code, number)
    quantity = _quantity(quantity)
    moment = _moment(occurred_at)
    refusal = rules.lot_refusal(expires_on=lot.expires_on, status=lot.status,
                                vvm_stage=lot.vvm_stage, day=local_day(pack, moment))
    if refusal is not None:
        raise _lot_refused(refusal, lot, product_code)
    # both rows locked in the order of their ids: two opposite transfers never deadlock
    for store_id in sorted((source.id, target.id)):
        _balance_row(session, store_id, lot.id)
    held = session.scalar(select(Balance.on_hand).where(Balance.store_id == source.id,
                                                        Balance.lot_id == lot.id))
    if held < quantity:
        raise RuleViolation(ngettext("The store holds %(num)d dose of this lot: fewer than "
                                     "the doses to send.",
                                     "The store holds %(num)d doses of this lot: fewer than "
                                     "the doses to send.", held), code="insufficient_stock",
                            fields={"quantity": [_("Too many doses.")]})
    name = _actor_name(actor)
    _post(session, source.id, lot.id, ISSUE, -quantity, occurred_at=moment, actor=name,
          other_store_id=target.id)
    _post(session, target.id, lot.id, TRANSFER_IN, quantity, occurred_at=moment, actor=name,
          other_store_id=source.id)
    audit.record(session, "stock.transfer", "stock_store", source.code,
                 place=store_place(session, source), to=target.code,
                 vaccine=product_code, lot=lot.number, quantity=quantity)
    session.flush()
    result = _movement(session, source, lot, product_code, ISSUE, -quantity)
    session.commit()
    return result


def adjust(session: Session, pack: ActivePack | None, actor: StaffUser | None, *,
           store: str, product_code: str, number: str, quantity: int, reason: str,
           occurred_at: datetime | None = None) -> Movement:
    """Change a store's stock with a reason: doses wasted (``damaged``, ``expired``,
    ``vvm``, ``frozen``, ``recalled``: negative, counted as wastage) or a record put right
    (``found``, ``lost``, ``correction``). Commits."""
    target = store_by_code(session, pack, store)
    _check(session, actor, MANAGE, target)
    lot = lot_by_code(session, pack, product_code, number)
    quantity = _quantity(quantity, allow_negative=True)
    if reason not in rules.ADJUSTMENT_REASONS:
        message = _("Choose a reason: %(reasons)s.", reasons=", ".join(rules.ADJUSTMENT_REASONS))
        raise InvalidInput(message, code="invalid_reason", fields={"reason": [message]})
    kind = WASTAGE if reason in rules.WASTAGE_REASONS else ADJUSTMENT
    if kind == WASTAGE and quantity > 0:
        message = _("Doses wasted are taken away: give a negative number.")
        raise InvalidInput(message, code="invalid_quantity", fields={"quantity": [message]})
    moment = _moment(occurred_at)
    _balance_row(session, target.id, lot.id)
    _post(session, target.id, lot.id, kind, quantity, occurred_at=moment,
          actor=_actor_name(actor), reason=reason)
    audit.record(session, "stock.adjust", "stock_store", target.code,
                 place=store_place(session, target), vaccine=product_code,
                 lot=lot.number, quantity=quantity, reason=reason)
    session.flush()
    result = _movement(session, target, lot, product_code, kind, quantity)
    session.commit()
    return result


def physical_count(session: Session, pack: ActivePack | None, actor: StaffUser | None, *,
                   store: str, product_code: str, number: str, on_hand: int,
                   occurred_at: datetime | None = None) -> Movement:
    """A physical count: the store holds ``on_hand`` doses of the lot; the difference from
    the ledger is entered as a ``count`` entry (nothing when they agree). Commits."""
    target = store_by_code(session, pack, store)
    _check(session, actor, MANAGE, target)
    lot = lot_by_code(session, pack, product_code, number)
    try:
        counted = int(on_hand)
    except (TypeError, ValueError):
        counted = -1
    if not 0 <= counted <= 10_000_000:
        message = _("Give the number of doses counted.")
        raise InvalidInput(message, code="invalid_quantity", fields={"on_hand": [message]})
    moment = _moment(occurred_at)
    row = _balance_row(session, target.id, lot.id)
    difference = counted - row.on_hand
    if difference:
        _post(session, target.id, lot.id, COUNT, difference, occurred_at=moment,
              actor=_actor_name(actor), reason="physical count")
    audit.record(session, "stock.count", "stock_store", target.code,
                 place=store_place(session, target), vaccine=product_code,
                 lot=lot.number, on_hand=counted, difference=difference)
    session.flush()
    result = _movement(session, target, lot, product_code, COUNT, difference)
    session.commit()
    return result
