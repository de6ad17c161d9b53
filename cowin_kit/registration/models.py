"""Citizen accounts, OTP transactions, beneficiaries, their corrections and their
immunization record (the doses given, written by cowin_kit.vaccination)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cowin_kit.core.db import Base, BigId, new_uuid, utcnow


class CitizenAccount(Base):
    """One verified mobile number (E.164), holding up to the pack's N beneficiaries."""

    __tablename__ = "citizen_account"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mobile: Mapped[str] = mapped_column(String(20), unique=True)
    locale: Mapped[Optional[str]] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # carried in its tokens; raised on sign-out and mobile change to end every older one
    token_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    # the holder asked for no routine dose reminders (immunization.reminders)
    reminders_opt_out: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    beneficiaries: Mapped[list["Beneficiary"]] = relationship(
        back_populates="account", order_by="Beneficiary.id"
    )


class OtpTransaction(Base):
    """One OTP sent to a mobile number; only a keyed hash of the code is stored."""

    __tablename__ = "otp_transaction"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    mobile: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(16))  # sign_in | change_mobile
    account_id: Mapped[Optional[int]] = mapped_column(
        BigId, ForeignKey("citizen_account.id", ondelete="CASCADE"))
    otp_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    verified_at: Mapped[Optional[datetime]]

    __table_args__ = (Index("ix_otp_transaction_mobile_created", "mobile", "created_at"),)


class Beneficiary(Base):
    """A family member registered under an account, with one photo-ID document, or none:
    a child below the pack's ``routine.id_exempt_below`` age may be registered without
    one, linked to a guardian (name and relation; the account's mobile is theirs).

    The ID number is kept three ways: an HMAC for uniqueness and lookup, the value
    encrypted for the certificate, and the last four characters for masks; all four ID
    columns are NULL together when there is no document.

    People registered by a health worker (``registered_by``: the staff user name; "" for
    self-registration) or imported from a register also carry the area they live in
    (``location_id``: due lists are by area), their home facility, the register's own
    number (``external_id``) and, for a newborn of a registered pregnancy, the mother."""

    __tablename__ = "beneficiary"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference_id: Mapped[str] = mapped_column(String(14), unique=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("citizen_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    birth_year: Mapped[int]
    birth_date: Mapped[Optional[date]] = mapped_column(Date)
    gender_id: Mapped[int] = mapped_column(ForeignKey("gender.id"))
    id_type_id: Mapped[Optional[int]] = mapped_column(ForeignKey("id_document_type.id"))
    id_number_hash: Mapped[Optional[str]] = mapped_column(String(64))
    id_number_encrypted: Mapped[Optional[str]] = mapped_column(Text)
    id_number_last4: Mapped[Optional[str]] = mapped_column(String(4))
    comorbidity: Mapped[bool] = mapped_column(default=False)
    consent_version: Mapped[str] = mapped_column(String(32))
    secret_code_encrypted: Mapped[str] = mapped_column(Text)
    # wrong secret codes given in a row for this person, and the pause they led to
    secret_code_failures: Mapped[int] = mapped_column(default=0)
    secret_code_paused_until: Mapped[Optional[datetime]]
    guardian_name: Mapped[Optional[str]] = mapped_column(String(200))
    guardian_relation: Mapped[Optional[str]] = mapped_column(String(32))
    external_id: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    mother_id: Mapped[Optional[int]] = mapped_column(
        BigId, ForeignKey("beneficiary.id", ondelete="SET NULL"), index=True)
    location_id: Mapped[Optional[int]] = mapped_column(ForeignKey("location.id"), index=True)
    facility_id: Mapped[Optional[int]] = mapped_column(ForeignKey("facility.id"), index=True)
    registered_by: Mapped[str] = mapped_column(String(150), default="", server_default="")
    # Set when a reviewer merged this record into another (corrections.PersonMerge): the
    # record stays, without doses, hidden from its account; undoing the merge clears it.
    merged_into_id: Mapped[Optional[int]] = mapped_column(
        BigId, ForeignKey("beneficiary.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    account: Mapped[CitizenAccount] = relationship(back_populates="beneficiaries")

    __table_args__ = (UniqueConstraint("id_type_id", "id_number_hash"),)


class Pregnancy(Base):
    """A pregnancy of a registered woman, from its registration (the date pregnancy
    schedules count from) to its outcome. A live birth's newborns are beneficiaries whose
    ``mother_id`` is hers."""

    __tablename__ = "pregnancy"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("beneficiary.id", ondelete="CASCADE"), index=True)
    registered_on: Mapped[date] = mapped_column(Date)
    lmp: Mapped[Optional[date]] = mapped_column(Date)   # first day of the last menstrual period
    edd: Mapped[Optional[date]] = mapped_column(Date)   # expected date of delivery
    outcome: Mapped[Optional[str]] = mapped_column(String(16))  # PREGNANCY_OUTCOMES
    outcome_date: Mapped[Optional[date]] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    registered_by: Mapped[str] = mapped_column(String(150), default="", server_default="")


PREGNANCY_OUTCOMES = ("live_birth", "stillbirth", "miscarriage", "abortion")


class BeneficiaryCorrection(Base):
    """A change to a vaccinated person's details, kept with the old value so that
    certificates can be reissued and the change traced."""

    __tablename__ = "beneficiary_correction"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("beneficiary.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str] = mapped_column(String(200))
    new_value: Mapped[str] = mapped_column(String(200))
    corrected_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))


BOOKED_SERIES = ""  # Dose.series of the appointment-booked (campaign) series


class Dose(Base):
    """A dose given to a beneficiary (recorded by a vaccinator, or imported).

    ``series`` says which series the dose belongs to: "" for the appointment-booked series
    of the campaign flows (COVID-19: one live appointment per dose number), where
    ``dose_number`` is the dose of the schedule; a routine schedule's code for routine
    immunization, where ``dose_number`` is the order of the doses given in that series
    (whether a dose counts, and as which dose, is for programme.due to judge)."""

    __tablename__ = "dose"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(BigId, ForeignKey("beneficiary.id"), index=True)
    series: Mapped[str] = mapped_column(String(64), default=BOOKED_SERIES,
                                        server_default=BOOKED_SERIES)
    dose_number: Mapped[int]
    product_id: Mapped[int] = mapped_column(ForeignKey("vaccine_product.id"))
    administered_at: Mapped[datetime]
    lot: Mapped[str] = mapped_column(String(64))
    facility_id: Mapped[Optional[int]] = mapped_column(ForeignKey("facility.id"))
    vaccinator: Mapped[str] = mapped_column(String(150), default="")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A client's Idempotency-Key: the same key never records a second dose.
    idempotency_key: Mapped[Optional[str]] = mapped_column(String(100), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="recorded")  # recorded|imported
    # A campaign's dose (immunization.models.Campaign; series "campaign:<code>"), else None.
    campaign_id: Mapped[Optional[int]] = mapped_column(ForeignKey("campaign.id"), index=True)

    __table_args__ = (UniqueConstraint("beneficiary_id", "series", "dose_number"),)
