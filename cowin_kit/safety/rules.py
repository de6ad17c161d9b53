"""Pure rules of vaccine safety: WHO's AEFI core variables and their consistency, the
investigation stages, WHO causality classification and the signal rate. No I/O.

Sources:
- WHO, Global manual on surveillance of adverse events following immunization (2014,
  revised 2016), and its AEFI reporting form with the core variables endorsed by GACVS
  (22 variables in 2012, 25 with 13 critical in December 2015): onset date and time,
  adverse events (the listed reactions or other), serious yes/no and its criteria,
  outcome, vaccines with batch/lot and dose number, reporter, report date.
- WHO, Causality assessment of an adverse event following immunization (AEFI): user
  manual for the revised WHO classification, 2nd edition (2019): categories A1-A4, B1-B2,
  C, D.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Sequence

from cowin_kit.core.i18n import lazy_gettext

# Serious (WHO form: "Serious: yes/no"); "death" is kept as the report form of the first
# vaccinator API had it (it means serious with the criterion death).
SERIOUSNESS = ("non_serious", "serious", "death")
# WHO's seriousness criteria (the same as ICH E2A's for medicines).
SERIOUS_CRITERIA = ("death", "life_threatening", "hospitalization", "disability",
                    "congenital_anomaly", "other_important")
OUTCOMES = ("recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal",
            "unknown")
# The adverse events listed on WHO's reporting form (anything else: symptoms, free text).
REACTIONS = ("severe_local_reaction", "seizures", "abscess", "sepsis", "encephalopathy",
             "toxic_shock_syndrome", "thrombocytopenia", "anaphylaxis", "fever_38",
             "other")
REPORTER_TYPES = ("staff", "citizen")

SERIOUSNESS_LABELS = {
    "non_serious": lazy_gettext("Not serious"),
    "serious": lazy_gettext("Serious"),
    "death": lazy_gettext("Death"),
}
CRITERIA_LABELS = {
    "death": lazy_gettext("Death"),
    "life_threatening": lazy_gettext("Life-threatening"),
    "hospitalization": lazy_gettext("Hospitalization"),
    "disability": lazy_gettext("Disability"),
    "congenital_anomaly": lazy_gettext("Congenital anomaly"),
    "other_important": lazy_gettext("Other important medical event"),
}
OUTCOME_LABELS = {
    "recovered": lazy_gettext("Recovered"),
    "recovering": lazy_gettext("Recovering"),
    "not_recovered": lazy_gettext("Not recovered"),
    "recovered_with_sequelae": lazy_gettext("Recovered with lasting effects"),
    "fatal": lazy_gettext("Fatal"),
    "unknown": lazy_gettext("Unknown"),
}
REACTION_LABELS = {
    "severe_local_reaction": lazy_gettext("Severe local reaction"),
    "seizures": lazy_gettext("Seizures"),
    "abscess": lazy_gettext("Abscess"),
    "sepsis": lazy_gettext("Sepsis"),
    "encephalopathy": lazy_gettext("Encephalopathy"),
    "toxic_shock_syndrome": lazy_gettext("Toxic shock syndrome"),
    "thrombocytopenia": lazy_gettext("Thrombocytopenia"),
    "anaphylaxis": lazy_gettext("Anaphylaxis"),
    "fever_38": lazy_gettext("Fever of 38 °C or more"),
    "other": lazy_gettext("Other"),
}

# WHO causality classification (2nd edition, 2019).
CAUSALITY = ("A1", "A2", "A3", "A4", "B1", "B2", "C", "D")
CAUSALITY_LABELS = {
    "A1": lazy_gettext("A1 Consistent: vaccine product-related reaction"),
    "A2": lazy_gettext("A2 Consistent: vaccine quality defect-related reaction"),
    "A3": lazy_gettext("A3 Consistent: immunization error-related reaction"),
    "A4": lazy_gettext("A4 Consistent: immunization anxiety-related reaction"),
    "B1": lazy_gettext("B1 Indeterminate: consistent temporal relationship, insufficient evidence "
             "of causality"),
    "B2": lazy_gettext("B2 Indeterminate: qualifying factors point to conflicting trends"),
    "C": lazy_gettext("C Inconsistent: coincidental"),
    "D": lazy_gettext("D Unclassifiable"),
}
CAUSALITY_GROUPS = {"A1": "consistent", "A2": "consistent", "A3": "consistent",
                    "A4": "consistent", "B1": "indeterminate", "B2": "indeterminate",
                    "C": "inconsistent", "D": "unclassifiable"}

STATUSES = ("open", "closed")
# A device's clock may run ahead of the server's: an onset this far in the future is
# still accepted (a field app's report, a dose recorded "now" on another clock).
CLOCK_SKEW = timedelta(minutes=10)


class SafetyRuleError(ValueError):
    """A report or step that breaks a rule: ``code`` (stable) and ``field``."""

    def __init__(self, code: str, field: str, message: str):
        super().__init__(message)
        self.code, self.field, self.message = code, field, message


@dataclass(frozen=True)
class Stage:
    """One investigation stage of the pack: its code, names by locale, and the role whose
    holders act in it."""

    code: str
    names: dict[str, str]
    role: str

    def name(self, locale: str) -> str:
        if not self.names:
            return str(DEFAULT_STAGE_LABELS.get(self.code, self.code))
        return self.names.get(locale) or self.names.get(locale.split("_")[0]) or next(
            iter(self.names.values()), self.code)


# Without a pack's ``safety.stages``: the district investigates, the national AEFI
# committee assesses causality (the WHO global manual's levels).
DEFAULT_STAGE_LABELS = {
    "district_investigation": lazy_gettext("District investigation"),
    "national_causality": lazy_gettext("National causality assessment"),
}
DEFAULT_STAGES = (Stage("district_investigation", {}, "district_admin"),
                  Stage("national_causality", {}, "national_admin"))


def stages_of(configured: Sequence[dict]) -> tuple[Stage, ...]:
    """The pack's stages (dicts of pack.yaml ``safety.stages``), or the default two."""
    if not configured:
        return DEFAULT_STAGES
    return tuple(Stage(s["code"], dict(s["name"]), s["role"]) for s in configured)


def is_serious(seriousness: str, criteria: Sequence[str] = ()) -> bool:
    return seriousness != "non_serious" or bool(criteria)


def check_report(*, seriousness: str, criteria: Sequence[str], outcome: str,
                 reactions: Sequence[str], symptoms: Sequence[str], onset_at: datetime,
                 vaccinated_at: datetime, now: datetime,
                 died_on: date | None = None) -> list[str]:
    """The seriousness criteria to store (``death`` implies the criterion death), or
    SafetyRuleError. Checks what a form cannot: an onset before the vaccination or in the
    future, a serious report without criteria, a death that is not serious."""
    if seriousness not in SERIOUSNESS:
        raise SafetyRuleError("invalid_seriousness", "seriousness", "unknown seriousness")
    if outcome not in OUTCOMES:
        raise SafetyRuleError("invalid_outcome", "outcome", "unknown outcome")
    unknown = [c for c in criteria if c not in SERIOUS_CRITERIA]
    if unknown:
        raise SafetyRuleError("invalid_criteria", "serious_criteria", "unknown criterion")
    if any(r not in REACTIONS for r in reactions):
        raise SafetyRuleError("invalid_reaction", "reactions", "unknown reaction")
    if not reactions and not symptoms:
        raise SafetyRuleError("reaction_required", "reactions", "no adverse event named")
    stored = list(dict.fromkeys(criteria))
    if seriousness == "death" and "death" not in stored:
        stored.insert(0, "death")
    if seriousness == "non_serious" and stored:
        raise SafetyRuleError("criteria_not_serious", "serious_criteria",
                              "criteria given for a non-serious event")
    if outcome == "fatal" and "death" not in stored:
        raise SafetyRuleError("fatal_needs_death", "outcome",
                              "a fatal outcome is serious with the criterion death")
    if died_on is not None and outcome != "fatal":
        raise SafetyRuleError("died_on_not_fatal", "died_on", "a date of death needs the "
                              "outcome died")
    # forms give the onset to the minute: the minute of the vaccination counts as after it
    if _utc(onset_at) < _utc(vaccinated_at).replace(second=0, microsecond=0):
        raise SafetyRuleError("invalid_onset", "onset_at", "onset before the vaccination")
    if _utc(onset_at) > _utc(now) + CLOCK_SKEW:
        raise SafetyRuleError("onset_in_future", "onset_at", "onset in the future")
    if died_on is not None and died_on < _utc(onset_at).date():
        raise SafetyRuleError("invalid_died_on", "died_on", "death before the onset")
    return stored


def _utc(moment: datetime) -> datetime:
    from datetime import timezone

    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def next_stage(stages: Sequence[Stage], current: str) -> Stage | None:
    """The stage after ``current`` (None after the last)."""
    codes = [s.code for s in stages]
    if current not in codes:
        return stages[0] if stages else None
    index = codes.index(current)
    return stages[index + 1] if index + 1 < len(stages) else None


def check_step(stages: Sequence[Stage], current: str, *, causality: str | None,
               close: bool) -> tuple[str, str]:
    """(the stage after the step, the status after it) for a step taken in stage
    ``current``; SafetyRuleError when the step is not allowed. The last stage closes the
    report and needs a WHO causality category; an earlier stage may close a report only
    with one (e.g. an event classified at district level as anxiety-related)."""
    if causality is not None and causality not in CAUSALITY:
        raise SafetyRuleError("invalid_causality", "causality", "unknown causality category")
    following = next_stage(stages, current)
    if following is None or close:
        if causality is None:
            raise SafetyRuleError("causality_required", "causality",
                                  "closing needs a causality category")
        return current, "closed"
    return following.code, "open"


def rate_per_10000(reports: int, doses: int) -> float | None:
    """AEFI reports per 10,000 doses given (None without doses)."""
    if doses <= 0:
        return None
    return reports * 10000.0 / doses


def is_signal(reports: int, doses: int, *, threshold: float, min_reports: int) -> bool:
    """A lot or facility is flagged when it has at least ``min_reports`` reports and more
    than ``threshold`` reports per 10,000 doses it gave (reports without a dose count
    in the scope, e.g. an imported lot, are flagged on the count alone)."""
    if reports < min_reports:
        return False
    rate = rate_per_10000(reports, doses)
    return rate is None or rate > threshold
