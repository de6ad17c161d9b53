"""The draw every recorded dose makes on its lot at its facility (called by the
dose-recording services in their transaction), its reversal or move when a dose is voided
or corrected, imported doses, and open vials closed under each product's policy."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timezone
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import RuleViolation
from cowin_kit.core.i18n import gettext as _
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser
from cowin_kit.stock import rules
from cowin_kit.stock.base import store_place
from cowin_kit.stock.base import (
    MANAGE, StockWarning, _actor_name, _check, _zone, facility_store, local_day, policy_of,
    scope_of, store_by_code,
)
from cowin_kit.stock.ledger import _balance_row, _post
from cowin_kit.stock.lots import _lot_refused, find_lot
from cowin_kit.stock.models import DOSE, WASTAGE, Entry, Lot, OpenVial, Store


# --- doses draw on their lot ---------------------------------------------------------------

def check_lot(session: Session, *, product_id: int, product_code: str, number: str,
              day: date, field: str = "lot") -> Lot | None:
    """The registered lot a dose of ``product_id`` given on ``day`` names, or None when
    it is not in the register; RuleViolation ``lot_recalled``, ``lot_expired`` or
    ``lot_vvm_discard`` when it may not be given. Writes nothing."""
    lot = find_lot(session, product_id, number)
    if lot is None:
        return None
    refusal = rules.lot_refusal(expires_on=lot.expires_on, status=lot.status,
                                vvm_stage=lot.vvm_stage, day=day)
    if refusal is not None:
        error = _lot_refused(refusal, lot, product_code)
        if field != "lot":
            error.fields = {field: error.fields["lot"]}
        raise error
    return lot


def _close_vial(session: Session, vial: OpenVial, moment: datetime, reason: str,
                actor: str) -> None:
    vial.closed_at, vial.close_reason = moment, reason
    if reason == "discarded" and vial.doses_left > 0:
        _post(session, vial.store_id, vial.lot_id, WASTAGE, -vial.doses_left,
              occurred_at=moment, actor=actor, reason="open vial")


def draw(session: Session, pack: ActivePack | None, *, lot: Lot | None, product_id: int,
         product_code: str, facility_id: int | None, moment: datetime,
         dose_id: int | None, actor: str) -> list[StockWarning]:
    """One dose of ``lot`` given at the facility at ``moment``: a ``dose`` entry (-1) at the
    facility's store, from an open vial of the lot still usable under the product's
    open-vial policy, or from a newly opened one (the vials past their policy are
    discarded first: their doses left are ``wastage``). Runs in the caller's transaction,
    the (store, lot) balance row locked, so parallel doses of one lot queue on it.
    Warnings: the facility held none of the lot (``lot_not_held``: the dose is recorded
    and the balance goes below zero until the receipt is entered), or the lot is not in
    the register while others of the product are (``lot_not_registered``)."""
    warnings: list[StockWarning] = []
    if lot is None:
        if session.scalar(select(Lot.id).where(Lot.product_id == product_id).limit(1)):
            warnings.append(StockWarning("lot_not_registered", _(
                "This lot of %(vaccine)s is not in the lot register: check the number on "
                "the vial.", vaccine=product_code)))
        return warnings
    if facility_id is None:
        return warnings
    store = facility_store(session, pack, facility_id)
    balance = _balance_row(session, store.id, lot.id)
    if balance.on_hand <= 0:
        warnings.append(StockWarning("lot_not_held", _(
            "The facility's stock holds none of lot %(lot)s of %(vaccine)s: record its "
            "receipt.", lot=lot.number, vaccine=product_code)))
    policy = policy_of(session, pack, lot)
    day = local_day(pack, moment)
    if policy.doses_per_vial > 1:
        vials = list(session.scalars(select(OpenVial).where(
            OpenVial.store_id == store.id, OpenVial.lot_id == lot.id,
            OpenVial.closed_at.is_(None)).order_by(OpenVial.opened_at, OpenVial.id)
            .execution_options(populate_existing=True)))
        current = None
        for vial in vials:
            if rules.vial_usable(policy, opened_at=vial.opened_at, opened_on=vial.opened_on,
                                 now=moment, day=day):
                current = current or vial   # the oldest usable vial is used first
            elif vial.opened_at <= moment:
                _close_vial(session, vial, moment, "discarded", actor)
        if current is None:
            current = OpenVial(store_id=store.id, lot_id=lot.id, opened_at=moment,
                               opened_on=day, doses_left=policy.doses_per_vial)
            session.add(current)
        current.doses_left -= 1
        if current.doses_left <= 0:
            current.closed_at, current.close_reason = moment, "used"
    _post(session, store.id, lot.id, DOSE, -1, occurred_at=moment, actor=actor,
          dose_id=dose_id)
    session.flush()
    return warnings


def registered_lots(session: Session, pairs: Iterable[tuple[int, str]]
                    ) -> dict[tuple[int, str], Lot]:
    """The registered lots of (product id, lot number) pairs, by (product id, lot key)."""
    wanted = {(product_id, rules.lot_key(number)) for product_id, number in pairs}
    found: dict[tuple[int, str], Lot] = {}
    keys = sorted({key for _p, key in wanted})
    for start in range(0, len(keys), 1000):
        for lot in session.scalars(select(Lot).where(Lot.number_key.in_(keys[start:start + 1000]))):
            if (lot.product_id, lot.number_key) in wanted:
                found[(lot.product_id, lot.number_key)] = lot
    return found


def imported_lot_problem(lot: Lot, day: date) -> str | None:
    """Why an imported (historical) dose of ``lot`` given on ``day`` is refused: only a lot
    already expired that day. A recalled lot is accepted (the dose was given; the recall
    lists its recipients)."""
    if day > lot.expires_on:
        return _("lot %(lot)s expired on %(date)s", lot=lot.number,
                 date=lot.expires_on.isoformat())
    return None


def draw_imported(session: Session, pack: ActivePack | None,
                  items: Iterable[tuple[int, int, date]], actor: str) -> int:
    """Imported doses of registered lots given at kit facilities: ``items`` are
    (facility id, lot id, day); one ``dose`` entry per facility, lot and day (-n) at the
    facility's store. History has no vials: no open-vial wastage is derived. Runs in the
    caller's transaction; the number of entries."""
    groups: dict[tuple[int, int, date], int] = defaultdict(int)
    for facility_id, lot_id, day in items:
        groups[(facility_id, lot_id, day)] += 1
    zone = _zone(pack)
    stores: dict[int, Store] = {}
    for (facility_id, lot_id, day), n in sorted(groups.items()):
        store = stores.get(facility_id) or facility_store(session, pack, facility_id)
        stores[facility_id] = store
        _balance_row(session, store.id, lot_id)
        _post(session, store.id, lot_id, DOSE, -n, reason="import", actor=actor,
              occurred_at=datetime.combine(day, datetime.min.time(), zone))
    session.flush()
    return len(groups)


def close_vials(session: Session, pack: ActivePack | None, now: datetime | None = None, *,
                store: str | None = None, actor: StaffUser | None = None,
                end_of_session: bool = False) -> int:
    """Discard the open vials past their policy (a session-end product's vials of an
    earlier day, a 28-day product's after its days), their doses left entered as
    wastage; with ``end_of_session`` (the vaccinator closes the day's session at
    ``store``) every open vial of a session-end product there too. The number of vials
    discarded. Commits."""
    now = now or datetime.now(timezone.utc)
    day = local_day(pack, now)
    # in the order of (store, lot): the order in which doses lock the balance rows, so
    # the worker never waits on a visit that waits on it
    query = (select(OpenVial).where(OpenVial.closed_at.is_(None))
             .order_by(OpenVial.store_id, OpenVial.lot_id, OpenVial.id))
    target = None
    if store is not None:
        target = store_by_code(session, pack, store)
        if actor is not None and not access.can(actor, "dose.record",
                                                scope_of(session, target)):
            _check(session, actor, MANAGE, target)
        query = query.where(OpenVial.store_id == target.id)
    closed = 0
    name = _actor_name(actor)
    for vial in session.scalars(query).all():
        lot = session.get(Lot, vial.lot_id)
        policy = policy_of(session, pack, lot)
        usable = rules.vial_usable(policy, opened_at=vial.opened_at, opened_on=vial.opened_on,
                                   now=now, day=day)
        session_end = policy.discard_at_session_end or not policy.open_vial_days
        if not usable or (end_of_session and session_end):
            # the lot's balance row locked first, then the vial read again: a dose drawn
            # from it meanwhile is counted, never wasted as well
            _balance_row(session, vial.store_id, vial.lot_id)
            session.refresh(vial)
            if vial.closed_at is not None:
                continue
            _close_vial(session, vial, now, "discarded", name)
            closed += 1
    if closed:
        audit.record(session, "stock.vials.close", "stock_store",
                     target.code if target else "*",
                     place=store_place(session, target) if target else audit.NATIONAL,
                     vials=closed)
    session.commit()
    return closed


# --- a dose voided or corrected ------------------------------------------------------------

def reverse_draw(session: Session, *, dose_id: int, actor: str, reason: str,
                 moment: datetime | None = None) -> int:
    """Give back what a dose drew (a dose voided as recorded in error, a merge's second
    copy of a dose, a corrected dose whose lot, vaccine or facility changed): for each
    (store, lot) the dose's ``dose`` entries still hold, an opposite ``dose`` entry
    (+n) at ``moment`` (now), with the reason and the dose linked, the balance row locked
    first. The dose's open vial is left as it is (a physical count settles a vial that
    was not in fact opened). Runs in the caller's transaction; the doses given back."""
    moment = moment or datetime.now(timezone.utc)
    returned = 0
    rows = session.execute(
        select(Entry.store_id, Entry.lot_id, func.sum(Entry.quantity))
        .where(Entry.dose_id == dose_id, Entry.kind == DOSE)
        .group_by(Entry.store_id, Entry.lot_id).order_by(Entry.store_id, Entry.lot_id)).all()
    for store_id, lot_id, total in rows:
        if int(total or 0) >= 0:
            continue
        _balance_row(session, store_id, lot_id)
        _post(session, store_id, lot_id, DOSE, -int(total), occurred_at=moment, actor=actor,
              reason=reason, dose_id=dose_id)
        returned += -int(total)
    if returned:
        audit.record(session, "stock.draw_reversed", "dose", dose_id,
                     place=store_place(session, session.get(Store, rows[0][0])),
                     doses=returned, reason=reason)
    session.flush()
    return returned


def redraw(session: Session, pack: ActivePack | None, *, dose_id: int, product_id: int,
           lot_number: str | None, facility_id: int | None, actor: str, reason: str,
           moment: datetime | None = None) -> int:
    """Draw a dose again on the lot and facility it now names (a corrected dose after
    :func:`reverse_draw`, a dose set aside by a merge put back when the merge is undone):
    one ``dose`` entry (-1) at the facility's store, when the lot is in the register and
    the dose has a facility; no vial is opened (the dose was given in the past). Runs in
    the caller's transaction; the doses drawn (0 or 1)."""
    if facility_id is None or not lot_number:
        return 0
    lot = find_lot(session, product_id, lot_number)
    if lot is None:
        return 0
    store = facility_store(session, pack, facility_id)
    _balance_row(session, store.id, lot.id)
    _post(session, store.id, lot.id, DOSE, -1, actor=actor, reason=reason, dose_id=dose_id,
          occurred_at=moment or datetime.now(timezone.utc))
    audit.record(session, "stock.draw_moved", "dose", dose_id,
                 place=store_place(session, store), store=store.code,
                 lot=lot.number, reason=reason)
    session.flush()
    return 1
