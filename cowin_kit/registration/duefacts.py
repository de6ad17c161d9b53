"""What the due rules (programme.due) need to know of one person beyond their doses: the
birth date they count from, their sex (schedules limited to a sex), the codes of their
place and the places above it (schedules limited to areas) and their pregnancies
(pregnancy schedules). One definition for every caller that evaluates a person: the
vaccinator's visit, the record, the due lists, the field app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.geography.tree import area_codes
from cowin_kit.identity.models import Gender
from cowin_kit.programme import due
from cowin_kit.registration.models import Beneficiary, Pregnancy


@dataclass(frozen=True)
class DueFacts:
    birth_date: date
    sex: str | None
    area_codes: tuple[str, ...]
    pregnancies: tuple[due.Pregnancy, ...]

    def evaluate_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of programme.due.evaluate these facts fill."""
        return {"birth_date": self.birth_date, "sex": self.sex,
                "area_codes": self.area_codes, "pregnancies": self.pregnancies}


def birth_anchor(person: Beneficiary) -> date:
    """The day a person's ages count from: their birth date, or 1 January of their birth
    year where only the year was asked (adult registration in year-only packs)."""
    return person.birth_date or date(person.birth_year, 1, 1)


def gender_codes(session: Session, pack: ActivePack | None) -> dict[int, str]:
    """Gender id -> the pack's gender code (read once per snapshot of the pack)."""
    def load() -> dict[int, str] | None:
        return dict(session.execute(select(Gender.id, Gender.code)).all()) or None  # type: ignore[arg-type]
    if pack is None:
        return load() or {}
    return pack.memo(("registration", "gender-codes"), load) or {}


def pregnancies_of(session: Session, person_ids: list[int]) -> dict[int, list[due.Pregnancy]]:
    """Each person's registered pregnancies (in order of registration)."""
    found: dict[int, list[due.Pregnancy]] = {}
    if not person_ids:
        return found
    for row in session.scalars(select(Pregnancy).where(Pregnancy.beneficiary_id.in_(person_ids))
                               .order_by(Pregnancy.registered_on, Pregnancy.id)):
        found.setdefault(row.beneficiary_id, []).append(
            due.Pregnancy(row.registered_on, row.outcome_date, ref=row.id))
    return found


def due_facts(session: Session, pack: ActivePack | None, person: Beneficiary) -> DueFacts:
    return DueFacts(
        birth_date=birth_anchor(person),
        sex=gender_codes(session, pack).get(person.gender_id),
        area_codes=area_codes(session, pack, person.location_id),
        pregnancies=tuple(pregnancies_of(session, [person.id]).get(person.id, ())))
