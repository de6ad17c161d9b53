"""What corrections keep: change requests awaiting a second person's approval, the doses
voided or set aside by a merge (kept whole, to trace and to undo), the blocking keys and
candidate pairs of duplicate matching, the merges with what undoing them needs, and
citizens' grievances."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cowin_kit.core.db import Base, BigId, utcnow

REQUEST_KINDS = ("person", "dose", "void_dose", "move")
REQUEST_STATUSES = ("pending", "applied", "rejected")


class ChangeRequest(Base):
    """A correction proposed by one staff member (the maker) and applied only when another
    (the checker, holding ``correction.approve`` where the person lives) approves it.

    ``changes`` holds the new values as proposed, ``before`` the values they replace (read
    when proposed, checked again when applied: a record changed in between is refused)."""

    __tablename__ = "change_request"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # REQUEST_KINDS
    beneficiary_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("beneficiary.id", ondelete="CASCADE"), index=True)
    # not a foreign key: a voided dose's row is gone
    dose_id: Mapped[Optional[int]] = mapped_column(BigId)
    location_id: Mapped[Optional[int]] = mapped_column(ForeignKey("location.id"), index=True)
    facility_id: Mapped[Optional[int]] = mapped_column(ForeignKey("facility.id"))
    changes: Mapped[dict[str, Any]]
    before: Mapped[dict[str, Any]]
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    maker: Mapped[str] = mapped_column(String(150))
    checker: Mapped[Optional[str]] = mapped_column(String(150))
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[Optional[datetime]]


class SetAsideDose(Base):
    """A dose taken out of a person's record: voided (recorded in error) by an approved
    change request, or the second copy of one dose recorded on both records of a merge.
    Every column of the dose is kept in ``row`` (a merge's copy is put back on undo);
    ``stock_returned``: the doses its draw gave back to stock (drawn again on undo)."""

    __tablename__ = "set_aside_dose"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dose_id: Mapped[int] = mapped_column(BigId, index=True)
    beneficiary_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("beneficiary.id", ondelete="CASCADE"), index=True)
    why: Mapped[str] = mapped_column(String(16))  # void | merge
    change_request_id: Mapped[Optional[int]] = mapped_column(BigId, ForeignKey("change_request.id"))
    merge_id: Mapped[Optional[int]] = mapped_column(BigId, ForeignKey("person_merge.id"))
    row: Mapped[dict[str, Any]]
    stock_returned: Mapped[int] = mapped_column(default=0, server_default="0")
    set_aside_at: Mapped[datetime] = mapped_column(default=utcnow)


class PersonMatchKey(Base):
    """A blocking key of a person (corrections.rules.match_keys): only people sharing a
    key are compared, so finding a person's duplicates reads a few small blocks."""

    __tablename__ = "person_match_key"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("beneficiary.id", ondelete="CASCADE"), primary_key=True, index=True)


CANDIDATE_STATUSES = ("open", "merged", "distinct")


class DuplicateCandidate(Base):
    """Two records that may be one person (``low_id`` < ``high_id``), with the score and
    the reasons of the match, until a reviewer merges them or marks them distinct."""

    __tablename__ = "duplicate_candidate"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    low_id: Mapped[int] = mapped_column(BigId, ForeignKey("beneficiary.id", ondelete="CASCADE"))
    high_id: Mapped[int] = mapped_column(BigId, ForeignKey("beneficiary.id", ondelete="CASCADE"),
                                         index=True)
    score: Mapped[float]
    reasons: Mapped[list[str]]
    location_id: Mapped[Optional[int]] = mapped_column(ForeignKey("location.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    found_by: Mapped[str] = mapped_column(String(16))  # live | batch
    found_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[Optional[str]] = mapped_column(String(150))
    decided_at: Mapped[Optional[datetime]]

    __table_args__ = (UniqueConstraint("low_id", "high_id"),)


class PersonMerge(Base):
    """One record (``merged_id``) merged into another (``kept_id``), with what undoing it
    needs in ``undo``: where each moved dose and appointment was, the kept person's own
    dose numbers, the merged person's match keys and the merged record's account."""

    __tablename__ = "person_merge"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kept_id: Mapped[int] = mapped_column(BigId, ForeignKey("beneficiary.id", ondelete="CASCADE"),
                                         index=True)
    merged_id: Mapped[int] = mapped_column(BigId, ForeignKey("beneficiary.id", ondelete="CASCADE"),
                                           index=True)
    candidate_id: Mapped[Optional[int]] = mapped_column(BigId, ForeignKey("duplicate_candidate.id"))
    undo: Mapped[dict[str, Any]]
    reason: Mapped[str] = mapped_column(String(500), default="")
    merged_by: Mapped[str] = mapped_column(String(150))
    merged_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_by: Mapped[Optional[str]] = mapped_column(String(150))
    undone_at: Mapped[Optional[datetime]]


GRIEVANCE_CATEGORIES = ("wrong_details", "missing_dose", "certificate", "other")
GRIEVANCE_STATUSES = ("open", "in_progress", "resolved", "rejected")


class Grievance(Base):
    """A citizen's complaint about their record, followed until staff resolve or reject it
    (the answer is shown to the citizen)."""

    __tablename__ = "grievance"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("citizen_account.id", ondelete="CASCADE"), index=True)
    beneficiary_id: Mapped[Optional[int]] = mapped_column(
        BigId, ForeignKey("beneficiary.id", ondelete="SET NULL"))
    location_id: Mapped[Optional[int]] = mapped_column(ForeignKey("location.id"))
    facility_id: Mapped[Optional[int]] = mapped_column(ForeignKey("facility.id"))
    category: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), default="open")
    answer: Mapped[str] = mapped_column(String(2000), default="")
    handled_by: Mapped[Optional[str]] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[Optional[datetime]]

    __table_args__ = (Index("ix_grievance_status_location", "status", "location_id"),)
