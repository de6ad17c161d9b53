"""Indexes the reports need on other domains' tables (no tables of their own: the reports
are aggregates over doses, facilities, places and population figures).

- ``dose(administered_at)``: doses per day for the whole country reads one range of days;
- ``dose(facility_id, administered_at)``: the same for an area or a facility, and every
  report's "doses at facilities inside my area" filter."""

from __future__ import annotations

from sqlalchemy import Index

from cowin_kit.registration.models import Dose

DOSE_ADMINISTERED_AT = Index("ix_dose_administered_at", Dose.administered_at)
DOSE_FACILITY_ADMINISTERED_AT = Index("ix_dose_facility_administered_at", Dose.facility_id,
                                      Dose.administered_at)
