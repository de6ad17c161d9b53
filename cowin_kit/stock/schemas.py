"""Marshmallow schemas of the stock API (/api/v1/stock) and the stock warnings that the
dose-recording responses carry."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from cowin_kit.stock.rules import ADJUSTMENT_REASONS


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class StockWarningOut(Schema):
    code = fields.String(required=True, metadata={
        "description": "lot_not_held (the facility's stock holds none of the lot) or "
                       "lot_not_registered (a lot number not in the register)"})
    message = fields.String(required=True, metadata={"description": "in the request's language"})


_STORE = fields.String(required=True, validate=validate.Length(min=1, max=80), metadata={
    "description": "national, area:<location code> or facility:<facility code>"})
_PRODUCT = fields.String(required=True, validate=validate.Length(min=1, max=64))
_LOT = fields.String(required=True, validate=validate.Length(min=1, max=64))


class LotIn(_Strict):
    product = _PRODUCT
    lot = _LOT
    manufacturer = fields.String(validate=validate.Length(min=1, max=200))
    expires_on = fields.Date(required=True)
    doses_per_vial = fields.Integer(validate=validate.Range(min=1, max=100))
    vvm_stage = fields.Integer(validate=validate.Range(min=1, max=4), allow_none=True)


class LotOut(Schema):
    product = fields.String(required=True)
    lot = fields.String(required=True)
    manufacturer = fields.String(required=True)
    expires_on = fields.Date(required=True)
    doses_per_vial = fields.Integer(required=True)
    vvm_stage = fields.Integer(allow_none=True, required=True)
    status = fields.String(required=True, metadata={"description": "active or recalled"})
    recall_reason = fields.String(required=True)


class LotListOut(Schema):
    lots = fields.List(fields.Nested(LotOut), required=True)


class LotQuery(_Strict):
    product = fields.String(validate=validate.Length(min=1, max=64))


class RecallIn(_Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class VvmIn(_Strict):
    vvm_stage = fields.Integer(required=True, validate=validate.Range(min=1, max=4))


class RecipientOut(Schema):
    reference_id = fields.String(required=True)
    name = fields.String(required=True)
    birth_year = fields.Integer(required=True)
    mobile = fields.String(required=True, metadata={"description": "masked: last 4 digits"})
    dose_id = fields.Integer(required=True)
    series = fields.String(required=True)
    dose = fields.Integer(required=True)
    administered_at = fields.DateTime(required=True)
    facility = fields.String(allow_none=True, required=True)


class RecipientsOut(Schema):
    product = fields.String(required=True)
    lot = fields.String(required=True)
    status = fields.String(required=True)
    recipients = fields.List(fields.Nested(RecipientOut), required=True)


class ReceiptIn(_Strict):
    store = _STORE
    product = _PRODUCT
    lot = _LOT
    quantity = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000_000))
    occurred_at = fields.AwareDateTime()
    reason = fields.String(validate=validate.Length(max=200), load_default="")


class TransferIn(_Strict):
    from_store = _STORE
    to_store = _STORE
    product = _PRODUCT
    lot = _LOT
    quantity = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000_000))
    occurred_at = fields.AwareDateTime()


class AdjustmentIn(_Strict):
    store = _STORE
    product = _PRODUCT
    lot = _LOT
    quantity = fields.Integer(required=True, validate=validate.Range(min=-10_000_000,
                                                                     max=10_000_000))
    reason = fields.String(required=True, validate=validate.OneOf(ADJUSTMENT_REASONS))
    occurred_at = fields.AwareDateTime()


class CountIn(_Strict):
    store = _STORE
    product = _PRODUCT
    lot = _LOT
    on_hand = fields.Integer(required=True, validate=validate.Range(min=0, max=10_000_000))
    occurred_at = fields.AwareDateTime()


class MovementOut(Schema):
    store = fields.String(required=True)
    product = fields.String(required=True)
    lot = fields.String(required=True)
    kind = fields.String(required=True)
    quantity = fields.Integer(required=True)
    on_hand = fields.Integer(required=True)


class StoreQuery(_Strict):
    store = fields.String(validate=validate.Length(min=1, max=80))


class OnHandRowOut(Schema):
    store = fields.String(required=True)
    product = fields.String(required=True)
    lot = fields.String(required=True)
    expires_on = fields.Date(required=True)
    status = fields.String(required=True)
    on_hand = fields.Integer(required=True)


class OnHandOut(Schema):
    stock = fields.List(fields.Nested(OnHandRowOut), required=True)


class EntryOut(Schema):
    kind = fields.String(required=True)
    product = fields.String(required=True)
    lot = fields.String(required=True)
    quantity = fields.Integer(required=True)
    reason = fields.String(required=True)
    occurred_at = fields.DateTime(required=True)
    dose_id = fields.Integer(allow_none=True, required=True)
    actor = fields.String(required=True)


class LedgerOut(Schema):
    store = fields.String(required=True)
    entries = fields.List(fields.Nested(EntryOut), required=True)


class StockSummaryQuery(_Strict):
    level = fields.Integer(validate=validate.Range(min=1, max=5), load_default=1)
    on = fields.Date()


class StockSummaryRowOut(Schema):
    area = fields.String(required=True)
    name = fields.String(required=True)
    product = fields.String(required=True)
    on_hand = fields.Integer(required=True)
    given = fields.Integer(required=True)
    wasted = fields.Integer(required=True)
    vials_opened = fields.Integer(required=True)
    days_of_stock = fields.Float(allow_none=True, required=True)
    wastage_rate_percent = fields.Float(allow_none=True, required=True)


class StockSummaryOut(Schema):
    level = fields.Integer(required=True)
    on = fields.Date(required=True)
    period_days = fields.Integer(required=True)
    rows = fields.List(fields.Nested(StockSummaryRowOut), required=True)


class StockAlertOut(Schema):
    kind = fields.String(required=True)
    store = fields.String(required=True)
    day = fields.Date(required=True)
    details = fields.Dict(required=True)


class StockAlertsOut(Schema):
    alerts = fields.List(fields.Nested(StockAlertOut), required=True)


class EndSessionIn(_Strict):
    store = _STORE


class EndSessionOut(Schema):
    vials_discarded = fields.Integer(required=True)
