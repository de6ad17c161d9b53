"""Issuing certificates from the outbox, revoking them, and reading them back.

The worker takes "certificate due" rows (written with each dose, in its transaction),
issues every format the pack enables from one internal record, and marks the row done in
the same transaction as the certificate. A crash anywhere leaves the row pending, so the
next run issues it; a dose that already has its certificate is not issued twice."""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, NamedTuple

from flask import current_app
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from cowin_kit import plugins
from cowin_kit.core import metrics
from cowin_kit.audit import services as audit
from cowin_kit.audit.models import AuditEvent
from cowin_kit.certificates.formats import dcc, shc, vc
from cowin_kit.certificates.formats.keys import dcc_kid, jwk_thumbprint
from cowin_kit.certificates.signing.keystore import KeyGeneration, Keystore
from cowin_kit.certificates.models import Certificate
from cowin_kit.certificates.record import (
    CertificateInfo, Identifier, PersonName, Vaccination, VaccinationRecord,
)
from cowin_kit.config.runtime import ActivePack
from cowin_kit.core.db import new_uuid
from cowin_kit.core.errors import NotFound
from cowin_kit.core.i18n import gettext as _
from cowin_kit.identity.models import IdDocumentType
from cowin_kit.idnumbers import mask_id_number
from cowin_kit.registration.models import BOOKED_SERIES, Beneficiary, Dose
from cowin_kit.geography.models import Facility
from cowin_kit.geography.places import facility_place, person_place
from cowin_kit.programme import catalogue
from cowin_kit.vaccination.models import CertificateDue
from cowin_kit.vaccination.rules import total_doses
from cowin_kit.vaccination.services import vaccine_product, vaccine_schedules

MAX_BACKOFF = timedelta(minutes=30)
BATCH_SIZE = 50  # due rows claimed, issued and committed together by process_outbox


def issuer_url() -> str:
    """The issuer of this instance's SMART Health Cards and W3C credentials."""
    return current_app.config["COWIN_KIT"]["PUBLIC_URL"].rstrip("/")


def instance_trust_store():
    """This instance's own verification material (every key generation)."""
    issuer = issuer_url()
    return keystore().trust_store(issuer, issuer)


def offline_trust(session: Session) -> dict[str, Any]:
    """What an offline verifier (the field app) needs to check this instance's
    certificates without the server: ``issuer`` (the SMART Health Card and W3C credential
    issuer), ``shc_jwks``, ``dcc`` (per document signer: ``kid`` and ``certificate`` as
    in the DCC trust list, plus ``spki``: its SubjectPublicKeyInfo, base64 DER, for
    WebCrypto; ``alg`` ES256 or PS256; ``not_before``/``not_after`` in seconds since
    1970; ``entry_types``: the DCC entry types (v, t, r) its certificate may sign, null
    for any), ``vc`` (the W3C credential keys) and ``revoked`` (``revoked_ids``). Without
    signing keys the lists are empty."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from cowin_kit.certificates.signing.trust import TrustStore

    store = keystore()
    issuer = current_app.config["COWIN_KIT"]["PUBLIC_URL"].rstrip("/")
    signers = []
    for generation in store.generations():
        signer = generation.dcc_signer
        trusted = TrustStore().add_certificate(signer.certificate)
        spki = trusted.public_key.public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        types = trusted.dcc_entry_types
        signers.append({
            "kid": base64.b64encode(trusted.kid).decode(),
            "certificate": base64.b64encode(signer.certificate_der).decode(),
            "spki": base64.b64encode(spki).decode(),
            "alg": "PS256" if isinstance(trusted.public_key, rsa.RSAPublicKey) else "ES256",
            "not_before": int(trusted.not_before.timestamp()) if trusted.not_before else None,
            "not_after": int(trusted.not_after.timestamp()) if trusted.not_after else None,
            "entry_types": sorted(types) if types is not None else None})
    try:
        shc_jwks, vc_keys = store.shc_jwks(), store.vc_public_keys()
    except (FileNotFoundError, LookupError):
        shc_jwks, vc_keys = {"keys": []}, []
    return {"issuer": issuer, "shc_jwks": shc_jwks, "dcc": signers, "vc": vc_keys,
            "revoked": revoked_ids(session)}


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


@dataclass(frozen=True)
class Signers:
    """A key generation with what each format derives from its keys: the DCC kid (SHA-256
    of the signer certificate) and the SMART Health Card and W3C VC key ids (RFC 7638
    thumbprints), derived once per batch rather than once per certificate."""

    keys: KeyGeneration
    issuer_url: str
    dcc_kid: bytes
    shc_kid: str
    vc_method: str

    @classmethod
    def of(cls, keys: KeyGeneration, issuer_url: str) -> "Signers":
        return cls(keys, issuer_url, dcc_kid(keys.dcc_signer.certificate),
                   jwk_thumbprint(keys.shc_key), vc.verification_method_for(issuer_url,
                                                                            keys.vc_key))


def build_record(session: Session, pack: ActivePack, dose: Dose, hcid: str,
                 issued_at: datetime, expires_at: datetime) -> VaccinationRecord:
    beneficiary = session.get(Beneficiary, dose.beneficiary_id)
    facility = session.get(Facility, dose.facility_id) if dose.facility_id else None
    return _record(session, pack, _DoseFacts(
        dose.dose_number, dose.product_id, dose.administered_at, dose.lot, dose.vaccinator,
        beneficiary.name, beneficiary.birth_date, beneficiary.birth_year,
        beneficiary.id_type_id, beneficiary.id_number_last4,
        facility.name if facility else "", facility.address if facility else ""),
        hcid, issued_at, expires_at)


class _DoseFacts(NamedTuple):
    """What a certificate says of a dose, its person and its facility (the columns the
    outbox batch reads)."""

    dose_number: int
    product_id: int
    administered_at: datetime
    lot: str
    vaccinator: str
    name: str
    birth_date: date | None
    birth_year: int
    id_type_id: int | None      # None (and last4 None): registered without an ID document
    id_number_last4: str | None
    centre: str
    centre_address: str


def _record(session: Session, pack: ActivePack, facts: _DoseFacts, hcid: str,
            issued_at: datetime, expires_at: datetime) -> VaccinationRecord:
    product, schedule, series = _product(session, pack, facts.product_id)
    default = pack.default_locale
    codes = product.codes or {}
    issuer = pack.document["certificates"]["issuer"]
    local_day = facts.administered_at.astimezone(_zone(pack.document["timezone"])).date()
    return VaccinationRecord(
        name=split_name(facts.name),
        birth_date=facts.birth_date,
        birth_year=None if facts.birth_date else facts.birth_year,
        identifier=None if facts.id_type_id is None or not facts.id_number_last4
        else Identifier(_id_type_code(session, pack, facts.id_type_id),
                        mask_id_number("0" * 8 + facts.id_number_last4)),
        certificate=CertificateInfo(issuer=issuer.get(default) or next(iter(issuer.values())),
                                    issuer_id=pack.code, hcid=hcid, valid_from=issued_at,
                                    valid_until=expires_at),
        vaccination=Vaccination(
            date=local_day, dose=facts.dose_number,
            total_doses=max(series or facts.dose_number, facts.dose_number),
            country=pack.code,
            product=product.names.get(default) or product.code,
            product_code=codes.get("eu_product") or product.code,
            manufacturer=product.manufacturer,
            manufacturer_code=codes.get("eu_mah") or product.manufacturer,
            lot=facts.lot, centre=facts.centre, centre_address=facts.centre_address,
            practitioner=facts.vaccinator,
            prophylaxis=codes.get("eu_prophylaxis") or "J07BX03",
            vaccine_code=codes.get("icd11") or "XM68M6",
            cvx=codes.get("cvx"),
            disease=schedule.target_disease if schedule else "840539006",
        ),
    )


def _product(session: Session, pack: ActivePack, product_id: int) -> tuple[Any, Any, int | None]:
    """A vaccine product, its schedule and the doses of that schedule's primary series.
    The pack's products are worked out once per snapshot of the pack (they are its rows);
    one installed since is read from the database."""
    known = pack.memo(("certificates", "products"), lambda: {
        product.id: _product_facts(session, pack, product)
        for product in catalogue.products(session, pack)} or None)
    if known and product_id in known:
        return known[product_id]
    return _product_facts(session, pack, vaccine_product(session, pack, product_id=product_id))


def _product_facts(session: Session, pack: ActivePack, product) -> tuple[Any, Any, int | None]:
    schedule = next((s for s in vaccine_schedules(session, pack)
                     if product.code in s.products), None)
    return product, schedule, total_doses(schedule) if schedule else None


@functools.lru_cache(maxsize=16)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _id_type_code(session: Session, pack: ActivePack, id_type_id: int) -> str:
    """The code of an ID document type (pack-installed rows: read once per snapshot)."""
    codes = pack.memo(("certificates", "id_type_codes"), lambda: dict(
        session.execute(select(IdDocumentType.id, IdDocumentType.code)).all()) or None)
    if codes and id_type_id in codes:
        return codes[id_type_id]
    return session.get(IdDocumentType, id_type_id).code


def _signed_values(pack: ActivePack, signers: Signers, record: VaccinationRecord,
                   formats: frozenset[str], certificate_id: str, beneficiary_id: int,
                   dose_id: int, now: datetime, expires: datetime) -> dict[str, Any]:
    """The columns of a new certificate: ``record`` signed in every enabled format."""
    keys = signers.keys
    values: dict[str, Any] = {
        "id": certificate_id, "beneficiary_id": beneficiary_id, "dose_id": dose_id,
        "key_id": keys.key_id, "issued_at": now, "expires_at": expires,
        "provisional": record.vaccination.dose < record.vaccination.total_doses,
        "dcc": None, "shc": None, "vc": None, "uvci": None, "superseded_at": None,
        "revoked_at": None, "revocation_reason": None}
    if "dcc" in formats:
        values["uvci"] = uvci = dcc.make_uvci(pack.code,
                                              certificate_id.replace("-", "").upper()[:24])
        signer = keys.dcc_signer
        values["dcc"] = dcc.encode(dcc.dcc_payload(record, uvci=uvci),
                                   private_key=signer.private_key,
                                   certificate=signer.certificate, issuer=pack.code,
                                   issued_at=now, expires_at=expires, kid=signers.dcc_kid)
    if "shc" in formats:
        values["shc"] = shc.issue(record, keys.shc_key, issuer=signers.issuer_url,
                                  issued_at=now, expires_at=expires, kid=signers.shc_kid)
    if "vc" in formats:
        values["vc"] = vc.qr_text(vc.issue(record, keys.vc_key, issuer=signers.issuer_url,
                                           verification_method=signers.vc_method))
    return values


def issue_for_dose(session: Session, pack: ActivePack, keys: KeyGeneration, dose: Dose,
                   *, now: datetime | None = None,
                   live: list[Certificate] | None = None,
                   signers: Signers | None = None) -> Certificate:
    """Issue (and stage, not commit) the certificate of ``dose`` in every enabled format.
    ``live``: the person's certificates that are not revoked, when the caller has read
    them; the new certificate is appended to it. ``signers``: ``Signers.of(keys, ...)``
    when the caller has derived it."""
    if live is None:
        live = list(session.scalars(select(Certificate).where(
            Certificate.beneficiary_id == dose.beneficiary_id, Certificate.revoked_at.is_(None))))
    existing = next((c for c in live if c.dose_id == dose.id), None)
    if existing is not None:
        return existing
    settings = current_app.config["COWIN_KIT"]
    now = now or datetime.now(timezone.utc)
    expires = now + timedelta(days=settings["CERTIFICATE_VALIDITY_DAYS"])
    signers = signers or Signers.of(keys, settings["PUBLIC_URL"].rstrip("/"))
    certificate_id = new_uuid()
    record = build_record(session, pack, dose, certificate_id, now, expires)
    formats = frozenset(pack.document["certificates"]["formats"])
    certificate = Certificate(**_signed_values(pack, signers, record, formats, certificate_id,
                                               dose.beneficiary_id, dose.id, now, expires))
    for older in live:
        if older.superseded_at is None:
            older.superseded_at = now
    live.append(certificate)
    session.add(certificate)
    audit.record(session, "certificate.issue", "certificate", certificate.id,
                 place=facility_place(session, dose.facility_id), dose=dose.id,
                 provisional=certificate.provisional, formats=sorted(formats))
    if plugins.wants("certificate_issued"):  # fired when the caller commits
        _queue_issued_hook(session, record, certificate.id, dose.id,
                           session.get(Beneficiary, dose.beneficiary_id).reference_id,
                           certificate.provisional, formats)
    return certificate


def _queue_issued_hook(session: Session, record: VaccinationRecord, certificate_id: str,
                       dose_id: int, reference_id: str, provisional: bool,
                       formats: frozenset[str]) -> None:
    documents = plugins.produce_documents(record, certificate_id=certificate_id)
    plugins.queue_hook(session, "certificate_issued", certificate_id=certificate_id,
                       dose_id=dose_id, reference_id=reference_id, provisional=provisional,
                       formats=sorted(formats), documents=documents)


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
    signers = None
    while claimed < limit:
        with factory() as session:
            dues = session.connection().execute(
                _statement("claim"), {"now": now, "size": min(BATCH_SIZE, limit - claimed)}
            ).all()
            if not dues:
                break
            claimed += len(dues)
            if signers is None:
                if callable(keys):
                    keys = keys()
                signers = Signers.of(keys, current_app.config["COWIN_KIT"]["PUBLIC_URL"]
                                     .rstrip("/"))
            ids = [due.id for due in dues]
            try:
                done = _issue_batch(session, pack, signers, dues, now)
                if before_commit is not None:
                    for certificate in done:
                        before_commit(certificate if isinstance(certificate, Certificate)
                                      else Certificate(**certificate))
                session.commit()
            except Exception:  # one transaction per row instead: see above
                session.rollback()
                done = None
        if done is None:
            issued += sum(_issue_one(factory, pack, signers, due_id, now, before_commit)
                          for due_id in ids)
        else:
            metrics.CERTIFICATES_ISSUED.inc(len(done))
            issued += len(done)
    return issued


def _build_statements() -> dict[str, Any]:
    """The outbox's statements, built once (on first use) on the tables: Core statements
    with bound values, no ORM unit of work for rows that are only inserted or marked."""
    dues, doses, people, places = (CertificateDue.__table__, Dose.__table__,
                                   Beneficiary.__table__, Facility.__table__)
    return {
        "claim": (select(dues.c.id, dues.c.dose_id)
                  .where(dues.c.status == "pending",
                         dues.c.next_attempt_at <= bindparam(
                             "now", type_=dues.c.next_attempt_at.type))
                  .order_by(dues.c.id).limit(bindparam("size"))
                  .with_for_update(skip_locked=True)),
        # the claimed doses with their people and facilities, the columns a certificate needs
        "doses": (select(doses.c.id, doses.c.beneficiary_id, people.c.reference_id,
                         doses.c.dose_number, doses.c.product_id, doses.c.administered_at,
                         doses.c.lot, doses.c.vaccinator, people.c.name, people.c.birth_date,
                         people.c.birth_year, people.c.id_type_id, people.c.id_number_last4,
                         places.c.name, places.c.address, doses.c.facility_id,
                         places.c.location_id)
                  .select_from(doses.join(people, people.c.id == doses.c.beneficiary_id)
                               .outerjoin(places, places.c.id == doses.c.facility_id))
                  .where(doses.c.id.in_(bindparam("dose_ids", expanding=True)))),
        "insert_certificates": insert(Certificate.__table__),
        "insert_events": insert(AuditEvent.__table__),
        "done": (update(dues).where(dues.c.id.in_(bindparam("due_ids", expanding=True)))
                 .values(status="done")),
    }


_STATEMENTS: dict[str, Any] = {}


def _statement(name: str) -> Any:
    if not _STATEMENTS:
        _STATEMENTS.update(_build_statements())
    return _STATEMENTS[name]


def _issue_batch(session: Session, pack: ActivePack, signers: Signers, dues: list,
                 now: datetime) -> list[Certificate | dict[str, Any]]:
    """Issue (not commit) the certificates of claimed rows ((id, dose_id) pairs): their
    doses, people and facilities are read in one query, the people's live certificates in
    another; the new certificates and their audit events are inserted with one statement
    each, the rows marked done with one more. Returns, per row, the new certificate's
    columns (or the dose's live certificate, already issued)."""
    connection = session.connection()
    rows = {row[0]: row for row in connection.execute(
        _statement("doses"), {"dose_ids": sorted({due.dose_id for due in dues})})}
    live: dict[int, list[Certificate | dict[str, Any]]] = {
        row.beneficiary_id: [] for row in rows.values()}
    for certificate in session.scalars(select(Certificate).where(
            Certificate.beneficiary_id.in_(list(live)), Certificate.revoked_at.is_(None))):
        live[certificate.beneficiary_id].append(certificate)
    settings = current_app.config["COWIN_KIT"]
    expires = now + timedelta(days=settings["CERTIFICATE_VALIDITY_DAYS"])
    formats = frozenset(pack.document["certificates"]["formats"])
    listened = plugins.wants("certificate_issued")
    done: list[Certificate | dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for due in dues:
        row = rows[due.dose_id]
        theirs = live[row.beneficiary_id]
        existing = next((c for c in theirs if _get(c, "dose_id") == due.dose_id), None)
        if existing is not None:
            done.append(existing)
            continue
        certificate_id = new_uuid()
        facts = _DoseFacts(*row[3:13], row[13] or "", row[14] or "")  # "": no facility
        record = _record(session, pack, facts, certificate_id, now, expires)
        values = _signed_values(pack, signers, record, formats, certificate_id,
                                row.beneficiary_id, due.dose_id, now, expires)
        for older in theirs:  # the newest certificate supersedes the person's others
            if _get(older, "superseded_at") is None:
                if isinstance(older, Certificate):
                    older.superseded_at = now  # flushed at commit
                else:
                    older["superseded_at"] = now
        theirs.append(values)
        new.append(values)
        done.append(values)
        events.append(audit.values("certificate.issue", "certificate", certificate_id,
                                   place=audit.Place(row[16], row[15]), dose=due.dose_id, provisional=values["provisional"],
                                   formats=sorted(formats)))
        if listened:  # fired when the caller commits
            _queue_issued_hook(session, record, certificate_id, due.dose_id,
                               row.reference_id, values["provisional"], formats)
    if new:
        connection.execute(_statement("insert_certificates"), new)
        connection.execute(_statement("insert_events"), events)
    connection.execute(_statement("done"), {"due_ids": [due.id for due in dues]})
    return done


def _get(certificate: Certificate | dict[str, Any], name: str) -> Any:
    return certificate[name] if isinstance(certificate, dict) else getattr(certificate, name)


def _issue_one(factory: sessionmaker[Session], pack: ActivePack, signers: Signers,
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
            certificate = issue_for_dose(session, pack, signers.keys,
                                         session.get(Dose, due.dose_id), now=now,
                                         signers=signers)
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
        audit.record(session, "certificate.revoke", "certificate", certificate.id,
                     place=person_place(session, beneficiary), reason=reason)
        revoked += 1
    latest = session.scalars(select(Dose).where(Dose.beneficiary_id == beneficiary.id,
                                                Dose.series == BOOKED_SERIES)
                             .order_by(Dose.dose_number.desc())).first()
    if latest is not None:
        session.add(CertificateDue(dose_id=latest.id, reason="correction"))
    return revoked


def release_voided_dose(session: Session, dose: Dose, *, reason: str,
                        now: datetime | None = None) -> int:
    """A dose is being taken out of the record (voided, or a merge's second copy): its
    certificates are revoked and no longer point at it (they stay on the revocation
    list). The caller deletes the dose and commits; how many were revoked."""
    now = now or datetime.now(timezone.utc)
    revoked = 0
    for certificate in session.scalars(select(Certificate).where(
            Certificate.dose_id == dose.id)):
        if certificate.revoked_at is None:
            certificate.revoked_at = now
            certificate.revocation_reason = reason
            audit.record(session, "certificate.revoke", "certificate", certificate.id,
                         place=facility_place(session, dose.facility_id), reason=reason)
            revoked += 1
        certificate.dose_id = None
    session.flush()
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
