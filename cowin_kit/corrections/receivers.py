"""How corrections react to other domains' signals (cowin_kit.core.signals)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cowin_kit.core import signals
from cowin_kit.corrections.services import check_new_person


@signals.person_registered.connect
def _note_possible_duplicates(session: Session, *, beneficiary: Any, **_: Any) -> None:
    check_new_person(session, beneficiary)
