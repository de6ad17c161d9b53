"""Merging two records of one person into one, undoing a merge, and what a corrections
officer sees of a person (their doses, candidates, merges and change requests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from cowin_kit.audit import services as audit
from cowin_kit.config.runtime import active_pack
from cowin_kit.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.corrections import rules
from cowin_kit.corrections.base import (
    _area_of, _check, _now, _reason, _reissue, _scope, person_by_reference,
)
from cowin_kit.corrections.dose_records import _restore_dose, _take_out
from cowin_kit.corrections.matching import open_candidates_of
from cowin_kit.corrections.models import (
    ChangeRequest, DuplicateCandidate, PersonMatchKey, PersonMerge, SetAsideDose,
)
from cowin_kit.identity import access
from cowin_kit.identity.models import StaffUser
from cowin_kit.registration import services as registration
from cowin_kit.registration.models import Beneficiary, Dose, Pregnancy
from cowin_kit.scheduling.models import Appointment
from cowin_kit.geography.places import person_place


def _dose_rows(session: Session, person_id: int) -> list[Dose]:
    return list(session.scalars(select(Dose).where(Dose.beneficiary_id == person_id)
                                .order_by(Dose.id)))


def merge(session: Session, actor: StaffUser, kept_reference: str, merged_reference: str,
          *, reason: str, candidate_id: int | None = None) -> PersonMerge:
    """Merge the second record into the first: its doses (each dose once: a second copy
    of a dose the kept record holds is set aside), appointments, pregnancies and children
    move to the kept person, whose doses are numbered anew by date in each series; the
    merged record is marked merged into the kept one. Both records' certificates are
    revoked and the kept person's reissued. ``undo_merge`` puts everything back."""
    why = _reason(reason)
    kept = person_by_reference(session, kept_reference)
    gone = person_by_reference(session, merged_reference)
    if kept.id == gone.id:
        raise InvalidInput(_("Choose two different records."), code="same_person")
    if kept.merged_into_id is not None or gone.merged_into_id is not None:
        raise Conflict(_("One of these records has already been merged."),
                       code="already_merged")
    for person in (kept, gone):
        _check(session, actor, "duplicate.review", person)
    kept_live = set(session.scalars(select(Appointment.dose_number).where(
        Appointment.beneficiary_id == kept.id, Appointment.status == "booked")))
    gone_appointments = list(session.scalars(select(Appointment).where(
        Appointment.beneficiary_id == gone.id)))
    if any(a.status == "booked" and a.dose_number in kept_live for a in gone_appointments):
        raise Conflict(_("Both records have an appointment booked for the same dose: "
                         "cancel one first."), code="appointments_clash")
    kept_doses, gone_doses = _dose_rows(session, kept.id), _dose_rows(session, gone.id)
    zone = active_pack().zone  # "the same day" is the programme's calendar day

    def rows(doses: list[Dose]) -> list[rules.DoseRow]:
        return [rules.DoseRow(d.id, d.series, d.dose_number, d.product_id,
                              d.administered_at.astimezone(zone)) for d in doses]
    plan = rules.plan_merge(rows(kept_doses), rows(gone_doses))
    undo = {
        "doses": [[d.id, d.beneficiary_id, d.dose_number] for d in kept_doses + gone_doses
                  if d.id not in plan.set_aside],
        "appointments": [[a.id, a.account_id] for a in gone_appointments],
        "pregnancies": list(session.scalars(select(Pregnancy.id).where(
            Pregnancy.beneficiary_id == gone.id))),
        "children": list(session.scalars(select(Beneficiary.id).where(
            Beneficiary.mother_id == gone.id))),
        "keys": sorted(session.scalars(select(PersonMatchKey.key).where(
            PersonMatchKey.beneficiary_id == gone.id))),
    }
    record = PersonMerge(kept_id=kept.id, merged_id=gone.id, candidate_id=candidate_id,
                         undo=undo, reason=why, merged_by=actor.username)
    session.add(record)
    session.flush()
    for dose in gone_doses:
        if dose.id in plan.set_aside:
            _take_out(session, dose, "merge", actor.username, merge_id=record.id)
    moving = [d for d in kept_doses + gone_doses if d.id not in plan.set_aside]
    for dose in moving:  # first out of the way of the unique (person, series, number)
        dose.dose_number = -dose.id
    session.flush()
    for dose in moving:
        dose.beneficiary_id, dose.dose_number = kept.id, plan.numbers[dose.id]
    for appointment in gone_appointments:
        appointment.beneficiary_id, appointment.account_id = kept.id, kept.account_id
    session.execute(update(Pregnancy).where(Pregnancy.beneficiary_id == gone.id)
                    .values(beneficiary_id=kept.id))
    session.execute(update(Beneficiary).where(Beneficiary.mother_id == gone.id)
                    .values(mother_id=kept.id))
    session.execute(delete(PersonMatchKey).where(PersonMatchKey.beneficiary_id == gone.id))
    gone.merged_into_id = kept.id
    session.flush()
    _close_candidates(session, kept.id, gone.id, "merged", actor, candidate_id)
    audit.record(session, "duplicates.merge", "person_merge", record.id,
                 place=person_place(session, kept), kept=kept.reference_id, merged=gone.reference_id,
                 doses_moved=len(gone_doses) - len(plan.set_aside),
                 doses_set_aside=len(plan.set_aside), reason=why)
    _reissue(session, gone, "merge")
    _reissue(session, kept, "merge")
    session.commit()
    return record


def _close_candidates(session: Session, x: int, y: int, status: str, actor: StaffUser,
                      candidate_id: int | None) -> None:
    low, high = sorted((x, y))
    row = session.scalars(select(DuplicateCandidate).where(
        DuplicateCandidate.low_id == low, DuplicateCandidate.high_id == high)).first()
    if row is None:
        row = DuplicateCandidate(low_id=low, high_id=high, score=1.0, reasons=["reviewer"],
                                 found_by="reviewer")
        session.add(row)
    row.status, row.decided_by, row.decided_at = status, actor.username, _now()


def undo_merge(session: Session, actor: StaffUser, merge_id: int, *,
               reason: str) -> PersonMerge:
    """Put two merged records back as they were: every dose (set-aside copies included),
    appointment, pregnancy and child returns to its record with its number; the pair is
    open for review again. Refused when the kept person has doses recorded since."""
    why = _reason(reason)
    record = session.get(PersonMerge, merge_id, with_for_update=True)
    if record is None:
        raise NotFound(_("No such merge."), code="merge_not_found")
    if record.undone_at is not None:
        raise Conflict(_("This merge has already been undone."), code="merge_undone")
    kept, gone = session.get(Beneficiary, record.kept_id), session.get(Beneficiary,
                                                                       record.merged_id)
    for person in (kept, gone):
        _check(session, actor, "duplicate.review", person)
    undo = record.undo
    before = {dose_id: (owner, number) for dose_id, owner, number in undo["doses"]}
    now_doses = _dose_rows(session, kept.id)
    if any(d.id not in before for d in now_doses) or len(now_doses) != len(before):
        raise Conflict(_("Doses of this person changed after the merge: correct the record "
                         "instead."), code="merge_changed")
    for dose in now_doses:
        dose.dose_number = -dose.id
    session.flush()
    for dose in now_doses:
        dose.beneficiary_id, dose.dose_number = before[dose.id]
    session.flush()
    for aside in session.scalars(select(SetAsideDose).where(SetAsideDose.merge_id == record.id)):
        _restore_dose(session, aside, actor.username)
        session.delete(aside)
    for appointment_id, account_id in undo["appointments"]:
        session.execute(update(Appointment).where(Appointment.id == appointment_id)
                        .values(beneficiary_id=gone.id, account_id=account_id))
    if undo["pregnancies"]:
        session.execute(update(Pregnancy).where(Pregnancy.id.in_(undo["pregnancies"]))
                        .values(beneficiary_id=gone.id))
    if undo["children"]:
        session.execute(update(Beneficiary).where(Beneficiary.id.in_(undo["children"]))
                        .values(mother_id=gone.id))
    gone.merged_into_id = None
    session.flush()
    if undo["keys"]:
        session.execute(insert(PersonMatchKey.__table__),
                        [{"key": k, "beneficiary_id": gone.id} for k in undo["keys"]])
    low, high = sorted((kept.id, gone.id))
    session.execute(update(DuplicateCandidate).where(
        DuplicateCandidate.low_id == low, DuplicateCandidate.high_id == high)
        .values(status="open", decided_by=None, decided_at=None))
    record.undone_by, record.undone_at = actor.username, _now()
    audit.record(session, "duplicates.undo_merge", "person_merge", record.id,
                 place=person_place(session, kept), kept=kept.reference_id, merged=gone.reference_id, reason=why)
    _reissue(session, kept, "merge_undone")
    _reissue(session, gone, "merge_undone")
    session.commit()
    return record


def merges_of(session: Session, person: Beneficiary) -> list[PersonMerge]:
    return list(session.scalars(select(PersonMerge).where(
        or_(PersonMerge.kept_id == person.id, PersonMerge.merged_id == person.id))
        .order_by(PersonMerge.id)))


@dataclass(frozen=True)
class PersonRecord:
    person: Beneficiary
    doses: list[Dose]
    candidates: list[DuplicateCandidate]
    merges: list[PersonMerge]
    requests: list[ChangeRequest]


def person_record(session: Session, actor: StaffUser, reference_id: str) -> PersonRecord:
    """What a corrections officer sees of a person (any of the corrections grants where
    the person belongs)."""
    person = person_by_reference(session, reference_id)
    location_id, facility_id = _area_of(session, person)
    scope = _scope(session, location_id, facility_id)
    if not any(access.can(actor, action, scope) for action in (
            "correction.propose", "correction.approve", "duplicate.review")):
        raise Forbidden(_("You may not do this for people of this area."), code="forbidden")
    return PersonRecord(
        person, _dose_rows(session, person.id), open_candidates_of(session, person),
        merges_of(session, person),
        list(session.scalars(select(ChangeRequest).where(
            ChangeRequest.beneficiary_id == person.id, ChangeRequest.status != "awaiting_otp")
            .order_by(ChangeRequest.id))))


@dataclass(frozen=True)
class PossibleDuplicate:
    reference_id: str
    name: str
    score: float
    reasons: list[str]


def possible_duplicates(session: Session, person: Beneficiary) -> list[PossibleDuplicate]:
    """The open candidates of a person, as a registration warning: the other record's
    reference ID and name (no ID number), best first."""
    out = []
    for row in open_candidates_of(session, person):
        other = session.get(Beneficiary, row.high_id if row.low_id == person.id
                            else row.low_id)
        out.append(PossibleDuplicate(other.reference_id, other.name, row.score,
                                     list(row.reasons)))
    return out
