"""The lot register: lots loaded or registered, their vial monitor stage, recalls and the
people who received a recalled lot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import InvalidInput, NotFound, RuleViolation
from cowin_kit.core.i18n import gettext as _
from cowin_kit.geography.models import Facility
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import Beneficiary, CitizenAccount, Dose
from cowin_kit.stock import rules
from cowin_kit.stock.base import (
    MANAGE, READ, _check, _check_somewhere, message_store_staff, product_by_code,
)
from cowin_kit.stock.models import LOT_ACTIVE, LOT_RECALLED, Balance, Lot, Store


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
                 "stock_lot", lot.id, place=audit.NATIONAL, vaccine=product.code,
                 lot=lot.number,
                 expires_on=lot.expires_on.isoformat(), doses_per_vial=lot.doses_per_vial,
                 vvm_stage=lot.vvm_stage)
    session.commit()
    return lot, created


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
    ``lot_recalled``); its recipients are listed by :func:`lot_recipients`; the nearest
    staff managing stock at each store that holds some of it get a message (once: a lot
    already recalled is left as it is). Nationally, ``stock.manage``. Commits."""
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
        messages = 0
        for store, held in session.execute(
                select(Store, Balance.on_hand).join(Balance, Balance.store_id == Store.id)
                .where(Balance.lot_id == lot.id, Balance.on_hand > 0).order_by(Store.id)):
            messages += message_store_staff(session, pack, store, "stock_recall",
                                            lot=lot.number, vaccine=product_code,
                                            reason=lot.recall_reason, doses=held)
        audit.record(session, "stock.lot.recall", "stock_lot", lot.id, place=audit.NATIONAL,
                     vaccine=product_code,
                     lot=lot.number, reason=lot.recall_reason, messages=messages)
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
