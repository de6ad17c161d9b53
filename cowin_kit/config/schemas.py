"""Marshmallow schemas of a country pack's YAML files (the shape; packs.py checks the
references between files and the country facts)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from cowin_kit.core.durations import DurationError, parse as parse_duration

CODE = validate.Regexp(r"^[a-z0-9_]+$", error="use lower-case letters, digits and _")
PRODUCT_CODE = validate.Regexp(r"^[A-Z0-9_\-]+$", error="use upper-case letters, digits, - and _")
CERTIFICATE_FORMATS = ("vc", "dcc", "shc", "pdf")
ANTIGEN_CODE = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$",
                               error="use 1 to 32 letters, digits, - and _")
TIMED_FROM = ("birth", "pregnancy")
MAX_DURATION_DAYS = 150 * 366


class DurationText(fields.Field):
    """A duration as packs write it (``4d``, ``6w``, ``9m``, ``16y``; a whole number is
    years). Loads to the text as written (an int stays an int), so the installed document
    shows what the pack said; :func:`cowin_kit.core.durations.parse` reads it."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        try:
            duration = parse_duration(value)
        except DurationError as exc:
            raise ValidationError(f"{value!r}: {exc}") from exc
        if duration.approx_days() > MAX_DURATION_DAYS:
            raise ValidationError(f"{value!r}: longer than 150 years")
        return value.strip() if isinstance(value, str) else value


class LocalizedText(fields.Dict):
    """{locale: text}; completeness against the pack's locales is checked afterwards."""

    def __init__(self, **kwargs):
        super().__init__(
            keys=fields.String(validate=validate.Length(min=2)),
            values=fields.String(validate=validate.Length(min=1, error="must not be empty")),
            **kwargs,
        )


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class HierarchyLevelSchema(StrictSchema):
    key = fields.String(required=True, validate=CODE)
    name = LocalizedText(required=True)


class PostalCodeSchema(StrictSchema):
    pattern = fields.String(required=True)
    label = LocalizedText(required=True)


class IdTypeSchema(StrictSchema):
    code = fields.String(required=True, validate=CODE)
    label = LocalizedText(required=True)
    validator = fields.String(required=True)
    min_age = fields.Integer(load_default=0, validate=validate.Range(min=0, max=120))
    registration = fields.Boolean(load_default=True)


class GenderSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_]{1,16}$"))
    label = LocalizedText(required=True)


class CertificatesSchema(StrictSchema):
    issuer = LocalizedText(required=True)
    issuer_id = fields.String()
    formats = fields.List(
        fields.String(validate=validate.OneOf(CERTIFICATE_FORMATS)),
        required=True, validate=validate.Length(min=1),
    )
    logo = fields.String()


class Currency(fields.String):
    """An ISO 4217 currency code Babel knows (fees are formatted with it)."""

    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        from babel.numbers import is_currency

        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_currency(text):
            raise ValidationError(f"{text!r} is not an ISO 4217 currency code Babel knows")
        return text


SITE_PAGES = ("help", "faq", "privacy", "accessibility")


class SitePageSchema(StrictSchema):
    """A page of the official footer (help, FAQ, privacy notice, accessibility statement):
    its title and either its text (paragraphs, shown at /about/<kind>) or the address of
    the ministry's own page."""

    kind = fields.String(required=True, validate=validate.OneOf(SITE_PAGES))
    title = LocalizedText(required=True)
    body = LocalizedText()
    url = fields.String(validate=validate.Regexp(r"^https://\S+$",
                                                 error="an https:// address"))


class SiteSchema(StrictSchema):
    """pack.yaml ``site:``: what fills the official header and footer of every page
    (docs/design.md). The header shows ``certificates.logo`` as the ministry's mark."""

    ministry = LocalizedText()
    helpline = fields.String(validate=validate.Regexp(r"^[0-9+][0-9 \-]{2,19}$",
                                                      error="a phone number: digits, "
                                                            "spaces, - and a leading +"))
    helpline_hours = LocalizedText()
    pages = fields.List(fields.Nested(SitePageSchema), load_default=list)


class PackSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2}$",
                                                                 error="two upper-case letters"))
    version = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = LocalizedText(required=True)
    timezone = fields.String(required=True)
    locales = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    default_locale = fields.String(required=True)
    phone_region = fields.String(required=True)
    max_beneficiaries_per_account = fields.Integer(
        load_default=4, validate=validate.Range(min=1, max=20))
    birth_capture = fields.String(load_default="year", validate=validate.OneOf(["year", "date"]))
    currency = Currency()
    site = fields.Nested(lambda: SiteSchema(), load_default=dict)
    routine = fields.Nested(lambda: RoutineSchema(), load_default=dict)
    field = fields.Nested(lambda: FieldSchema(), load_default=dict)
    stock = fields.Nested(lambda: StockSettingsSchema(), load_default=dict)
    safety = fields.Nested(lambda: SafetySchema(), load_default=dict)
    corrections = fields.Nested(lambda: CorrectionsSchema(), load_default=dict)
    channels = fields.Nested(lambda: ChannelsSchema(), load_default=dict)
    public_data = fields.Nested(lambda: PublicDataSchema(), load_default=dict)
    hierarchy = fields.List(fields.Nested(HierarchyLevelSchema), required=True,
                            validate=validate.Length(min=1, max=5,
                                                     error="1 to 5 levels"))
    postal_code = fields.Nested(PostalCodeSchema)
    id_types = fields.List(fields.Nested(IdTypeSchema), required=True,
                           validate=validate.Length(min=1))
    genders = fields.List(fields.Nested(GenderSchema), required=True,
                          validate=validate.Length(min=1))
    certificates = fields.Nested(CertificatesSchema, required=True)


class KeywordsSchema(StrictSchema):
    """Extra spellings of each SMS keyword (the kit's own, in every pack language, always
    work too: docs/channels.md)."""

    status = fields.List(fields.String(validate=validate.Length(min=1, max=16)))
    centre = fields.List(fields.String(validate=validate.Length(min=1, max=16)))
    due = fields.List(fields.String(validate=validate.Length(min=1, max=16)))
    stop = fields.List(fields.String(validate=validate.Length(min=1, max=16)))
    start = fields.List(fields.String(validate=validate.Length(min=1, max=16)))


class ChannelsSchema(StrictSchema):
    """pack.yaml ``channels:``: the USSD/SMS channels' country facts (all optional)."""

    keywords = fields.Nested(KeywordsSchema)


class FieldSchema(StrictSchema):
    """pack.yaml ``field:``: settings of the offline field app (all optional)."""

    # days without a sync after which the app erases its local data (default 7)
    wipe_after_days = fields.Integer(validate=validate.Range(min=1, max=90))


# Roles that may run an investigation stage (cowin_kit.identity.access.ROLE_ACTIONS keys
# whose holders carry aefi.investigate; a unit test keeps the two lists together).
STAGE_ROLES = ("national_admin", "state_admin", "district_admin")


class SafetyStageSchema(StrictSchema):
    code = fields.String(required=True, validate=[CODE, validate.Length(max=32)])
    name = LocalizedText(required=True)
    role = fields.String(required=True, validate=validate.OneOf(
        STAGE_ROLES, error="must be one of: " + ", ".join(STAGE_ROLES)))


class SafetySchema(StrictSchema):
    """pack.yaml ``safety:``: AEFI investigation and signals (all optional; the defaults
    are in :class:`cowin_kit.config.runtime.SafetySettings`)."""

    stages = fields.List(fields.Nested(SafetyStageSchema),
                         validate=validate.Length(min=1, max=8, error="1 to 8 stages"))
    signal_per_10000_doses = fields.Float(validate=validate.Range(min=0, min_inclusive=False,
                                                                  max=10000))
    signal_min_reports = fields.Integer(validate=validate.Range(min=1, max=1000))
    alert_level = fields.String(validate=CODE)


class LicenceSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    url = fields.Url(required=True, schemes={"https", "http"})


class PublicDataSchema(StrictSchema):
    """pack.yaml ``public_data:``: the public dashboard and open data (all optional; the
    defaults are in :class:`cowin_kit.config.runtime.PublicDataSettings`)."""

    suppress_below = fields.Integer(validate=validate.Range(min=1, max=100))
    lowest_level = fields.String(validate=CODE)
    facility_figures = fields.Boolean()
    licence = fields.Nested(LicenceSchema)
    publisher = LocalizedText()


class CorrectionsSchema(StrictSchema):
    """pack.yaml ``corrections:``: grievances (all optional; the defaults are in
    :class:`cowin_kit.config.runtime.CorrectionsSettings`)."""

    # days within which a citizen's grievance should be answered (default 7): older ones
    # are marked overdue in the staff's queue, and citizens are told the time
    grievance_resolve_days = fields.Integer(validate=validate.Range(min=1, max=90))


class RoutineSchema(StrictSchema):
    """pack.yaml ``routine:``: settings of routine immunization (all optional; the
    defaults are in :class:`cowin_kit.config.runtime.RoutineSettings`)."""

    overdue_after = DurationText()
    zero_dose_age = DurationText()
    id_exempt_below = DurationText()
    grace = DurationText()
    remind_before = DurationText()
    remind_after_missed = DurationText()
    household_limit = fields.Integer(validate=validate.Range(min=1, max=50))


class ProductCodesSchema(StrictSchema):
    icd11 = fields.String()
    snomed = fields.String()
    eu_product = fields.String()
    eu_mah = fields.String()
    eu_prophylaxis = fields.String()
    cvx = fields.String()


class ProductStockSchema(StrictSchema):
    """vaccines.yaml products[].stock: how the product is supplied and how long an opened
    vial may be used (WHO multi-dose vial policy, WHO/IVB/14.07)."""

    doses_per_vial = fields.Integer(required=True, validate=validate.Range(min=1, max=100))
    open_vial_days = fields.Integer(validate=validate.Range(min=1, max=28))
    discard_at_session_end = fields.Boolean()


class StockSettingsSchema(StrictSchema):
    """pack.yaml ``stock:`` (all optional; defaults in cowin_kit.stock.services)."""

    near_expiry = DurationText()      # lots expiring this soon are alerted (default 30d)
    min_days_of_stock = fields.Integer(validate=validate.Range(min=1, max=365))


class ProductSchema(StrictSchema):
    code = fields.String(required=True, validate=PRODUCT_CODE)
    name = LocalizedText(required=True)
    manufacturer = fields.String(required=True)
    codes = fields.Nested(ProductCodesSchema, load_default=dict)
    antigens = fields.List(fields.String(validate=ANTIGEN_CODE), load_default=list)
    stock = fields.Nested(ProductStockSchema, load_default=dict)


class DoseSchema(StrictSchema):
    number = fields.Integer(required=True, validate=validate.Range(min=1, max=20))
    min_interval_days = fields.Integer(validate=validate.Range(min=0, max=3650))
    max_interval_days = fields.Integer(validate=validate.Range(min=0, max=3650),
                                       allow_none=True)
    booster = fields.Boolean(load_default=False)
    products = fields.List(fields.String())
    age = DurationText()
    min_age = DurationText()
    max_age = DurationText()
    min_interval = DurationText()
    max_interval = DurationText()
    grace = DurationText()
    not_needed_if_started_after = DurationText()


class ScheduleSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9_\-]+$"))
    disease = LocalizedText(required=True)
    target_disease = fields.String(required=True)
    products = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    interchangeable = fields.Boolean(load_default=False)
    min_age = DurationText(load_default=0)
    max_age = DurationText(load_default=None, allow_none=True)
    routine = fields.Boolean(load_default=False)
    timed_from = fields.String(load_default="birth", validate=validate.OneOf(TIMED_FROM))
    start_max_age = DurationText()
    grace = DurationText()
    prior_series_within = DurationText()
    # Who the schedule is for besides age: gender codes of pack.yaml, and location codes
    # of locations.csv whose subtrees it covers (packs.py checks both).
    sex = fields.List(fields.String(validate=validate.Length(min=1, error="must not be empty")),
                      validate=validate.Length(min=1, error="give at least one gender code, "
                                                             "or leave sex out"))
    areas = fields.List(fields.String(validate=validate.Length(min=1, error="must not be empty")),
                        validate=validate.Length(min=1, error="give at least one location "
                                                               "code, or leave areas out"))
    doses = fields.List(fields.Nested(DoseSchema), required=True,
                        validate=validate.Length(min=1))


class VaccinesSchema(StrictSchema):
    products = fields.List(fields.Nested(ProductSchema), required=True,
                           validate=validate.Length(min=1))
    schedules = fields.List(fields.Nested(ScheduleSchema), required=True,
                            validate=validate.Length(min=1))


__all__ = ["SITE_PAGES", "SiteSchema",
           "DurationText", "RoutineSchema", "SafetySchema", "STAGE_ROLES", "TIMED_FROM", "PackSchema", "VaccinesSchema", "ValidationError", "CERTIFICATE_FORMATS"]
