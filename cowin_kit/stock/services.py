"""Stock use cases, by responsibility in the modules of this package; the public names are
gathered here, where the doors, the worker and the dose-recording services import them.

- ``lots``: the lot register, vial monitor stages, recalls and their recipients.
- ``ledger``: receipts, issues and transfers, adjustments with a reason, physical counts.
- ``draws``: the draw each recorded dose makes on its lot, its reversal or move when the
  dose is voided or corrected, imported doses, open vials and wastage.
- ``figures``: stock on hand, a store's ledger, the dashboard's figures.
- ``alerts``: near-expiry, stock-out and low-stock alerts (the worker), sent to the staff
  of the store's area through the message outbox.
- ``base``: settings, products, stores and the access check they share.

The dose-recording services (vaccination.services.record_dose, vaccination.visits
.record_visit, immunization.campaigns.record_campaign_dose, vaccination.imports) call
:func:`check_lot` before they write anything and :func:`draw` (or :func:`draw_imported`)
after the dose row, in their own transaction: these functions write, they never commit;
so do :func:`reverse_draw` and :func:`redraw` (corrections, in theirs). The other
services here own their transaction (they commit).

Actors: a StaffUser (checked with ``stock.manage`` / ``stock.read`` on the store's part of
the hierarchy) or None for the command line and the worker (the whole country)."""

from __future__ import annotations

from cowin_kit.stock.alerts import (
    raise_alerts, recent_alerts,
)
from cowin_kit.stock.base import (
    CONSUMPTION_DAYS, DEFAULT_MIN_DAYS_OF_STOCK, DEFAULT_NEAR_EXPIRY_DAYS, StockSettings,
    StockWarning, facility_store, local_day, location_store, log, national_store, policy_of,
    product_by_code, scope_of, settings, store_by_code,
)
from cowin_kit.stock.draws import (
    check_lot, close_vials, draw, draw_imported, imported_lot_problem, redraw, registered_lots,
    reverse_draw,
)
from cowin_kit.stock.figures import (
    AreaStock, LotStock, SUMMARY_COLUMNS, ledger, on_hand, summary, summary_rows,
)
from cowin_kit.stock.ledger import (
    Movement, adjust, physical_count, receive, transfer,
)
from cowin_kit.stock.lots import (
    LotFacts, RECIPIENT_COLUMNS, Recipient, check_lot_facts, find_lot, list_lots, lot_by_code,
    lot_recipients, recall_lot, recipient_rows, register_lot, set_vvm_stage,
)

__all__ = [
    "AreaStock", "CONSUMPTION_DAYS", "DEFAULT_MIN_DAYS_OF_STOCK", "DEFAULT_NEAR_EXPIRY_DAYS",
    "LotFacts", "LotStock", "Movement", "RECIPIENT_COLUMNS", "Recipient", "SUMMARY_COLUMNS",
    "StockSettings", "StockWarning", "adjust", "check_lot", "check_lot_facts", "close_vials",
    "draw", "draw_imported", "facility_store", "find_lot", "imported_lot_problem", "ledger",
    "list_lots", "local_day", "location_store", "log", "lot_by_code", "lot_recipients",
    "national_store", "on_hand", "physical_count", "policy_of", "product_by_code",
    "raise_alerts", "recall_lot", "receive", "recent_alerts", "recipient_rows", "redraw",
    "register_lot", "registered_lots", "reverse_draw", "scope_of", "set_vvm_stage", "settings",
    "store_by_code", "summary", "summary_rows", "transfer",
]
