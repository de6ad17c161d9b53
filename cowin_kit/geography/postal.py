"""The pack's postal-code directory: which places a postal code (an Indian PIN) lies in.

A pack may list, per location, the postal codes inside it (``postal_codes`` in
locations.csv; the India pack maps each PIN of India Post's directory to its districts).
A code can lie in more than one place (a PIN straddling a district boundary)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.geography.models import PostalCode

_MEMO_LIMIT = 4096  # arbitrary codes typed into a search cannot grow the memo without bound


def postal_code_locations(session: Session, code: str,
                          pack: ActivePack | None) -> tuple[int, ...]:
    """Ids of the locations the installed pack's directory gives for ``code`` (most often
    one district; () when the directory does not have it). Kept per snapshot of the
    installed pack: the directory changes only with a pack install."""
    known: dict[str, tuple[int, ...]] = (pack.memo(("geography", "postal-codes"), dict)
                                         if pack is not None else {})
    found = known.get(code)
    if found is None:
        found = tuple(session.scalars(select(PostalCode.location_id)
                                      .where(PostalCode.code == code)
                                      .order_by(PostalCode.location_id)))
        if len(known) >= _MEMO_LIMIT:
            known.clear()
        known[code] = found
    return found
