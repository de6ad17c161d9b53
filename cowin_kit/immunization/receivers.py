"""How immunization reacts to other domains' signals (cowin_kit.core.signals)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack, active_pack
from cowin_kit.core import signals
from cowin_kit.immunization.duestate import refresh_people
from cowin_kit.immunization.evaluation import routine_rules


@signals.due_facts_changed.connect
def _refresh_due_state(session: Session, *, person_ids: Iterable[int],
                       pack: ActivePack | None = None,
                       products: Iterable[str] | None = None, **_: Any) -> None:
    """The people's pending doses again, in the sender's transaction (before it commits):
    the due lists never show a dose given a minute ago as due."""
    pack = pack or active_pack()
    if products is not None and not set(products) & _counted(session, pack):
        return  # e.g. a COVID-19 dose: no routine schedule counts it
    refresh_people(session, pack, person_ids)


def _counted(session: Session, pack: ActivePack) -> frozenset[str]:
    """The products some routine schedule counts."""
    routine = routine_rules(session, pack)
    return frozenset().union(
        *(frozenset(rule.products) for rule in routine.birth + routine.pregnancy),
        *(frozenset(dose.products) for rule in routine.birth + routine.pregnancy
          for dose in rule.doses))
