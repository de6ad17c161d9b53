"""Cross-domain reactions inside the kit: a lower domain announces what happened, a higher
domain that must react listens (the lower one never imports the higher). Receivers run
synchronously, in the sender's thread and inside its transaction: what they write commits
or rolls back with the change that caused it, so they must not commit, and an exception in
a receiver fails the sender's use case.

These signals are internal. Plugins react to committed changes through the hooks of
:mod:`cowin_kit.plugins` instead (called after commit; a failing receiver is only logged).

Receivers are connected when their module is imported: each domain's ``receivers`` module,
loaded by :mod:`cowin_kit.models` with the models, so that every process that can write a
row also has every receiver connected.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

beneficiary_corrected = _signals.signal("beneficiary-corrected", doc="""
A vaccinated person's record changed in what their certificate shows: name or birth
year corrected (kept as BeneficiaryCorrection rows), a dose corrected or voided, two
records merged or a merge undone. Sent before the commit by
cowin_kit.registration.services.update_beneficiary and by cowin_kit.corrections.services
(approved change requests, merges and their undoing).

:param sender: the SQLAlchemy session of the transaction
:param beneficiary: the corrected cowin_kit.registration.models.Beneficiary
:param reason: why, for the audit trail and the revocation (``"correction"``,
    ``"dose_correction"``, ``"dose_void"``, ``"merge"``, ``"merge_undone"``)

Received by cowin_kit.certificates.receivers: the person's live certificates carry the old
details, so they are revoked and a new certificate is queued.
""")

due_facts_changed = _signals.signal("due-facts-changed", doc="""
What the routine due rules read of some people changed: a dose was recorded or imported,
a pregnancy registered or its outcome recorded, a person registered or imported, or their
birth date, sex or location corrected. Sent before the sender commits, after the change is
flushed (the receivers read it back in the same transaction), by
cowin_kit.vaccination.visits.record_visit, cowin_kit.vaccination.services.record_dose,
cowin_kit.vaccination.imports (the write step), cowin_kit.registration.people
(register_person, register_pregnancy, record_pregnancy_outcome),
cowin_kit.registration.imports.import_people (the write step) and
cowin_kit.registration.services (register_beneficiary, update_beneficiary) and
cowin_kit.corrections.services (an approved correction, a voided dose, a merge or its
undoing).

:param sender: the SQLAlchemy session of the transaction
:param pack: the cowin_kit.config.runtime.ActivePack the sender works with (None: the
    receiver reads the active one)
:param person_ids: the Beneficiary ids concerned
:param products: the product codes of the doses recorded, when only doses were added
    (None: anything may have changed); lets a receiver skip doses no routine schedule
    counts (a COVID-19 dose)

Received by cowin_kit.immunization.receivers: the people's pending doses (the table the
due lists read) are computed again in the same transaction.
""")

person_registered = _signals.signal("person-registered", doc="""
A person was registered (a citizen's member or a health worker's registration), flushed,
not yet committed. Sent by cowin_kit.registration.services.add_beneficiary and
cowin_kit.registration.people.register_person (and its newborns).

:param sender: the SQLAlchemy session of the transaction
:param beneficiary: the new cowin_kit.registration.models.Beneficiary

Received by cowin_kit.corrections.receivers: the person's matching keys are written and
the records that may be the same person are kept as duplicate candidates (a warning for
a reviewer; registration is never refused for it).
""")

dose_voided = _signals.signal("dose-voided", doc="""
A dose is about to be taken out of a person's record: voided as recorded in error (an
approved change request) or the second copy of one dose in a merge. Sent by
cowin_kit.corrections.services before the dose row is deleted, in its transaction.

:param sender: the SQLAlchemy session of the transaction
:param dose: the cowin_kit.registration.models.Dose
:param reason: ``"void"`` or ``"merge"``

Received by cowin_kit.certificates.receivers: the dose's certificates are revoked and
let go of the dose (their ``dose_id`` becomes NULL; they stay on the revocation list).
The sender then sends ``beneficiary_corrected`` so that the person's certificate is
reissued from the doses that remain.
""")
