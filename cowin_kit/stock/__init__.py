"""Vaccine stock and lots: the lot register, stores at every level of the pack's hierarchy
and at facilities, the stock ledger, open vials and wastage, and the draw every recorded
dose makes on its lot (docs/stock.md)."""
