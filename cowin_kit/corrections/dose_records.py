"""Taking a dose out of a person's record (voided, or a merge's second copy) and putting it
back (a merge undone): the dose row is kept whole, its certificates let go, and the stock
entry it drew is reversed, or drawn again when it comes back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from cowin_kit.core import signals
from cowin_kit.corrections.models import SetAsideDose
from cowin_kit.registration import tally
from cowin_kit.registration.models import Dose
from cowin_kit.stock import services as stock
from cowin_kit.vaccination.models import CertificateDue


def _dose_row(dose: Dose) -> dict[str, Any]:
    """Every column of a dose, JSON-ready (dates as ISO text)."""
    row: dict[str, Any] = {}
    for column in Dose.__table__.columns:
        value = getattr(dose, column.key)
        row[column.key] = value.isoformat() if isinstance(value, (datetime, date)) else value
    return row


def _restore_dose(session: Session, aside: SetAsideDose, actor: str) -> None:
    """Put a set-aside dose back as it was; what its draw gave back to stock is drawn
    again."""
    values = dict(aside.row)
    for key in ("administered_at", "recorded_at"):
        if values.get(key):
            values[key] = datetime.fromisoformat(values[key])
    session.execute(insert(Dose.__table__).values(**values))
    tally.count_doses(session, [values["id"]])  # written without the ORM: counted here
    if aside.stock_returned:
        stock.redraw(session, None, dose_id=values["id"], product_id=values["product_id"],
                     lot_number=values.get("lot"), facility_id=values.get("facility_id"),
                     actor=actor, reason="merge undone")


def _take_out(session: Session, dose: Dose, why: str, actor: str, **link: Any) -> None:
    """Keep the dose whole, let its certificates go, give back the stock it drew, delete
    it and its pending certificate."""
    returned = stock.reverse_draw(
        session, dose_id=dose.id, actor=actor,
        reason="dose voided" if why == "void" else "merge: second copy")
    session.add(SetAsideDose(dose_id=dose.id, beneficiary_id=dose.beneficiary_id, why=why,
                             row=_dose_row(dose), stock_returned=returned, **link))
    signals.dose_voided.send(session, dose=dose, reason="void" if why == "void" else "merge")
    session.execute(delete(CertificateDue).where(CertificateDue.dose_id == dose.id))
    session.delete(dose)
    session.flush()
