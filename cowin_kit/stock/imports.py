"""`cowin-kit stock lots import FILE` and POST /api/v1/stock/lots/import: the lot register
from a CSV file, with the doses received (national store receipts, or another store's).

Columns: ``product`` (a vaccine code of the pack), ``lot``, ``expires_on`` (YYYY-MM-DD)
required; ``manufacturer`` (default: the product's), ``doses_per_vial`` (default: the
product's ``stock.doses_per_vial``, else 1), ``vvm_stage`` (1-4), ``quantity`` (doses
received: a receipt entry) and ``store`` (where they were received; default
``national``) optional. A lot already registered gets the file's facts. All rows or none:
every problem is reported as ``FILE:LINE: column: message``."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import DomainError
from cowin_kit.core.i18n import gettext as _
from cowin_kit.csvimport import (
    too_long,
    DATE_PATTERN, Bulk, ImportInvalid, ImportReport, Problems, Progress, Row, Source,
    commit_import, decode, file_fingerprint, no_progress, read_bytes, read_table,
)
from cowin_kit.identity.models import StaffUser
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.stock import base, ledger, rules
from cowin_kit.stock.models import LOT_ACTIVE, RECEIPT, Lot

REQUIRED = ("product", "lot", "expires_on")
OPTIONAL = ("manufacturer", "doses_per_vial", "vvm_stage", "quantity", "store")

__all__ = ["ImportInvalid", "import_lots"]


def import_lots(session: Session, pack: ActivePack, actor: StaffUser | None,
                path_or_stream: Source, *, file_name: str, progress: Progress | None = None,
                dry_run: bool = False) -> ImportReport:
    """Register (or update) the lots of a CSV file and enter the receipts it gives;
    ``stock.manage`` nationally (and at every store named). Commits on success; raises
    ImportInvalid with every problem and writes nothing otherwise."""
    progress = progress or no_progress
    base._check(session, actor, base.MANAGE, None)
    problems = Problems(file_name)
    data = read_bytes(path_or_stream)
    fingerprint = file_fingerprint(data)
    text = decode(data, problems)
    problems.raise_if_any()
    table = read_table(text, problems, REQUIRED, set(REQUIRED + OPTIONAL).__contains__)
    if table is None:
        problems.raise_if_any()
    records = list(table.records)
    report = ImportReport("lots", file_name, rows=len(records), dry_run=dry_run)
    products = {p.code: p for p in session.scalars(select(VaccineProduct))}
    existing = {(lot.product_id, lot.number_key): lot for lot in session.scalars(select(Lot))}
    stores: dict[str, object] = {}
    seen: dict[tuple[int, str], int] = {}
    checked: list[tuple[VaccineProduct, dict, int | None, str]] = []
    for line, values in records:
        row = Row(line, values, problems)
        product = products.get(values.get("product", ""))
        if product is None:
            row.bad("product", _("no vaccine with code %(code)s", code=values.get("product", "")))
        number = rules.normalise_lot(values.get("lot"))
        if not number:
            row.bad("lot", _("must not be empty"))
        elif len(number) > 64:
            row.bad("lot", too_long(64))
        expires = values.get("expires_on", "")
        expires_on = None
        if not DATE_PATTERN.match(expires):
            row.bad("expires_on", _("must be a date like 2027-03-31"))
        else:
            try:
                expires_on = date.fromisoformat(expires)
            except ValueError:
                row.bad("expires_on", _("must be a date like 2027-03-31"))
        per_vial = row.integer("doses_per_vial", 1, 100, None)
        vvm = row.integer("vvm_stage", 1, 4, None)
        quantity = row.integer("quantity", 0, 10_000_000, 0)
        store = values.get("store") or "national"
        if quantity and store not in stores:
            try:
                target = base.store_by_code(session, pack, store)
                base._check(session, actor, base.MANAGE, target)
                stores[store] = target
            except DomainError as exc:
                row.bad("store", str(exc.message))
        if not row.ok or product is None or expires_on is None:
            continue
        key = (product.id, rules.lot_key(number))
        if key in seen:
            row.bad("lot", _("lot %(lot)s of %(vaccine)s appears twice (first on line "
                             "%(line)d)", lot=number, vaccine=product.code, line=seen[key]))
            continue
        seen[key] = line
        facts = {"number": number, "number_key": key[1],
                 "manufacturer": (values.get("manufacturer") or product.manufacturer)[:200],
                 "expires_on": expires_on,
                 "doses_per_vial": per_vial or rules.VialPolicy.of(product.stock).doses_per_vial,
                 "vvm_stage": vvm}
        checked.append((product, facts, quantity or None, store))
        lot = existing.get(key)
        if lot is None:
            report.added += 1
        elif any(getattr(lot, k) != v for k, v in facts.items()):
            report.updated += 1
        else:
            report.unchanged += 1
    problems.raise_if_any()

    def write(_bulk: Bulk) -> None:
        now = datetime.now(timezone.utc)
        name = actor.username if actor is not None else "import"
        for product, facts, quantity, store in checked:
            lot = existing.get((product.id, facts["number_key"]))
            if lot is None:
                lot = Lot(product_id=product.id, status=LOT_ACTIVE, **facts)
                session.add(lot)
            else:
                for key, value in facts.items():
                    setattr(lot, key, value)
            session.flush()
            if quantity:
                target = stores[store]
                ledger._balance_row(session, target.id, lot.id)
                ledger._post(session, target.id, lot.id, RECEIPT, quantity, occurred_at=now,
                               actor=name, reason="import")
        session.flush()

    return commit_import(session, report, "stock.lots.import", fingerprint, progress, write)
