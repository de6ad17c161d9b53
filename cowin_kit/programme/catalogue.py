"""The pack-installed catalogue as the services read it: products and schedules, kept per
snapshot of the installed pack."""

from __future__ import annotations

import copy

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.programme.models import VaccineProduct, VaccineSchedule


def pack_rows(session: Session, pack: ActivePack | None, key: tuple, model: type) -> list:
    """All rows of ``model`` (pack-installed vaccine data), read once per snapshot of the
    installed pack (as registration reads ID types): they change only when the pack does.
    The rows are copies outside every session, so that this process's threads can share
    them and no rollback or close can expire them. (The query is built only when read:
    building it was a visible part of a booking's CPU.)"""
    def load() -> list | None:
        rows = [model(**{attr.key: copy.deepcopy(getattr(row, attr.key))
                         for attr in sa_inspect(model).column_attrs})
                for row in session.scalars(select(model))]
        return rows or None  # nothing found is not remembered

    if pack is None:
        return list(session.scalars(select(model)))
    return pack.memo(key, load) or []


def products(session: Session, pack: ActivePack | None) -> list[VaccineProduct]:
    """The pack's vaccine products (shared copies: read, never change them)."""
    return pack_rows(session, pack, ("programme", "products"), VaccineProduct)


def schedules(session: Session, pack: ActivePack | None) -> list[VaccineSchedule]:
    """The pack's vaccine schedules (shared copies: read, never change them)."""
    return pack_rows(session, pack, ("programme", "schedules"), VaccineSchedule)
