"""Issuing certificates from the outbox, revoking them, and reading them back.

The worker takes "certificate due" rows (written with each dose, in its transaction),
issues every format the pack enables from one internal record, and marks the row done in
the same transaction as the certificate. A crash anywhere leaves the row pending, so the
next run issues it; a dose that already has its certificate is not issued twice."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cowin_kit import metrics
from cowin_kit import plugins
from cowin_kit.audit import services as audit
from cowin_kit.certificates import dcc, shc, vc
from cowin_kit.certificates.keystore import KeyGeneration, Keystore
from cowin_kit.certificates.models import Certificate
from cowin_kit.certificates.record import (
    CertificateInfo, Identifier, PersonName, Vaccination, VaccinationRecord,
)
from cowin_kit.config.runtime import ActivePack
from cowin_kit.db import new_uuid
from cowin_kit.errors import NotFound
from cowin_kit.i18n import gettext as _
from cowin_kit.identity.models import IdDocumentType
from cowin_kit.identity.rules import mask_id_number
from cowin_kit.registration.models import Beneficiary
from cowin_kit.scheduling.models import Facility
from cowin_kit.vaccination.models import CertificateDue, Dose
from cowin_kit.vaccination.rules import total_doses
from cowin_kit.vaccination.services import vaccine_product, vaccine_schedules

MAX_BACKOFF = timedelta(minutes=30)
BATCH_SIZE = 50  # due rows claimed, issued and committed together by process_outbox


def instance_trust_store():
    """This instance's own verification material (every key generation)."""
    issuer = current_app.config["COWIN_KIT"]["PUBLIC_URL"].rstrip("/")
    return keystore().trust_store(issuer, issuer)


def keystore() -> Keystore:
    settings = current_app.config["COWIN_KIT"]
    folder = settings["CERT_KEYS_DIR"] or str(Path(settings["INSTANCE_PATH"]) / "keys")
    return Keystore(Path(folder))


def split_name(full: str) -> PersonName:
    """CoWIN keeps one name field; certificates want family and given names: the last
    word is taken as the family name (a correction can fix an unusual case)."""
    words = full.split()
    if len(words) == 1:
        return PersonName(family=words[0])
    return PersonName(family=words[-1], given=" ".join(words[:-1]))


def build_record(session: Session, pack: ActivePack, dose: Dose, hcid: str,
                 issued_at: datetime, expires_at: datetime) -> VaccinationRecord:
    beneficiary = session.get(Beneficiary, dose.beneficiary_id)
    product = vaccine_product(session, pack, product_id=dose.product_id)
    schedule = next((s for s in vaccine_schedules(session, pack)
                     if product.code in s.products), None)
    facility = session.get(Facility, dose.facility_id) if dose.facility_id else None
    default = pack.default_locale
    codes = product.codes or {}
    issuer = pack.document["certificates"]["issuer"]
    local_day = dose.administered_at.astimezone(zoneinfo.ZoneInfo(pack.document["timezone"])).date()
    return VaccinationRecord(
        name=split_name(beneficiary.name),
        birth_date=beneficiary.birth_date,
        birth_year=None if beneficiary.birth_date else beneficiary.birth_year,
        identifier=Identifier(_id_type_code(session, pack, beneficiary.id_type_id),
                              mask_id_number("0" * 8 + beneficiary.id_number_last4)),
        certificate=CertificateInfo(issuer=issuer.get(default) or next(iter(issuer.values())),
                                    issuer_id=pack.code, hcid=hcid, valid_from=issued_at,
                                    valid_until=expires_at),
        vaccination=Vaccination(
            date=local_day, dose=dose.dose_number,
            total_doses=max(total_doses(schedule) if schedule else dose.dose_number,
                            dose.dose_number),
            country=pack.code,
            product=product.names.get(default) or product.code,
            product_code=codes.get("eu_product") or product.code,
            manufacturer=product.manufacturer,
            manufacturer_code=codes.get("eu_mah") or product.manufacturer,
            lot=dose.lot, centre=facility.name if facility else "",
            centre_address=facility.address if facility else "",
            practitioner=dose.vaccinator,
            prophylaxis=codes.get("eu_prophylaxis") or "J07BX03",
            vaccine_code=codes.get("icd11") or "XM68M6",
            cvx=codes.get("cvx"),
            disease=schedule.target_disease if schedule else "840539006",
        ),
    )


def _id_type_code(session: Session, pack: ActivePack, id_type_id: int) -> str:
    """The code of an ID document type (pack-installed rows: read once per snapshot)."""
    codes = pack.memo(("certificates", "id_type_codes"), lambda: dict(
        session.execute(select(IdDocumentType.id, IdDocumentType.code)).all()) or None)
    if codes and id_type_id in codes:
        return codes[id_type_id]
    return session.get(IdDocumentType, id_type_id).code


def issue_for_dose(session: Session, pack: ActivePack, keys: KeyGeneration, dose: Dose,
                   *, now: datetime | None = None,
                   live: list[Certificate] | None = None) -> Certificate:
    """Issue (and stage, not commit) the certificate of ``dose`` in every enabled format.
    ``live``: the person's certificates that are not revoked, when the caller has read
    them (process_outbox, for a batch); the new certificate is appended to it."""
    if live is None:
        live = list(session.scalars(select(Certificate).where(
            Certificate.beneficiary_id == dose.beneficiary_id, Certificate.revoked_at.is_(None))))
    existing = next((c for c in live if c.dose_id == dose.id), None)
    if existing is not None:
        return existing
    settings = current_app.config["COWIN_KIT"]
    now = now or datetime.now(timezone.utc)
    expires = now + timedelta(days=settings["CERTIFICATE_VALIDITY_DAYS"])
    certificate = Certificate(id=new_uuid(), beneficiary_id=dose.beneficiary_id, dose_id=dose.id,
                              key_id=keys.key_id, issued_at=now, expires_at=expires,
                              provisional=False)
    record = build_record(session, pack, dose, certificate.id, now, expires)
    certificate.provisional = record.vaccination.dose < record.vaccination.total_doses
    formats = set(pack.document["certificates"]["formats"])
    issuer_url = settings["PUBLIC_URL"].rstrip("/")
    if "dcc" in formats:
        certificate.uvci = dcc.make_uvci(pack.code, certificate.id.replace("-", "").upper()[:24])
        signer = keys.dcc_signer
        certificate.dcc = dcc.encode(dcc.dcc_payload(record, uvci=certificate.uvci),
                                     private_key=signer.private_key,
                                     certificate=signer.certificate, issuer=pack.code,
                                     issued_at=now, expires_at=expires)
    if "shc" in formats:
        certificate.shc = shc.issue(record, keys.shc_key, issuer=issuer_url, issued_at=now,
                                    expires_at=expires)
    if "vc" in formats:
        certificate.vc = vc.qr_text(vc.issue(record, keys.vc_key, issuer=issuer_url))
    for older in live:
        if older.superseded_at is None:
            older.superseded_at = now
    live.append(certificate)
    session.add(certificate)
    audit.record(session, "certificate.issue", "certificate", certificate.id, dose=dose.id,
                 provisional=certificate.provisional, formats=sorted(formats))
    if plugins.wants("certificate_issued"):  # fired when the caller commits
        documents = plugins.produce_documents(record, certificate_id=certificate.id)
        plugins.queue_hook(session, "certificate_issued", certificate_id=certificate.id,
                           dose_id=dose.id,
                           reference_id=session.get(Beneficiary, dose.beneficiary_id).reference_id,
                           provisional=certificate.provisional, formats=sorted(formats),
                           documents=documents)
    return certificate


def process_outbox(factory: sessionmaker[Session], pack: ActivePack,
                   keys: KeyGeneration | Callable[[], KeyGeneration], *,
                   limit: int = 100, now: datetime | None = None,
                   before_commit: Callable[[Certificate], None] | None = None) -> int:
    """Issue up to ``limit`` due certificates; returns how many. Rows are claimed in
    batches of up to BATCH_SIZE with SKIP LOCKED on PostgreSQL (several workers share the
    work); a batch's certificates, audit events and "done" marks commit in one
    transaction, so a crash leaves every row of the batch due. If anything in a batch
    fails, the batch is rolled back and its rows are issued one transaction each, so that
    only the failing row is retried later with backoff (``before_commit`` then sees a
    certificate of that batch again). ``keys`` may be a function, called only when
    something is due (an idle worker needs no signing keys)."""
    now = now or datetime.now(timezone.utc)
    issued = claimed = 0
    while claimed < limit:
        with factory() as session:
            dues = list(session.scalars(select(CertificateDue).where(
                CertificateDue.status == "pending", CertificateDue.next_attempt_at <= now)
                .order_by(CertificateDue.id).limit(min(BATCH_SIZE, limit - claimed))
                .with_for_update(skip_locked=True)))
            if not dues:
                break
            claimed += len(dues)
            if callable(keys):
                keys = keys()
            ids = [due.id for due in dues]
            try:
                done = _issue_batch(session, pack, keys, dues, now)
                if before_commit is not None:
                    for certificate in done:
                        before_commit(certificate)
                session.commit()
            except Exception:  # one transaction per row instead: see above
                session.rollback()
                done = None
        if done is None:
            issued += sum(_issue_one(factory, pack, keys, due_id, now, before_commit)
                          for due_id in ids)
        else:
            metrics.CERTIFICATES_ISSUED.inc(len(done))
            issued += len(done)
    return issued


def _issue_batch(session: Session, pack: ActivePack, keys: KeyGeneration,
                 dues: list[CertificateDue], now: datetime) -> list[Certificate]:
    """Issue (not commit) the certificates of claimed rows: their doses, people and
    facilities are read in one query, the people's live certificates in another."""
    rows = session.execute(  # held: the session's identity map only keeps weak references
        select(Dose, Beneficiary, Facility)
        .join(Beneficiary, Beneficiary.id == Dose.beneficiary_id)
        .outerjoin(Facility, Facility.id == Dose.facility_id)
        .where(Dose.id.in_({due.dose_id for due in dues}))).all()
    doses = {row[0].id: row[0] for row in rows}
    live: dict[int, list[Certificate]] = {dose.beneficiary_id: [] for dose in doses.values()}
    for certificate in session.scalars(select(Certificate).where(
            Certificate.beneficiary_id.in_(list(live)), Certificate.revoked_at.is_(None))):
        live[certificate.beneficiary_id].append(certificate)
    done = []
    for due in dues:
        dose = doses[due.dose_id]
        done.append(issue_for_dose(session, pack, keys, dose, now=now,
                                   live=live[dose.beneficiary_id]))
        due.status = "done"
    return done


def _issue_one(factory: sessionmaker[Session], pack: ActivePack, keys: KeyGeneration,
               due_id: int, now: datetime,
               before_commit: Callable[[Certificate], None] | None) -> int:
    """Issue one due row in its own transaction; 1 if issued."""
    with factory() as session:
        due = session.scalars(select(CertificateDue).where(
            CertificateDue.id == due_id, CertificateDue.status == "pending")
            .with_for_update(skip_locked=True)).first()
        if due is None:
            return 0  # another worker has it
        try:
            certificate = issue_for_dose(session, pack, keys, session.get(Dose, due.dose_id),
                                         now=now)
            due.status = "done"
            if before_commit is not None:
                before_commit(certificate)
            session.commit()
            metrics.CERTIFICATES_ISSUED.inc()
            return 1
        except Exception as exc:  # retried later with backoff; never lost
            session.rollback()
            _note_failure(factory, due_id, exc, now)
            return 0


def _note_failure(factory: sessionmaker[Session], due_id: int, exc: Exception,
                  now: datetime) -> None:
    with factory() as session:
        due = session.get(CertificateDue, due_id)
        due.attempts += 1
        due.next_attempt_at = now + min(MAX_BACKOFF, timedelta(seconds=2 ** min(due.attempts, 11)))
        due.last_error = f"{type(exc).__name__}: {exc}"[:500]
        session.commit()


def current_certificate(session: Session, beneficiary: Beneficiary) -> Certificate:
    certificate = session.scalars(select(Certificate).where(
        Certificate.beneficiary_id == beneficiary.id, Certificate.revoked_at.is_(None),
        Certificate.superseded_at.is_(None)).order_by(Certificate.issued_at.desc())).first()
    if certificate is None:
        raise NotFound(_("No certificate has been issued yet."), code="certificate_not_found")
    return certificate


def revoke_for_correction(session: Session, beneficiary: Beneficiary, *, reason: str,
                          now: datetime | None = None) -> int:
    """Revoke every live certificate of the person and queue new ones (after a correction
    of name or birth year). The caller commits."""
    now = now or datetime.now(timezone.utc)
    revoked = 0
    for certificate in session.scalars(select(Certificate).where(
            Certificate.beneficiary_id == beneficiary.id, Certificate.revoked_at.is_(None))):
        certificate.revoked_at = now
        certificate.revocation_reason = reason
        audit.record(session, "certificate.revoke", "certificate", certificate.id, reason=reason)
        revoked += 1
    latest = session.scalars(select(Dose).where(Dose.beneficiary_id == beneficiary.id)
                             .order_by(Dose.dose_number.desc())).first()
    if latest is not None:
        session.add(CertificateDue(dose_id=latest.id, reason="correction"))
    return revoked


def revoked_ids(session: Session) -> list[str]:
    """The revocation list: ids the verifier refuses (certificate ids and DCC UVCIs)."""
    out = []
    for cert_id, uvci in session.execute(select(Certificate.id, Certificate.uvci)
                                         .where(Certificate.revoked_at.is_not(None))):
        out += [cert_id, shc.revocation_id(cert_id)]
        if uvci:
            out.append(uvci)
    return out


def describe(certificate: Certificate) -> dict[str, Any]:
    return {"certificate_id": certificate.id, "provisional": certificate.provisional,
            "issued_at": certificate.issued_at, "expires_at": certificate.expires_at,
            "formats": {name: value for name, value in (
                ("dcc", certificate.dcc), ("shc", shc.qr_text(certificate.shc) if certificate.shc else None),
                ("vc", certificate.vc)) if value}}
