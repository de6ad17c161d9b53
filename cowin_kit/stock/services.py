"""Stock use cases: the lot register, stores, the ledger (receipts, issues and transfers,
adjustments, physical counts), the draw each recorded dose makes on its lot, open vials and
wastage, recalls and their recipients, alerts and the dashboard's figures.

The dose-recording services (vaccination.services.record_dose, vaccination.visits
.record_visit, immunization.campaigns.record_campaign_dose, vaccination.imports) call
:func:`check_lot` before they write anything and :func:`draw` (or :func:`draw_imported`)
after the dose row, in their own transaction: these functions write, they never commit.
The other services here own their transaction (they commit).

Actors: a StaffUser (checked with ``stock.manage`` / ``stock.read`` on the store's part of
the hierarchy) or None for the command line and the worker (the whole country)."""

from __future__ import annotations

import logging
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core import metrics
from cowin_kit.core.durations import parse as parse_duration
from cowin_kit.core.errors import InvalidInput, NotFound, RuleViolation
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.geography.models import Facility, Location
from cowin_kit.geography.places import facility_place
from cowin_kit.geography.tree import place_paths
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser
from cowin_kit.programme import catalogue
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import Beneficiary, CitizenAccount, Dose
from cowin_kit.stock import rules
from cowin_kit.stock.models import (
    ADJUSTMENT, COUNT, DOSE, ISSUE, LOT_ACTIVE, LOT_RECALLED, RECEIPT, STORE_AREA,
    STORE_FACILITY, STORE_NATIONAL, TRANSFER_IN, WASTAGE, Alert, Balance, Entry, Lot,
    OpenVial, Store,
)

log = logging.getLogger("cowin_kit.stock")

MANAGE, READ = "stock.manage", "stock.read"
DEFAULT_NEAR_EXPIRY_DAYS = 30
DEFAULT_MIN_DAYS_OF_STOCK = 7
CONSUMPTION_DAYS = 28   # the period days of stock and wastage rates are computed over


@dataclass(frozen=True)
class StockWarning:
    """Something the vaccinator should know, the dose being recorded all the same."""
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class StockSettings:
    """pack.yaml ``stock:`` with its defaults."""
    near_expiry_days: int = DEFAULT_NEAR_EXPIRY_DAYS
    min_days_of_stock: int = DEFAULT_MIN_DAYS_OF_STOCK


def _store_place(session: Session, store: Any) -> audit.Place:
    """A store's place: its facility's, else the area it serves (a district store)."""
    if store.facility_id is not None:
        return facility_place(session, store.facility_id)
    return audit.at(store.location_id)


def settings(pack: ActivePack | None) -> StockSettings:
    section = (pack.document.get("stock") if pack is not None else None) or {}
    near = section.get("near_expiry")
    return StockSettings(
        parse_duration(near).approx_days() if near is not None else DEFAULT_NEAR_EXPIRY_DAYS,
        int(section.get("min_days_of_stock") or DEFAULT_MIN_DAYS_OF_STOCK))


def _zone(pack: ActivePack | None) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(pack.document["timezone"] if pack is not None else "UTC")


def local_day(pack: ActivePack | None, moment: datetime) -> date:
    return moment.astimezone(_zone(pack)).date()


def _actor_name(actor: StaffUser | None) -> str:
    return actor.username if actor is not None else audit.current_actor().id or "system"


# --- products ------------------------------------------------------------------------------

def product_by_code(session: Session, pack: ActivePack | None, code: str) -> VaccineProduct:
    for product in catalogue.products(session, pack):
        if product.code == code:
            return product
    found = session.scalars(select(VaccineProduct).where(VaccineProduct.code == code)).first()
    if found is None:
        message = _("No vaccine with code %(code)s.", code=code)
        raise NotFound(message, code="vaccine_not_found", fields={"product": [message]})
    return found


def _product_by_id(session: Session, pack: ActivePack | None, product_id: int
                   ) -> VaccineProduct:
    for product in catalogue.products(session, pack):
        if product.id == product_id:
            return product
    return session.get(VaccineProduct, product_id)


def policy_of(session: Session, pack: ActivePack | None, lot: Lot) -> rules.VialPolicy:
    product = _product_by_id(session, pack, lot.product_id)
    return rules.VialPolicy.of(getattr(product, "stock", None), lot.doses_per_vial)


# --- stores --------------------------------------------------------------------------------

def _upsert_ignore(session: Session, model: Any, values: dict[str, Any],
                   keys: list[str]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: a row another transaction adds meanwhile is
    simply there afterwards (no IntegrityError ends this transaction)."""
    dialect = session.get_bind().dialect.name
    maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(maker(model).values(**values).on_conflict_do_nothing(index_elements=keys))


def _store(session: Session, code: str, values: dict[str, Any]) -> Store:
    found = session.scalars(select(Store).where(Store.code == code)).first()
    if found is not None:
        return found
    _upsert_ignore(session, Store, {"code": code, "created_at": datetime.now(timezone.utc),
                                    **values}, ["code"])
    return session.scalars(select(Store).where(Store.code == code)).one()


def national_store(session: Session) -> Store:
    return _store(session, "national", {"kind": STORE_NATIONAL, "level": "national",
                                        "location_id": None, "facility_id": None,
                                        "parent_id": None})


def _level_key(pack: ActivePack | None, level: int) -> str:
    levels = (pack.document.get("hierarchy") or []) if pack is not None else []
    if 1 <= level <= len(levels):
        return levels[level - 1]["key"]
    return f"level{level}"


def location_store(session: Session, pack: ActivePack | None, location: Location) -> Store:
    """The store of a place of the hierarchy (made, with those above it, on first use)."""
    code = rules.store_code(STORE_AREA, location.code)
    found = session.scalars(select(Store).where(Store.code == code)).first()
    if found is not None:
        return found
    parent = (location_store(session, pack, session.get(Location, location.parent_id))
              if location.parent_id is not None else national_store(session))
    return _store(session, code, {"kind": STORE_AREA, "level": _level_key(pack, location.level),
                                  "location_id": location.id, "facility_id": None,
                                  "parent_id": parent.id})


def facility_store(session: Session, pack: ActivePack | None, facility_id: int) -> Store:
    """The facility's store (made, with the stores above it, on first use)."""
    found = session.scalars(select(Store).where(Store.facility_id == facility_id)).first()
    if found is not None:
        return found
    facility = session.get(Facility, facility_id)
    parent = location_store(session, pack, session.get(Location, facility.location_id))
    return _store(session, rules.store_code(STORE_FACILITY, facility.code),
                  {"kind": STORE_FACILITY, "level": "facility",
                   "location_id": facility.location_id, "facility_id": facility.id,
                   "parent_id": parent.id})


def store_by_code(session: Session, pack: ActivePack | None, code: str) -> Store:
    """The store named ``national``, ``area:<location code>`` or ``facility:<code>``
    (made on first use); NotFound ``store_not_found``."""
    try:
        kind, ref = rules.parse_store_code(code)
    except ValueError:
        ref, kind = None, None
    if kind == STORE_NATIONAL:
        return national_store(session)
    if kind == STORE_AREA:
        location = session.scalars(select(Location).where(Location.code == ref)).first()
        if location is not None:
            return location_store(session, pack, location)
    if kind == STORE_FACILITY:
        facility_id = session.scalar(select(Facility.id).where(Facility.code == ref))
        if facility_id is not None:
            return facility_store(session, pack, facility_id)
    message = _("No store %(code)s (use national, area:CODE or facility:CODE).", code=code)
    raise NotFound(message, code="store_not_found", fields={"store": [message]})


def scope_of(session: Session, store: Store) -> access.Scope:
    if store.facility_id is not None:
        return access.scope_for_facility(session, store.facility_id)
    if store.location_id is not None:
        return access.scope_for_location(session, store.location_id)
    return access.COUNTRY


def _check(session: Session, actor: StaffUser | None, action: str, store: Store | None
           ) -> None:
    if actor is None:
        return
    access.check_access(actor, action, scope_of(session, store) if store else access.COUNTRY,
                        message=_("You may not manage stock there.") if action == MANAGE
                        else _("You may not see stock there."))


# --- lots ----------------------------------------------------------------------------------

def find_lot(session: Session, product_id: int, number: str) -> Lot | None:
    return session.scalars(select(Lot).where(Lot.product_id == product_id,
                                             Lot.number_key == rules.lot_key(number))).first()


def lot_by_code(session: Session, pack: ActivePack | None, product_code: str,
                number: str) -> Lot:
    product = product_by_code(session, pack, product_code)
    lot = find_lot(session, product.id, number)
    if lot is None:
        message = _("No lot %(lot)s of %(vaccine)s in the register.",
                    lot=rules.normalise_lot(number), vaccine=product.code)
        raise NotFound(message, code="lot_not_found", fields={"lot": [message]})
    return lot


@dataclass(frozen=True)
class LotFacts:
    product: str
    number: str
    expires_on: date
    manufacturer: str | None = None
    doses_per_vial: int | None = None
    vvm_stage: int | None = None


def check_lot_facts(session: Session, pack: ActivePack | None, facts: LotFacts
                    ) -> tuple[VaccineProduct, dict[str, Any]]:
    """The product and the column values of a lot's facts; InvalidInput otherwise."""
    product = product_by_code(session, pack, facts.product)
    number = rules.normalise_lot(facts.number)
    problems: dict[str, list[str]] = {}
    if not 1 <= len(number) <= 64:
        problems["lot"] = [_("Give the lot (batch) number.")]
    per_vial = facts.doses_per_vial or rules.VialPolicy.of(
        getattr(product, "stock", None)).doses_per_vial
    if not 1 <= per_vial <= 100:
        problems["doses_per_vial"] = [_("must be a whole number from %(low)d to %(high)d",
                                        low=1, high=100)]
    if facts.vvm_stage is not None and facts.vvm_stage not in (1, 2, 3, 4):
        problems["vvm_stage"] = [_("must be a whole number from %(low)d to %(high)d",
                                   low=1, high=4)]
    if problems:
        raise InvalidInput(next(iter(problems.values()))[0], code="invalid_lot",
                           fields=problems)
    return product, {"number": number, "number_key": rules.lot_key(number),
                     "manufacturer": (facts.manufacturer or product.manufacturer)[:200],
                     "expires_on": facts.expires_on, "doses_per_vial": per_vial,
                     "vvm_stage": facts.vvm_stage}


def register_lot(session: Session, pack: ActivePack | None, actor: StaffUser | None,
                 facts: LotFacts) -> tuple[Lot, bool]:
    """Add a lot to the register, or update its facts (expiry, doses per vial, VVM);
    (the lot, whether it is new). ``stock.manage`` nationally. Commits."""
    _check(session, actor, MANAGE, None)
    product, values = check_lot_facts(session, pack, facts)
    lot = find_lot(session, product.id, values["number"])
    created = lot is None
    if created:
        lot = Lot(product_id=product.id, status=LOT_ACTIVE, **values)
        session.add(lot)
    else:
        for key, value in values.items():
            setattr(lot, key, value)
    session.flush()
    audit.record(session, "stock.lot.register" if created else "stock.lot.update",
                 "stock_lot", lot.id, place=audit.NATIONAL, vaccine=product.code, lot=lot.number,
                 expires_on=lot.expires_on.isoformat(), doses_per_vial=lot.doses_per_vial,
                 vvm_stage=lot.vvm_stage)
    session.commit()
    return lot, created


def _check_somewhere(actor: StaffUser | None, action: str) -> None:
    """The actor holds ``action`` on some part of the hierarchy (lists they then see only
    their part of)."""
    if actor is not None:
        access.check_access(actor, action, None, message=_("You may not see stock there."))


def list_lots(session: Session, actor: StaffUser | None, product_code: str | None = None
              ) -> list[tuple[Lot, VaccineProduct]]:
    """The lot register (every holder of ``stock.read`` somewhere may read it)."""
    _check_somewhere(actor, READ)
    query = (select(Lot, VaccineProduct).join(VaccineProduct, VaccineProduct.id == Lot.product_id)
             .order_by(VaccineProduct.code, Lot.expires_on, Lot.number))
    if product_code:
        query = query.where(VaccineProduct.code == product_code)
    return [(lot, product) for lot, product in session.execute(query)]


def set_vvm_stage(session: Session, pack: ActivePack | None, actor: StaffUser | None, *,
                  product_code: str, number: str, stage: int) -> Lot:
    """Record a lot's vaccine vial monitor stage (3 and 4: the lot may no longer be
    given). Commits."""
    _check(session, actor, MANAGE, None)
    lot = lot_by_code(session, pack, product_code, number)
    if stage not in (1, 2, 3, 4):
        message = _("must be a whole number from %(low)d to %(high)d", low=1, high=4)
        raise InvalidInput(message, code="invalid_vvm_stage", fields={"vvm_stage": [message]})
    lot.vvm_stage = stage
    audit.record(session, "stock.lot.vvm", "stock_lot", lot.id, place=audit.NATIONAL,
                 vvm_stage=stage)
    session.commit()
    return lot


def recall_lot(session: Session, pack: ActivePack | None, actor: StaffUser | None, *,
               product_code: str, number: str, reason: str) -> Lot:
    """Recall a lot: no further dose may be given from it (doses refuse it with
    ``lot_recalled``); its recipients are listed by :func:`lot_recipients`. Nationally,
    ``stock.manage``. Commits."""
    _check(session, actor, MANAGE, None)
    lot = lot_by_code(session, pack, product_code, number)
    reason = " ".join(str(reason or "").split())
    if not reason:
        message = _("Give the reason.")
        raise InvalidInput(message, code="reason_required", fields={"reason": [message]})
    if lot.status != LOT_RECALLED:
        lot.status = LOT_RECALLED
        lot.recalled_at = datetime.now(timezone.utc)
        lot.recall_reason = reason[:500]
        audit.record(session, "stock.lot.recall", "stock_lot", lot.id, place=audit.NATIONAL,
                     vaccine=product_code,
                     lot=lot.number, reason=lot.recall_reason)
        session.commit()
    return lot


@dataclass(frozen=True)
class Recipient:
    reference_id: str
    name: str
    birth_year: int
    mobile_masked: str
    dose_id: int
    series: str
    dose_number: int
    administered_at: datetime
    facility: str | None


RECIPIENT_COLUMNS = ("reference_id", "name", "birth_year", "mobile", "dose_id", "series",
                     "dose", "administered_at", "facility")


def lot_recipients(session: Session, pack: ActivePack | None, actor: StaffUser | None, *,
                   product_code: str, number: str) -> tuple[Lot, list[Recipient]]:
    """Every dose given from this lot (recorded, visits, campaigns, imports, field sync:
    the dose's product and lot number, as matched), with its recipient, oldest first.
    Nationally, ``stock.manage`` or ``aefi.read``."""
    if actor is not None and not access.can(actor, "aefi.read", access.COUNTRY):
        _check(session, actor, MANAGE, None)
    lot = lot_by_code(session, pack, product_code, number)
    rows = session.execute(
        select(Dose, Beneficiary.reference_id, Beneficiary.name, Beneficiary.birth_year,
               CitizenAccount.mobile, Facility.code)
        .join(Beneficiary, Beneficiary.id == Dose.beneficiary_id)
        .join(CitizenAccount, CitizenAccount.id == Beneficiary.account_id)
        .outerjoin(Facility, Facility.id == Dose.facility_id)
        .where(Dose.product_id == lot.product_id,
               func.upper(Dose.lot) == lot.number_key)
        .order_by(Dose.administered_at, Dose.id))
    out = [Recipient(reference_id, name, birth_year, "X" * max(len(mobile) - 4, 0) + mobile[-4:],
                     dose.id, dose.series, dose.dose_number, dose.administered_at, facility)
           for dose, reference_id, name, birth_year, mobile, facility in rows
           if rules.lot_key(dose.lot) == lot.number_key]
    audit.record(session, "stock.lot.recipients", "stock_lot", lot.id, place=audit.NATIONAL,
                 count=len(out))
    session.commit()
    return lot, out


def recipient_rows(recipients: Iterable[Recipient]) -> list[tuple[Any, ...]]:
    return [(r.reference_id, r.name, r.birth_year, r.mobile_masked, r.dose_id, r.series,
             r.dose_number, r.administered_at.isoformat(), r.facility or "")
            for r in recipients]


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
                 place=_store_place(session, target), vaccine=product_code,
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
                 place=_store_place(session, source), to=target.code,
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
                 place=_store_place(session, target), vaccine=product_code,
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
                 place=_store_place(session, target), vaccine=product_code,
                 lot=lot.number, on_hand=counted, difference=difference)
    session.flush()
    result = _movement(session, target, lot, product_code, COUNT, difference)
    session.commit()
    return result


# --- doses draw on their lot ---------------------------------------------------------------

def _lot_refused(code: str, lot: Lot, product_code: str) -> RuleViolation:
    if code == rules.LOT_RECALLED:
        message = _("Lot %(lot)s of %(vaccine)s is recalled: do not give it.",
                    lot=lot.number, vaccine=product_code)
    elif code == rules.LOT_EXPIRED:
        message = _("Lot %(lot)s of %(vaccine)s expired on %(date)s: do not give it.",
                    lot=lot.number, vaccine=product_code, date=lot.expires_on.isoformat())
    else:
        message = _("Lot %(lot)s of %(vaccine)s has passed its vial monitor's discard "
                    "point: do not give it.", lot=lot.number, vaccine=product_code)
    return RuleViolation(message, code=code, fields={"lot": [message]})


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
                     place=_store_place(session, target) if target else audit.NATIONAL,
                     vials=closed)
    session.commit()
    return closed


# --- what the stores hold, and the dashboard -----------------------------------------------

@dataclass(frozen=True)
class LotStock:
    store: str
    product: str
    lot: str
    expires_on: date
    status: str
    on_hand: int


def _readable_stores(session: Session, actor: StaffUser | None) -> list[Store] | None:
    """The stores the actor may read (None: all)."""
    if actor is None or access.can(actor, READ, access.COUNTRY):
        return None
    return [s for s in session.scalars(select(Store).order_by(Store.id))
            if access.can(actor, READ, scope_of(session, s))]


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


# --- alerts (the worker) -------------------------------------------------------------------

def raise_alerts(session: Session, pack: ActivePack | None, day: date) -> list[Alert]:
    """Near-expiry lots held at a store (expiring within the pack's ``stock.near_expiry``),
    stock-outs (a store that used a product in the last 28 days holds none of it) and low
    stock (fewer days of stock than ``stock.min_days_of_stock``), each raised once per
    store, lot or product and day: a row of ``stock_alert``, a log line (logger
    ``cowin_kit.stock``) and the ``cowin_kit_stock_alerts_total`` counter. Staff accounts
    carry no mobile number or e-mail, so no message is sent: the dashboard lists them.
    Commits; the alerts raised."""
    facts = settings(pack)
    raised: list[Alert] = []
    existing = set(session.scalars(select(Alert.key).where(Alert.day == day)))

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
