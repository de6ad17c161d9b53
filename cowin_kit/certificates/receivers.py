"""How certificates react to other domains' signals (cowin_kit.core.signals)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cowin_kit.core import signals
from cowin_kit.certificates.services import release_voided_dose, revoke_for_correction


@signals.beneficiary_corrected.connect
def _reissue_after_correction(session: Session, *, beneficiary: Any, reason: str,
                              **_: Any) -> None:
    revoke_for_correction(session, beneficiary, reason=reason)


@signals.dose_voided.connect
def _release_voided_dose(session: Session, *, dose: Any, reason: str, **_: Any) -> None:
    release_voided_dose(session, dose, reason=reason)
