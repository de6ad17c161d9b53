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
A vaccinated person's name or birth year was corrected (kept as BeneficiaryCorrection
rows). Sent by cowin_kit.registration.services.update_beneficiary before it commits.

:param sender: the SQLAlchemy session of the transaction
:param beneficiary: the corrected cowin_kit.registration.models.Beneficiary
:param reason: why, for the audit trail (``"correction"``)

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
cowin_kit.registration.services (register_beneficiary, update_beneficiary).

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
