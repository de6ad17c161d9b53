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
