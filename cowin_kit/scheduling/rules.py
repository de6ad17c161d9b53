"""Pure rules about facilities and sessions."""

from __future__ import annotations

import re
from datetime import time

from cowin_kit.i18n import gettext as _

FEE_TYPES = ("Free", "Paid")
FACILITY_TYPES = ("public", "private")
_SLOT = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def parse_slots(text: str) -> list[tuple[time, time]]:
    """'09:00-11:00;11:00-13:00' -> ordered, non-overlapping (start, end) pairs."""
    slots: list[tuple[time, time]] = []
    for part in (p.strip() for p in text.split(";") if p.strip()):
        match = _SLOT.match(part)
        if not match:
            raise ValueError(_("%(slot)s is not a slot like 09:00-11:00", slot=part))
        start = time(int(match.group(1)), int(match.group(2)))
        end = time(int(match.group(3)), int(match.group(4)))
        if end <= start:
            raise ValueError(_("slot %(slot)s ends before it starts", slot=part))
        slots.append((start, end))
    slots.sort()
    for (_s1, end1), (start2, _e2) in zip(slots, slots[1:]):
        if start2 < end1:
            raise ValueError(_("slots overlap"))
    if not slots:
        raise ValueError(_("at least one slot is needed"))
    return slots


def split_capacity(total: int, parts: int) -> list[int]:
    """Spread a session's seats over its slots as evenly as possible, earliest first."""
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]
