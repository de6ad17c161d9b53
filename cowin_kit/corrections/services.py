"""Use cases of corrections, by responsibility in the modules of this package; the public
names are gathered here, where the doors (API, pages, CLI) and the receivers import them.
Each use case owns its transaction: it checks access (``cowin_kit.identity.access``),
audits every write, commits on success and writes nothing on a domain error.

- ``requests``: change requests (maker-checker): a staff member proposes a correction of a
  person's details, of a dose's facts, a voided dose or a move to another mobile, with a
  reason; nothing changes until another staff member holding ``correction.approve`` where
  the person lives approves it. Applying it sends ``beneficiary_corrected`` (and
  ``dose_voided``): certificates revoke the old certificate and queue a new one; a voided
  or corrected dose's stock draw is reversed or moved (``dose_records``).
- ``matching``: matching keys and candidate pairs (live at registration through the
  ``person_registered`` signal, and as a batch), marking two records distinct.
- ``merges``: merging two records, undoing a merge, a person's record for reviewers.
- ``moves``: moving a person to another mobile: by the person (secret code, then an OTP to
  the new number) or by staff through a change request.
- ``grievances``: filed and followed by citizens, answered by staff of the area.
- ``base``, ``dose_records``: what they share (the person's area and access; taking a dose
  out of a record and putting it back)."""

from __future__ import annotations

from cowin_kit.corrections.base import (
    person_by_reference,
)
from cowin_kit.corrections.grievances import (
    QueueItem, answer_grievance, file_grievance, grievance_for_staff, grievance_queue,
    my_grievance, my_grievances,
)
from cowin_kit.corrections.matching import (
    Candidate, ScanResult, check_new_person, facts_of, find_candidates, list_candidates,
    mark_distinct, open_candidates_of, refresh_keys, scan,
)
from cowin_kit.corrections.merges import (
    PersonRecord, PossibleDuplicate, merge, merges_of, person_record, possible_duplicates,
    undo_merge,
)
from cowin_kit.corrections.moves import (
    MoveStarted, SECRET_CODE_MAX_FAILURES, SECRET_CODE_PAUSE, confirm_citizen_move,
    start_citizen_move,
)
from cowin_kit.corrections.requests import (
    approve, get_request, list_requests, propose_dose_change, propose_move,
    propose_person_change, propose_void, reject, request_for,
)

__all__ = [
    "Candidate", "MoveStarted", "PersonRecord", "PossibleDuplicate", "QueueItem",
    "SECRET_CODE_MAX_FAILURES", "SECRET_CODE_PAUSE", "ScanResult", "answer_grievance",
    "approve", "check_new_person", "confirm_citizen_move", "facts_of", "file_grievance",
    "find_candidates", "get_request", "grievance_for_staff", "grievance_queue",
    "list_candidates", "list_requests", "mark_distinct", "merge", "merges_of", "my_grievance",
    "my_grievances", "open_candidates_of", "person_by_reference", "person_record",
    "possible_duplicates", "propose_dose_change", "propose_move", "propose_person_change",
    "propose_void", "refresh_keys", "reject", "request_for", "scan", "start_citizen_move",
    "undo_merge",
]
