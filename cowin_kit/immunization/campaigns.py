"""Campaigns (supplementary immunization activities, e.g. a measles-rubella catch-up for
9 months to 15 years in chosen districts, HPV for girls 9-14): planning, the target
population of each area, recording campaign doses, and daily progress against target.

Campaign doses are Dose rows with ``campaign_id`` set and ``series = "campaign:<code>"``:
the routine series and the appointment-booked series never count them, and the series
uniqueness (person, series, dose number) keeps a person's campaign doses apart. An area is
a location and everything below it; a dose belongs to the area of the facility where it
was given. Each write function owns its transaction (commits on success, audits, writes
nothing on error). ``actor=None`` is the operator at the command line (the whole
country)."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import case, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from cowin_kit.core.i18n import gettext as _, ngettext
from cowin_kit.csvimport import Problems, Row, decode, read_bytes, read_table
from cowin_kit.geography.models import Facility, Location, PopulationFigure
from cowin_kit.identity import access
from cowin_kit.identity.rules import vaccinator_name
from cowin_kit.identity.models import Gender, StaffUser
from cowin_kit.immunization import duestate, rules
from cowin_kit.immunization.models import Campaign, CampaignArea, campaign_series
from cowin_kit.programme.models import VaccineProduct
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.stock import services as stock
from cowin_kit.vaccination.services import staff_facility

MANAGE = "campaign.manage"
READ = "report.read"
MAX_AREAS = 500
MAX_TARGET = 10**10


# --- reading ---------------------------------------------------------------------------------

def get_campaign(session: Session, code: str) -> Campaign:
    campaign = session.scalars(select(Campaign).where(Campaign.code == str(code))).first()
    if campaign is None:
        raise NotFound(_("No campaign with code %(code)s.", code=code),
                       code="campaign_not_found")
    return campaign


def _area_visible(session: Session, actor: StaffUser | None, location_id: int,
                  action: str) -> bool:
    return actor is None or access.can(actor, action,
                                       access.scope_for_location(session, location_id))


def visible_areas(session: Session, actor: StaffUser | None, campaign: Campaign,
                  action: str = READ) -> list[CampaignArea]:
    """The campaign's areas the actor's grants reach (a grant on the area or above it)."""
    return [a for a in campaign.areas if _area_visible(session, actor, a.location_id, action)]


def list_campaigns(session: Session, actor: StaffUser | None) -> list[Campaign]:
    """Newest first: the campaigns with at least one area the actor may report on."""
    if actor is not None and not (access.grants_carrying(actor, READ)
                                  or access.grants_carrying(actor, MANAGE)):
        raise Forbidden(_("You may not read reports."), code="forbidden")
    campaigns = session.scalars(select(Campaign).order_by(Campaign.starts_on.desc(),
                                                          Campaign.id.desc()))
    return [c for c in campaigns if actor is None or visible_areas(session, actor, c)
            or visible_areas(session, actor, c, MANAGE)]


# --- planning --------------------------------------------------------------------------------

@dataclass(frozen=True)
class CampaignPlan:
    code: str
    names: Mapping[str, str]
    products: Sequence[str]
    ages: str                 # e.g. "9m-15y"
    areas: Sequence[str]      # location codes
    starts_on: date
    ends_on: date
    sex: str | None = None
    doses_per_person: int = 1


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_campaign", fields={field: [message]})


def create_campaign(session: Session, pack: ActivePack, actor: StaffUser | None,
                    plan: CampaignPlan) -> Campaign:
    """Checks the plan (code, names in the pack's locales, products, ages, sex, areas that
    do not overlap, dates) and saves it; each area's target is taken from the pack's
    population figures where they cover the ages (else set later from a micro-plan)."""
    if not rules.CODE.match(plan.code or ""):
        raise _invalid("code", _("Use 1 to 32 letters, digits, - or _."))
    if session.scalar(select(Campaign.id).where(Campaign.code == plan.code)) is not None:
        raise Conflict(_("A campaign with code %(code)s exists.", code=plan.code),
                       code="campaign_exists")
    names = {str(k): " ".join(str(v).split()) for k, v in dict(plan.names).items()}
    unknown = sorted(set(names) - set(pack.locales))
    if unknown:
        raise _invalid("names", _("Not a language of the country pack: %(codes)s.",
                                  codes=", ".join(unknown)))
    if not names.get(pack.default_locale) or any(not 1 <= len(v) <= 200 for v in names.values()):
        raise _invalid("names", _("Give a name (up to 200 characters) in %(locale)s.",
                                  locale=pack.default_locale))
    products = list(dict.fromkeys(plan.products))
    known = set(session.scalars(select(VaccineProduct.code)
                                .where(VaccineProduct.code.in_(products))))
    if not products or set(products) - known:
        raise _invalid("products", _("No vaccine with code %(code)s.",
                                     code=", ".join(sorted(set(products) - known)) or "-"))
    try:
        ages = rules.parse_age_range(plan.ages)
    except ValueError:
        raise _invalid("ages", _("Give the ages like 9m-15y (from 9 months until the 15th "
                                 "birthday).")) from None
    if plan.sex is not None and session.scalar(
            select(Gender.id).where(Gender.code == plan.sex)) is None:
        raise _invalid("sex", _("Unknown sex %(code)s.", code=plan.sex))
    if plan.ends_on < plan.starts_on:
        raise _invalid("ends_on", _("The campaign ends before it starts."))
    if not 1 <= plan.doses_per_person <= 5:
        raise _invalid("doses_per_person", _("Give 1 to 5 doses a person."))
    codes = list(dict.fromkeys(plan.areas))
    if not 1 <= len(codes) <= MAX_AREAS:
        raise _invalid("areas", ngettext("Give 1 to %(num)d area.", "Give 1 to %(num)d areas.",
                                         MAX_AREAS))
    locations = {loc.code: loc for loc in session.scalars(
        select(Location).where(Location.code.in_(codes)))}
    missing = [c for c in codes if c not in locations]
    if missing:
        raise _invalid("areas", _("No location with code %(code)s.", code=", ".join(missing)))
    paths = {}
    for code in codes:
        scope = access.scope_for_location(session, locations[code].id)
        if actor is not None:
            access.check_access(actor, MANAGE, scope,
                                message=_("You may not plan a campaign in %(area)s.",
                                          area=code))
        paths[code] = scope.location_path
    for code in codes:
        inside = [other for other in codes if other != code
                  and locations[other].id in paths[code]]
        if inside:
            raise _invalid("areas", _("%(area)s lies inside %(other)s: give areas that do "
                                      "not overlap.", area=code, other=inside[0]))
    campaign = Campaign(code=plan.code, names=names, products=products,
                        min_age=str(ages.min_age), below_age=str(ages.below_age),
                        sex=plan.sex, starts_on=plan.starts_on, ends_on=plan.ends_on,
                        doses_per_person=plan.doses_per_person,
                        created_by=actor.username if actor is not None else "cli")
    for code in codes:
        target = population_target(session, locations[code].id, ages, plan.sex)
        campaign.areas.append(CampaignArea(location_id=locations[code].id, target=target,
                                           target_source="population" if target else ""))
    session.add(campaign)
    session.flush()
    # a campaign of one area is that area's; of several, national
    audit.record(session, "campaign.create", "campaign", campaign.code,
                 place=audit.at(campaign.areas[0].location_id) if len(campaign.areas) == 1
                 else audit.NATIONAL, ages=str(ages),
                 products=products, areas=codes, sex=plan.sex,
                 starts_on=plan.starts_on.isoformat(), ends_on=plan.ends_on.isoformat())
    session.commit()
    return campaign


def _subtree(location_ids: Sequence[int], name: str):
    anchor = select(Location.id.label("id"), Location.id.label("area_id")).where(
        Location.id.in_(list(location_ids))).cte(name, recursive=True)
    child = aliased(Location)
    return anchor.union_all(select(child.id, anchor.c.area_id)
                            .join(anchor, child.parent_id == anchor.c.id))


def population_target(session: Session, location_id: int, ages: rules.AgeRange,
                      sex: str | None) -> int | None:
    """The people of the ages (and sex) in the area from the pack's population figures of
    the latest year, or None when the figures do not cover them."""
    year = session.scalar(select(func.max(PopulationFigure.year)))
    if year is None:
        return None
    tree = _subtree([location_id], "campaign_population")
    figures = list(session.execute(
        select(PopulationFigure.age_band, PopulationFigure.sex, func.sum(PopulationFigure.count))
        .where(PopulationFigure.year == year,
               PopulationFigure.location_id.in_(select(tree.c.id)))
        .group_by(PopulationFigure.age_band, PopulationFigure.sex)))
    by_sex = [(band, int(n)) for band, s, n in figures if s != "all"]
    if sex is not None:
        chosen = [(band, int(n)) for band, s, n in figures if s == sex]
    else:
        chosen = by_sex or [(band, int(n)) for band, s, n in figures if s == "all"]
    return rules.target_from_bands(chosen, ages)


# --- micro-plan targets ----------------------------------------------------------------------

TARGET_COLUMNS = ("campaign_code", "location_code", "target")


def import_targets(session: Session, actor: StaffUser | None, source: Any, *,
                   file_name: str) -> int:
    """A micro-plan CSV (campaign_code, location_code, target) sets the target of each
    named campaign area: every problem reported at once as ``FILE:LINE: column: message``
    (csvimport.ImportInvalid) and then nothing is written. The number of areas set."""
    problems = Problems(file_name)
    text = decode(read_bytes(source), problems)
    rows: list[tuple[CampaignArea, int, int]] = []
    if text is not None:
        table = read_table(text, problems, TARGET_COLUMNS, lambda c: c in TARGET_COLUMNS)
        campaigns: dict[str, Campaign | None] = {}
        seen: dict[tuple[str, str], int] = {}
        if table is not None:
            for line, values in table.records:
                row = Row(line, values, problems)
                code = row.text("campaign_code", 32, required=True)
                place = row.text("location_code", 64, required=True)
                target = row.integer("target", 0, MAX_TARGET, None)
                if target is None and row.ok:
                    row.bad("target", _("must not be empty"))
                if not row.ok:
                    continue
                if code not in campaigns:
                    campaigns[code] = session.scalars(
                        select(Campaign).where(Campaign.code == code)).first()
                campaign = campaigns[code]
                if campaign is None:
                    row.bad("campaign_code", _("No campaign with code %(code)s.", code=code))
                    continue
                area = next((a for a in campaign.areas if session.get(
                    Location, a.location_id).code == place), None)
                if area is None:
                    row.bad("location_code", _("not one of the campaign's areas"))
                    continue
                if (code, place) in seen:
                    row.bad("location_code", _("already given on line %(line)d",
                                               line=seen[(code, place)]))
                    continue
                if actor is not None and not _area_visible(session, actor, area.location_id,
                                                           MANAGE):
                    row.bad("location_code", _("You may not plan a campaign in %(area)s.",
                                               area=place))
                    continue
                seen[(code, place)] = line
                rows.append((area, int(target), line))
    if not rows and not problems.items:
        problems.add(1, "(file)", _("file has no rows"))
    problems.raise_if_any()
    for area, target, _line in rows:
        before = area.target
        area.target, area.target_source = target, "microplan"
        audit.record(session, "campaign.target", "campaign", area.campaign.code,
                     place=audit.at(area.location_id), location=session.get(Location, area.location_id).code, target=target,
                     before=before, file=file_name)
    session.commit()
    return len(rows)


# --- recording doses -------------------------------------------------------------------------

@dataclass(frozen=True)
class CampaignDose:
    dose: Dose
    campaign: Campaign
    created: bool
    # what the stock draw noticed (a lot the facility holds none of...)
    warnings: list[stock.StockWarning] = field(default_factory=list)


def _age_range(campaign: Campaign) -> rules.AgeRange:
    return rules.parse_age_range(f"{campaign.min_age}-{campaign.below_age}")


def _in_areas(session: Session, campaign: Campaign, location_id: int) -> bool:
    path = access.scope_for_location(session, location_id).location_path
    return any(area.location_id in path for area in campaign.areas)


def record_campaign_dose(session: Session, pack: ActivePack, vaccinator: StaffUser, *,
                         campaign_code: str, reference_id: str, product_code: str, lot: str,
                         facility_code: str | None = None,
                         administered_at: datetime | None = None,
                         idempotency_key: str | None = None) -> CampaignDose:
    """A campaign dose given by ``vaccinator`` (``dose.record`` at the facility): refused
    with a RuleViolation outside the campaign's dates (in the pack's timezone), areas, age
    band or sex, for another product, or beyond its doses per person."""
    campaign = get_campaign(session, campaign_code)
    if idempotency_key:
        existing = session.scalars(select(Dose).where(
            Dose.idempotency_key == idempotency_key)).first()
        if existing is not None:
            person = session.get(Beneficiary, existing.beneficiary_id)
            if existing.campaign_id != campaign.id or person.reference_id != str(reference_id):
                raise Conflict(_("This Idempotency-Key was used for another dose."),
                               code="idempotency_key_reused")
            return CampaignDose(existing, campaign, False)
    facility = staff_facility(session, vaccinator, facility_code)
    person = session.scalars(select(Beneficiary).where(
        Beneficiary.reference_id == str(reference_id))).first()
    if person is None:
        raise NotFound(_("No beneficiary with reference ID %(id)s.", id=reference_id),
                       code="beneficiary_not_found")
    if product_code not in campaign.products:
        raise RuleViolation(_("This campaign gives %(products)s, not %(product)s.",
                              products=", ".join(campaign.products), product=product_code),
                            code="campaign_product")
    product = session.scalars(select(VaccineProduct).where(
        VaccineProduct.code == product_code)).one()
    lot = " ".join(str(lot).split())
    if not 1 <= len(lot) <= 64:
        raise InvalidInput(_("Give the lot (batch) number."), code="invalid_lot",
                           fields={"lot": [_("Give the lot (batch) number.")]})
    now = datetime.now(timezone.utc)
    moment = administered_at or now
    if moment.tzinfo is None:
        raise InvalidInput(_("Give the time with its UTC offset."), code="invalid_time")
    if moment > now:
        raise InvalidInput(_("A dose cannot be given in the future."), code="invalid_time")
    day = moment.astimezone(zoneinfo.ZoneInfo(pack.document["timezone"])).date()
    if not campaign.starts_on <= day <= campaign.ends_on:
        raise RuleViolation(_("The campaign runs from %(start)s to %(end)s.",
                              start=campaign.starts_on.isoformat(),
                              end=campaign.ends_on.isoformat()), code="campaign_not_running")
    if not _in_areas(session, campaign, facility.location_id):
        raise RuleViolation(_("This facility is outside the campaign's areas."),
                            code="campaign_area")
    # Without a full birth date, the middle of the birth year.
    birth = person.birth_date or date(person.birth_year, 7, 1)
    ages = _age_range(campaign)
    if not ages.holds(birth, day):
        raise RuleViolation(_("The campaign is for ages %(ages)s; this person is outside "
                              "them.", ages=str(ages)), code="campaign_age")
    if campaign.sex is not None:
        sex = session.scalar(select(Gender.code).where(Gender.id == person.gender_id))
        if sex != campaign.sex:
            raise RuleViolation(_("This campaign is for one sex only (%(sex)s).",
                                  sex=campaign.sex), code="campaign_sex")
    given = session.scalar(select(func.count()).select_from(Dose).where(
        Dose.beneficiary_id == person.id, Dose.series == campaign.series)) or 0
    if given >= campaign.doses_per_person:
        raise RuleViolation(_("This person already had the campaign's dose."),
                            code="campaign_dose_given")
    # an expired or recalled lot is refused before anything is written
    registered_lot = stock.check_lot(session, product_id=product.id, product_code=product.code,
                                     number=lot, day=day)
    dose = Dose(beneficiary_id=person.id, series=campaign_series(campaign.code),
                dose_number=given + 1, product_id=product.id, administered_at=moment, lot=lot,
                facility_id=facility.id, vaccinator=vaccinator_name(vaccinator),
                recorded_at=now,
                idempotency_key=idempotency_key, source="recorded", campaign_id=campaign.id)
    session.add(dose)
    try:
        session.flush()
    except IntegrityError:  # the same dose recorded at the same moment by another request
        session.rollback()
        raise Conflict(_("This dose was just recorded."), code="dose_already_recorded") from None
    audit.record(session, "campaign.dose", "dose", dose.id, place=audit.at_facility(facility),
                 campaign=campaign.code,
                 beneficiary=person.reference_id, vaccine=product.code, lot=lot,
                 facility=facility.code, dose=dose.dose_number)
    warnings = stock.draw(session, pack, lot=registered_lot, product_id=product.id,
                          product_code=product.code, facility_id=facility.id, moment=moment,
                          dose_id=dose.id, actor=vaccinator.username)
    # a campaign dose counts in the routine series of its product (MR): the kept due state
    duestate.refresh_people(session, pack, [person.id])
    session.commit()
    return CampaignDose(dose, campaign, True, warnings)


# --- progress --------------------------------------------------------------------------------

@dataclass(frozen=True)
class AreaProgress:
    code: str
    name: str
    target: int | None
    target_source: str
    days: list[rules.DayProgress]

    @property
    def doses(self) -> int:
        return self.days[-1].cumulative if self.days else 0

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.doses / self.target, 1) if self.target else None


@dataclass(frozen=True)
class CampaignProgress:
    campaign: Campaign
    days: list[date]
    areas: list[AreaProgress]


def campaign_progress(session: Session, pack: ActivePack, actor: StaffUser | None,
                      code: str, *, locale: str = "en", today: date | None = None
                      ) -> CampaignProgress:
    """Doses per day, cumulative and per cent of target for each area the actor may read,
    from the first day to today (or the last day)."""
    campaign = get_campaign(session, code)
    areas = visible_areas(session, actor, campaign)
    if not areas:
        raise Forbidden(_("You may not read reports there."), code="forbidden")
    zone = zoneinfo.ZoneInfo(pack.document["timezone"])
    today = today or datetime.now(zone).date()
    days = rules.campaign_days(campaign.starts_on, campaign.ends_on, today)
    counts: dict[tuple[int, int], int] = {}
    if days:
        def midnight(day: date) -> datetime:
            return datetime.combine(day, time(0), zone).astimezone(timezone.utc)

        ends = [midnight(d + timedelta(days=1)) for d in days]  # local days: 23 to 25 hours
        start = midnight(days[0])
        index = case(*[(Dose.administered_at < end, literal(i)) for i, end in enumerate(ends)],
                     else_=literal(-1))
        tree = _subtree([a.location_id for a in areas], "campaign_area_tree")
        for area_location, day_index, n in session.execute(
                select(tree.c.area_id, index, func.count(Dose.id))
                .select_from(Dose)
                .join(Facility, Facility.id == Dose.facility_id)
                .join(tree, tree.c.id == Facility.location_id)
                .where(Dose.campaign_id == campaign.id, Dose.administered_at >= start,
                       Dose.administered_at < ends[-1])
                .group_by(tree.c.area_id, index)):
            if day_index >= 0:
                counts[(area_location, int(day_index))] = int(n)
    out = []
    for area in areas:
        location = session.get(Location, area.location_id)
        by_day = {d: counts.get((area.location_id, i), 0) for i, d in enumerate(days)}
        out.append(AreaProgress(location.code, location.localized_name(locale), area.target,
                                area.target_source, rules.progress(days, by_day, area.target)))
    return CampaignProgress(campaign, days, out)


def progress_csv_rows(report: CampaignProgress) -> Iterable[list[Any]]:
    for area in report.areas:
        for day in area.days:
            yield [report.campaign.code, area.code, area.name, day.day.isoformat(), day.doses,
                   day.cumulative, area.target, day.percent]


PROGRESS_COLUMNS = ("campaign_code", "area_code", "area_name", "date", "doses", "cumulative",
                    "target", "target_percent")
