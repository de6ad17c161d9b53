"""Marshmallow schemas of the AEFI API (staff, citizens, investigation, signals)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from cowin_kit.core.db import MAX_ID
from cowin_kit.safety.rules import (
    CAUSALITY, OUTCOMES, REACTIONS, SERIOUS_CRITERIA, SERIOUSNESS, STATUSES,
)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _ReportFields(_Strict):
    """WHO's core variables a reporter gives (the person, vaccines and lots come from the
    dose records)."""

    onset_at = fields.AwareDateTime(required=True, metadata={
        "description": "date and time the adverse event began"})
    reactions = fields.List(fields.String(validate=validate.OneOf(REACTIONS)),
                            load_default=list, validate=validate.Length(max=len(REACTIONS)),
                            metadata={"description": "the adverse events of WHO's form"})
    symptoms = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                           load_default=list, validate=validate.Length(max=30),
                           metadata={"description": "signs and symptoms in words (a "
                                     "reaction or a symptom is required)"})
    seriousness = fields.String(required=True, validate=validate.OneOf(SERIOUSNESS))
    serious_criteria = fields.List(
        fields.String(validate=validate.OneOf(SERIOUS_CRITERIA)), load_default=list,
        validate=validate.Length(max=len(SERIOUS_CRITERIA)))
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    died_on = fields.Date(load_default=None, allow_none=True)
    medical_history = fields.String(load_default="", validate=validate.Length(max=2000),
                                    metadata={"description": "past medical history, "
                                              "allergies, concomitant medication"})
    notes = fields.String(load_default="", validate=validate.Length(max=2000))


class AefiIn(_ReportFields):
    dose_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))


class CitizenAefiIn(_ReportFields):
    dose_id = fields.Integer(load_default=None, allow_none=True,
                             validate=validate.Range(min=1, max=MAX_ID),
                             metadata={"description": "default: the person's latest dose"})


class AefiListQuery(_Strict):
    status = fields.String(validate=validate.OneOf(STATUSES))
    stage = fields.String(validate=validate.Length(min=1, max=32))
    serious = fields.Boolean()


class AefiStepIn(_Strict):
    findings = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    causality = fields.String(load_default=None, allow_none=True,
                              validate=validate.OneOf(CAUSALITY))
    outcome = fields.String(load_default=None, allow_none=True,
                            validate=validate.OneOf(OUTCOMES))
    close = fields.Boolean(load_default=False, metadata={
        "description": "close before the last stage (needs a causality category)"})


class SuspectDoseOut(Schema):
    dose_id = fields.Integer(required=True)
    vaccine = fields.String(required=True)
    dose = fields.Integer(required=True)
    lot = fields.String(required=True)
    administered_at = fields.DateTime(required=True)
    facility = fields.String(allow_none=True, required=True)


class AefiStepOut(Schema):
    stage = fields.String(required=True)
    actor = fields.String(required=True)
    role = fields.String(required=True)
    findings = fields.String(required=True)
    causality = fields.String(allow_none=True, required=True)
    outcome = fields.String(allow_none=True, required=True)
    next_stage = fields.String(required=True)
    status_after = fields.String(required=True)
    acted_at = fields.DateTime(required=True)


class AefiOut(Schema):
    id = fields.Integer(required=True)
    dose_id = fields.Integer(required=True)
    reference_id = fields.String(required=True)
    vaccine = fields.String(required=True)
    lot = fields.String(required=True)
    facility = fields.String(allow_none=True, required=True)
    onset_at = fields.DateTime(required=True)
    reactions = fields.List(fields.String(), required=True)
    symptoms = fields.List(fields.String(), required=True)
    seriousness = fields.String(required=True)
    serious_criteria = fields.List(fields.String(), required=True)
    serious = fields.Boolean(required=True)
    outcome = fields.String(required=True)
    died_on = fields.Date(allow_none=True, required=True)
    reporter = fields.String(required=True)
    reporter_type = fields.String(required=True)
    reported_at = fields.DateTime(required=True)
    status = fields.String(required=True)
    stage = fields.String(required=True)
    stage_name = fields.String(required=True)
    causality = fields.String(allow_none=True, required=True)
    alert = fields.Boolean(required=True, metadata={"description": "a serious case's "
                                                    "alert was raised"})


class AefiDetailOut(AefiOut):
    medical_history = fields.String(required=True)
    notes = fields.String(required=True)
    doses = fields.List(fields.Nested(SuspectDoseOut), required=True)
    steps = fields.List(fields.Nested(AefiStepOut), required=True)


class AefiListOut(Schema):
    reports = fields.List(fields.Nested(AefiOut), required=True)


class CitizenAefiOut(Schema):
    id = fields.Integer(required=True)
    vaccine = fields.String(required=True)
    lot = fields.String(required=True)
    onset_at = fields.DateTime(required=True)
    reactions = fields.List(fields.String(), required=True)
    symptoms = fields.List(fields.String(), required=True)
    seriousness = fields.String(required=True)
    outcome = fields.String(required=True)
    reported_at = fields.DateTime(required=True)
    status = fields.String(required=True)
    stage_name = fields.String(required=True)
    causality = fields.String(allow_none=True, required=True,
                              metadata={"description": "once the investigation is closed"})


class CitizenAefiListOut(Schema):
    reports = fields.List(fields.Nested(CitizenAefiOut), required=True)


class AefiAlertOut(Schema):
    id = fields.Integer(required=True)
    report_id = fields.Integer(required=True)
    location = fields.String(allow_none=True, required=True)
    raised_at = fields.DateTime(required=True)
    acknowledged_by = fields.String(allow_none=True, required=True)
    acknowledged_at = fields.DateTime(allow_none=True, required=True)
    reference_id = fields.String(required=True)
    facility = fields.String(allow_none=True, required=True)
    serious_criteria = fields.List(fields.String(), required=True)


class AefiAlertListOut(Schema):
    alerts = fields.List(fields.Nested(AefiAlertOut), required=True)


class AefiAlertQuery(_Strict):
    all = fields.Boolean(load_default=False, metadata={"description": "acknowledged too"})


class AefiSignalOut(Schema):
    kind = fields.String(required=True, metadata={"description": "lot or facility"})
    key = fields.String(required=True)
    label = fields.String(required=True)
    reports = fields.Integer(required=True)
    serious = fields.Integer(required=True)
    doses = fields.Integer(required=True)
    rate_per_10000 = fields.Float(allow_none=True, required=True)
    flagged = fields.Boolean(required=True)


class AefiSignalListOut(Schema):
    threshold_per_10000 = fields.Float(required=True)
    min_reports = fields.Integer(required=True)
    signals = fields.List(fields.Nested(AefiSignalOut), required=True)
