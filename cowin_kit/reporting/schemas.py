"""Marshmallow schemas of the report API (/api/v1/reports/...)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from cowin_kit.reporting.rules import MAX_DAYS


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class NoQuery(_Strict):
    """A report that takes no parameters (unknown ones are refused)."""


class DaysQuery(_Strict):
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=MAX_DAYS))


class RegionQuery(_Strict):
    parent = fields.String(validate=validate.Length(min=1, max=64))


class DayOut(Schema):
    date = fields.Date(required=True)
    dose_1 = fields.Integer(required=True)
    dose_2 = fields.Integer(required=True)
    booster = fields.Integer(required=True)
    total = fields.Integer(required=True)


class DosesPerDayOut(Schema):
    days = fields.List(fields.Nested(DayOut), required=True)


class RegionCoverageOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    first_doses = fields.Integer(required=True)
    completed = fields.Integer(required=True)
    population = fields.Integer(required=True, allow_none=True)
    first_dose_percent = fields.Float(required=True, allow_none=True)
    completed_percent = fields.Float(required=True, allow_none=True)


class CoverageOut(Schema):
    parent = fields.String(required=True, allow_none=True)
    regions = fields.List(fields.Nested(RegionCoverageOut), required=True)


class AgeSexCellOut(Schema):
    age_band = fields.String(required=True)
    sex = fields.String(required=True)
    first_doses = fields.Integer(required=True)
    completed = fields.Integer(required=True)
    population = fields.Integer(required=True, allow_none=True)
    first_dose_percent = fields.Float(required=True, allow_none=True)


class AgeSexOut(Schema):
    age_bands = fields.List(fields.String(), required=True)
    sexes = fields.List(fields.String(), required=True)
    cells = fields.List(fields.Nested(AgeSexCellOut), required=True)


class DropoutRegionOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    due = fields.Integer(required=True)
    without_dose_2 = fields.Integer(required=True)
    dropout_percent = fields.Float(required=True, allow_none=True)


class DropoutOut(Schema):
    parent = fields.String(required=True, allow_none=True)
    regions = fields.List(fields.Nested(DropoutRegionOut), required=True)


class IndicatorQuery(_Strict):
    cohort = fields.Integer(required=True, validate=validate.Range(min=1900, max=2200),
                            metadata={"description": "birth year of the children"})
    parent = fields.String(validate=validate.Length(min=1, max=64))
    on = fields.Date(metadata={"description": "report day (default: today)"})


class IndicatorRowOut(Schema):
    region_code = fields.String(required=True)
    region_name = fields.String(required=True)
    birth_cohort = fields.Integer(required=True)
    age = fields.String(required=True, metadata={"description": "12m or 24m"})
    registered = fields.Integer(required=True)
    reached_age = fields.Integer(required=True, metadata={
        "description": "registered children of the cohort who had reached the age: the "
                       "denominator of the percentages"})
    population = fields.Integer(required=True, allow_none=True, metadata={
        "description": "the pack's population figure of population_band, where it has one"})
    population_band = fields.String(required=True)
    dtp1 = fields.Integer(required=True)
    dtp1_percent = fields.Float(required=True, allow_none=True)
    dtp3 = fields.Integer(required=True)
    dtp3_percent = fields.Float(required=True, allow_none=True)
    mcv1 = fields.Integer(required=True)
    mcv1_percent = fields.Float(required=True, allow_none=True)
    mcv2 = fields.Integer(required=True)
    mcv2_percent = fields.Float(required=True, allow_none=True)
    dropout_dtp1_dtp3_percent = fields.Float(required=True, allow_none=True)
    dropout_mcv1_mcv2_percent = fields.Float(required=True, allow_none=True)
    zero_dose = fields.Integer(required=True, metadata={"description": "no DTP1 by the age"})
    zero_dose_percent = fields.Float(required=True, allow_none=True)
    never_vaccinated = fields.Integer(required=True, allow_none=True, metadata={
        "description": "registered, past the pack's routine.zero_dose_age, no routine dose"})


class IndicatorsOut(Schema):
    parent = fields.String(required=True, allow_none=True)
    birth_cohort = fields.Integer(required=True)
    on = fields.Date(required=True)
    rows = fields.List(fields.Nested(IndicatorRowOut), required=True)


# --- public figures and open data (/api/v1/open-data) ----------------------------------------


class OpenDataQuery(_Strict):
    start = fields.String(data_key="from", validate=validate.Length(equal=10),
                          metadata={"description": "first day, YYYY-MM-DD (default: 29 days "
                                                   "before the last)"})
    end = fields.String(data_key="to", validate=validate.Length(equal=10),
                        metadata={"description": "last day, YYYY-MM-DD (default: today)"})
    area = fields.String(validate=validate.Length(min=1, max=64),
                         metadata={"description": "an area code: only its figures"})
    level = fields.Integer(validate=validate.Range(min=1, max=10),
                           metadata={"description": "the hierarchy level of the area "
                                                    "column (default: the one below area)"})


class AreaQuery(_Strict):
    area = fields.String(validate=validate.Length(min=1, max=64),
                         metadata={"description": "an area code (default: the country)"})


Count = fields.Raw(required=True, metadata={
    "description": "a count, or the text \"<N\" when it is suppressed (from 1 to N-1)"})


class OpenDataRowOut(Schema):
    date = fields.String(required=True)
    area_code = fields.String(required=True)
    area_name = fields.String(required=True)
    area_level = fields.Integer(required=True)
    product = fields.String(required=True)
    dose_group = fields.String(required=True,
                               metadata={"description": "dose1, dose2, booster or routine"})
    sex = fields.String(required=True)
    age_group = fields.String(required=True)
    doses = Count


class OpenDataOut(Schema):
    licence = fields.Dict(required=True)
    suppressed_below = fields.Integer(required=True)
    rows = fields.List(fields.Nested(OpenDataRowOut), required=True)


class PublicAreaOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    total = Count
    first_dose = Count
    completed = Count
    today = Count


class PublicSummaryOut(Schema):
    date = fields.String(required=True)
    area = fields.String(allow_none=True, required=True)
    suppressed_below = fields.Integer(required=True)
    doses_today = Count
    doses = Count
    doses_by_group = fields.Dict(required=True)
    people_first_dose = Count
    people_completed = Count
    sessions_today = Count
    sites_today = Count
    areas = fields.List(fields.Nested(PublicAreaOut), required=True)
    by_age_group = fields.Dict(required=True)
    by_sex = fields.Dict(required=True)
    by_product = fields.Dict(required=True)
    last_30_days = fields.List(fields.Dict(), required=True)
    routine_indicators = fields.List(fields.Dict(), required=True)
    licence = fields.Dict(required=True)
