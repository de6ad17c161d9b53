"""What the stock use cases share: the pack's stock settings and local day, products and
their open-vial policies, the stores (national, each place of the hierarchy, each
facility) and the access check on a store."""

from __future__ import annotations

import logging
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cowin_kit import notifications
from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.durations import parse as parse_duration
from cowin_kit.core.errors import NotFound
from cowin_kit.core.i18n import gettext as _, lazy_gettext
from cowin_kit.geography.models import Facility, Location
from cowin_kit.geography.places import facility_place
from cowin_kit.identity import access
from cowin_kit.identity import services as identity
from cowin_kit.identity.models import StaffUser
from cowin_kit.programme import catalogue
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.stock import rules
from cowin_kit.stock.models import STORE_AREA, STORE_FACILITY, STORE_NATIONAL, Lot, Store


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


def _check_somewhere(actor: StaffUser | None, action: str) -> None:
    """The actor holds ``action`` on some part of the hierarchy (lists they then see only
    their part of)."""
    if actor is not None:
        access.check_access(actor, action, None, message=_("You may not see stock there."))


def _readable_stores(session: Session, actor: StaffUser | None) -> list[Store] | None:
    """The stores the actor may read (None: all)."""
    if actor is None or access.can(actor, READ, access.COUNTRY):
        return None
    return [s for s in session.scalars(select(Store).order_by(Store.id))
            if access.can(actor, READ, scope_of(session, s))]


# --- messages to the staff of a store's place ----------------------------------------------

def _store_name(session: Session, store: Store, locale: str) -> Any:
    if store.facility_id is not None:
        facility = session.get(Facility, store.facility_id)
        return facility.names.get(locale) or facility.name
    if store.location_id is not None:
        location = session.get(Location, store.location_id)
        return location.names.get(locale) or location.name
    return lazy_gettext("the national store")


def message_store_staff(session: Session, pack: ActivePack | None, store: Store,
                        template: str, *, known: dict[int, list[StaffUser]] | None = None,
                        **params: Any) -> int:
    """Queue ``template`` (cowin_kit.notifications.TEMPLATES, in the pack's default
    language) to the mobile of each of the nearest staff holding ``stock.manage`` where the
    store is (identity.services.alert_recipients; ``known``: those already found, by
    store id, for a caller messaging many stores). Runs in the caller's transaction, so
    the messages are sent once, with the alert or recall that caused them; the number of
    messages."""
    locale = pack.default_locale if pack is not None else "en"
    known = {} if known is None else known
    if store.id not in known:
        known[store.id] = identity.alert_recipients(session, MANAGE, scope_of(session, store))
    recipients = known[store.id]
    for user in recipients:
        notifications.queue(session, user.mobile, template, locale,
                            store=_store_name(session, store, locale), **params)
    return len(recipients)


def store_place(session: Session, store: Any) -> audit.Place:
    """A store's place in the audit trail: its facility's, else the area it serves (a
    district store), else none (the national store)."""
    if store.facility_id is not None:
        return facility_place(session, store.facility_id)
    return audit.at(store.location_id)
