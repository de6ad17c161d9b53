"""Pure rules of stock: whether a lot may be used, whether an open vial may still be
drawn from, and the figures of the dashboard. No database, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Mapping

# The VVM stages at which a vial is no longer used (WHO, "Vaccine vial monitor" and the
# multi-dose vial policy, WHO/IVB/14.07: stage 3 and 4 = discard point reached or passed).
VVM_DISCARD = (3, 4)
# Adjustment reasons that are wastage (doses lost to use) rather than record corrections.
WASTAGE_REASONS = ("damaged", "expired", "vvm", "frozen", "recalled")
OTHER_REASONS = ("found", "lost", "correction")
ADJUSTMENT_REASONS = WASTAGE_REASONS + OTHER_REASONS

LOT_EXPIRED = "lot_expired"
LOT_RECALLED = "lot_recalled"
LOT_VVM_DISCARD = "lot_vvm_discard"


@dataclass(frozen=True)
class VialPolicy:
    """A product's open-vial facts (vaccines.yaml ``stock:``): doses per vial, and how long
    an opened multi-dose vial may be used: ``open_vial_days`` after opening, or to the end
    of the session (``discard_at_session_end``). Single-dose vials need neither."""

    doses_per_vial: int = 1
    open_vial_days: int | None = None
    discard_at_session_end: bool = False

    @classmethod
    def of(cls, facts: Mapping[str, Any] | None, doses_per_vial: int | None = None
           ) -> "VialPolicy":
        """The policy of a product's stored facts; a lot's own doses per vial wins."""
        facts = facts or {}
        return cls(int(doses_per_vial or facts.get("doses_per_vial") or 1),
                   facts.get("open_vial_days"), bool(facts.get("discard_at_session_end")))


def lot_refusal(*, expires_on: date, status: str, vvm_stage: int | None, day: date,
                recalled_status: str = "recalled") -> str | None:
    """Why a lot may not be given on ``day`` (its code), or None: recalled, expired (a lot
    may be used up to and including its expiry date) or past its VVM discard point."""
    if status == recalled_status:
        return LOT_RECALLED
    if day > expires_on:
        return LOT_EXPIRED
    if vvm_stage in VVM_DISCARD:
        return LOT_VVM_DISCARD
    return None


def vial_usable(policy: VialPolicy, *, opened_at: datetime, opened_on: date,
                now: datetime, day: date) -> bool:
    """Whether an opened vial may still be drawn from at ``now`` (local day ``day``)."""
    if policy.doses_per_vial <= 1:
        return False
    if policy.discard_at_session_end or not policy.open_vial_days:
        return day == opened_on   # no stated policy: the session's day only
    return now < opened_at + timedelta(days=policy.open_vial_days)


def days_of_stock(on_hand: int, used: int, period_days: int) -> float | None:
    """How many days ``on_hand`` lasts at the rate of ``used`` doses (given and wasted) in
    the last ``period_days``; None when nothing was used (no rate to go by)."""
    if used <= 0 or period_days <= 0:
        return None
    return round(max(on_hand, 0) / (used / period_days), 1)


def wastage_rate(given: int, wasted: int) -> float | None:
    """WHO's wastage rate: doses wasted / doses used (given + wasted), in per cent."""
    used = given + wasted
    if used <= 0:
        return None
    return round(100.0 * wasted / used, 1)


def near_expiry(expires_on: date, day: date, window_days: int) -> bool:
    """Whether a lot expires within ``window_days`` of ``day`` (and has not yet)."""
    return day <= expires_on <= day + timedelta(days=window_days)


def normalise_lot(number: Any) -> str:
    """A lot number as written: whitespace collapsed."""
    return " ".join(str(number or "").split())


def lot_key(number: Any) -> str:
    """A lot number as matched: whitespace collapsed, upper case."""
    return normalise_lot(number).upper()


def store_code(kind: str, code: str | None = None) -> str:
    return "national" if kind == "national" else f"{kind}:{code}"


def parse_store_code(text: str) -> tuple[str, str | None]:
    """(kind, code) of ``national``, ``area:<location code>``, ``facility:<code>``;
    ValueError otherwise."""
    text = str(text or "").strip()
    if text == "national":
        return "national", None
    kind, sep, code = text.partition(":")
    if not sep or kind not in ("area", "facility") or not code.strip():
        raise ValueError(text)
    return kind, code.strip()
