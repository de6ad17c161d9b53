"""Vaccine stock, /api/v1/stock (staff token): the lot register (``stock.manage``
nationally to change it), recalls and their recipients, receipts, transfers, adjustments
and physical counts at a store (``stock.manage`` there), what stores hold, their ledger,
the dashboard's figures per product and area and the alerts (``stock.read``).

Stores are named ``national``, ``area:<location code>`` or ``facility:<facility code>``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import Blueprint, Response, jsonify, request

from cowin_kit.api import pack, request_locale
from cowin_kit.api.imports import CSV_BODY, ImportResultOut, _upload
from cowin_kit.api.staff import staff
from cowin_kit.core.apidoc import doc
from cowin_kit.core.db import get_session
from cowin_kit.core.validation import load
from cowin_kit.reporting.rules import to_csv
from cowin_kit.stock import imports, schemas, services

bp = Blueprint("api_stock", __name__, url_prefix="/api/v1/stock")


def _lot_json(lot, product_code: str) -> dict:
    return {"product": product_code, "lot": lot.number, "manufacturer": lot.manufacturer,
            "expires_on": lot.expires_on, "doses_per_vial": lot.doses_per_vial,
            "vvm_stage": lot.vvm_stage, "status": lot.status,
            "recall_reason": lot.recall_reason}


def _movement_json(movement: services.Movement) -> dict:
    return schemas.MovementOut().dump(movement.__dict__)


@bp.get("/lots")
@doc("The lot register (?product=CODE: one product's lots)", response=schemas.LotListOut,
     auth="staff", tag="stock")
def list_lots():
    query = load(schemas.LotQuery(), request.args.to_dict())
    rows = services.list_lots(get_session(), staff(), query.get("product"))
    return jsonify(schemas.LotListOut().dump(
        {"lots": [_lot_json(lot, product.code) for lot, product in rows]}))


@bp.post("/lots")
@doc("Register a lot, or update its facts (expiry, doses per vial, VVM stage)",
     body=schemas.LotIn, response=schemas.LotOut, auth="staff", tag="stock", status=201)
def register_lot():
    data = load(schemas.LotIn(), request.get_json(silent=True))
    lot, created = services.register_lot(get_session(), pack(), staff(), services.LotFacts(
        product=data["product"], number=data["lot"], expires_on=data["expires_on"],
        manufacturer=data.get("manufacturer"), doses_per_vial=data.get("doses_per_vial"),
        vvm_stage=data.get("vvm_stage")))
    return jsonify(schemas.LotOut().dump(_lot_json(lot, data["product"]))), \
        201 if created else 200


@bp.post("/lots/import")
@doc("Register lots (and their receipts: quantity, store) from CSV, all rows or none",
     response=ImportResultOut, auth="staff", tag="stock", body_content=CSV_BODY)
def import_lots():
    user = staff()
    name, data = _upload()
    report = imports.import_lots(get_session(), pack(), user, data, file_name=name)
    return jsonify(ImportResultOut().dump(report.as_dict()))


@bp.post("/lots/<product>/<lot>/vvm")
@doc("Record a lot's vaccine vial monitor stage (3 and 4: no longer given)",
     body=schemas.VvmIn, response=schemas.LotOut, auth="staff", tag="stock")
def set_vvm(product: str, lot: str):
    data = load(schemas.VvmIn(), request.get_json(silent=True))
    row = services.set_vvm_stage(get_session(), pack(), staff(), product_code=product,
                                 number=lot, stage=data["vvm_stage"])
    return jsonify(schemas.LotOut().dump(_lot_json(row, product)))


@bp.post("/lots/<product>/<lot>/recall")
@doc("Recall a lot: no dose may be given from it any more", body=schemas.RecallIn,
     response=schemas.LotOut, auth="staff", tag="stock")
def recall(product: str, lot: str):
    data = load(schemas.RecallIn(), request.get_json(silent=True))
    row = services.recall_lot(get_session(), pack(), staff(), product_code=product,
                              number=lot, reason=data["reason"])
    return jsonify(schemas.LotOut().dump(_lot_json(row, product)))


def _recipients(product: str, lot: str):
    return services.lot_recipients(get_session(), pack(), staff(), product_code=product,
                                   number=lot)


@bp.get("/lots/<product>/<lot>/recipients.csv")
@doc("Everyone who received the lot, as CSV", content_type="text/csv", auth="staff",
     tag="stock")
def recipients_csv(product: str, lot: str):
    row, people = _recipients(product, lot)
    return Response(to_csv(services.RECIPIENT_COLUMNS, services.recipient_rows(people)),
                    mimetype="text/csv", headers={
                        "Content-Disposition":
                            f'attachment; filename="recipients-{product}-{row.id}.csv"'})


@bp.get("/lots/<product>/<lot>/recipients")
@doc("Everyone who received the lot (every recorded, visit, campaign, imported or synced "
     "dose of it)", response=schemas.RecipientsOut, auth="staff", tag="stock")
def recipients(product: str, lot: str):
    row, people = _recipients(product, lot)
    return jsonify(schemas.RecipientsOut().dump({
        "product": product, "lot": row.number, "status": row.status,
        "recipients": [{"reference_id": r.reference_id, "name": r.name,
                        "birth_year": r.birth_year, "mobile": r.mobile_masked,
                        "dose_id": r.dose_id, "series": r.series, "dose": r.dose_number,
                        "administered_at": r.administered_at, "facility": r.facility}
                       for r in people]}))


@bp.post("/receipts")
@doc("Doses received at a store from outside the kit (a shipment)", body=schemas.ReceiptIn,
     response=schemas.MovementOut, auth="staff", tag="stock", status=201)
def receive():
    data = load(schemas.ReceiptIn(), request.get_json(silent=True))
    moved = services.receive(get_session(), pack(), staff(), store=data["store"],
                             product_code=data["product"], number=data["lot"],
                             quantity=data["quantity"], occurred_at=data.get("occurred_at"),
                             reason=data["reason"])
    return jsonify(_movement_json(moved)), 201


@bp.post("/transfers")
@doc("Send doses from one store to another (an issue and its receipt)",
     body=schemas.TransferIn, response=schemas.MovementOut, auth="staff", tag="stock",
     status=201)
def transfer():
    data = load(schemas.TransferIn(), request.get_json(silent=True))
    moved = services.transfer(get_session(), pack(), staff(), from_store=data["from_store"],
                              to_store=data["to_store"], product_code=data["product"],
                              number=data["lot"], quantity=data["quantity"],
                              occurred_at=data.get("occurred_at"))
    return jsonify(_movement_json(moved)), 201


@bp.post("/adjustments")
@doc("Doses wasted (damaged, expired, vvm, frozen, recalled: negative) or a record put "
     "right (found, lost, correction)", body=schemas.AdjustmentIn,
     response=schemas.MovementOut, auth="staff", tag="stock", status=201)
def adjust():
    data = load(schemas.AdjustmentIn(), request.get_json(silent=True))
    moved = services.adjust(get_session(), pack(), staff(), store=data["store"],
                            product_code=data["product"], number=data["lot"],
                            quantity=data["quantity"], reason=data["reason"],
                            occurred_at=data.get("occurred_at"))
    return jsonify(_movement_json(moved)), 201


@bp.post("/counts")
@doc("A physical count: the store holds on_hand doses of the lot", body=schemas.CountIn,
     response=schemas.MovementOut, auth="staff", tag="stock", status=201)
def count():
    data = load(schemas.CountIn(), request.get_json(silent=True))
    moved = services.physical_count(get_session(), pack(), staff(), store=data["store"],
                                    product_code=data["product"], number=data["lot"],
                                    on_hand=data["on_hand"],
                                    occurred_at=data.get("occurred_at"))
    return jsonify(_movement_json(moved)), 201


@bp.post("/sessions/end")
@doc("End the day's session at a facility's store: its open vials of session-end products "
     "are discarded (wastage)", body=schemas.EndSessionIn, response=schemas.EndSessionOut,
     auth="staff", tag="stock")
def end_session():
    data = load(schemas.EndSessionIn(), request.get_json(silent=True))
    closed = services.close_vials(get_session(), pack(), store=data["store"], actor=staff(),
                                  end_of_session=True)
    return jsonify(schemas.EndSessionOut().dump({"vials_discarded": closed}))


@bp.get("/on-hand")
@doc("Doses on hand per store and lot (?store=: one store)", response=schemas.OnHandOut,
     auth="staff", tag="stock")
def on_hand():
    query = load(schemas.StoreQuery(), request.args.to_dict())
    rows = services.on_hand(get_session(), pack(), staff(), store=query.get("store"))
    return jsonify(schemas.OnHandOut().dump({"stock": [row.__dict__ for row in rows]}))


@bp.get("/ledger")
@doc("A store's latest ledger entries, newest first (?store= required)",
     response=schemas.LedgerOut, auth="staff", tag="stock")
def ledger():
    query = load(schemas.StoreQuery(), request.args.to_dict())
    store = query.get("store") or "national"
    rows = services.ledger(get_session(), pack(), staff(), store=store)
    return jsonify(schemas.LedgerOut().dump({"store": store, "entries": [
        {"kind": e.kind, "product": product, "lot": number, "quantity": e.quantity,
         "reason": e.reason, "occurred_at": e.occurred_at, "dose_id": e.dose_id,
         "actor": e.actor} for e, product, number in rows]}))


def _summary():
    query = load(schemas.StockSummaryQuery(), request.args.to_dict())
    on = query.get("on")
    rows = services.summary(get_session(), pack(), staff(), level=query["level"], on=on,
                            locale=str(request_locale()))
    return query, rows


@bp.get("/summary")
@doc("Stock on hand, doses given and wasted (last 28 days), vials opened, days of stock "
     "and wastage rate per product and area (?level=1..5 of the hierarchy, ?on=)",
     response=schemas.StockSummaryOut, auth="staff", tag="stock")
def summary():
    query, rows = _summary()
    on = query.get("on") or services.local_day(pack(), datetime.now(timezone.utc))
    return jsonify(schemas.StockSummaryOut().dump({
        "level": query["level"], "on": on, "period_days": services.CONSUMPTION_DAYS,
        "rows": [dict(zip(services.SUMMARY_COLUMNS, (
            r.area, r.name, r.product, r.on_hand, r.given, r.wasted, r.vials_opened,
            r.days_of_stock, r.wastage_rate))) for r in rows]}))


@bp.get("/summary.csv")
@doc("The stock summary per product and area, as CSV", content_type="text/csv",
     auth="staff", tag="stock")
def summary_csv():
    _query, rows = _summary()
    return Response(to_csv(services.SUMMARY_COLUMNS, services.summary_rows(rows)),
                    mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="stock.csv"'})


@bp.get("/alerts")
@doc("Near-expiry, stock-out and low-stock alerts of the last 7 days at my stores",
     response=schemas.StockAlertsOut, auth="staff", tag="stock")
def alerts():
    since = services.local_day(pack(), datetime.now(timezone.utc)) - timedelta(days=7)
    rows = services.recent_alerts(get_session(), staff(), since=since)
    return jsonify(schemas.StockAlertsOut().dump({"alerts": [
        {"kind": a.kind, "store": code, "day": a.day, "details": a.details}
        for a, code in rows]}))
