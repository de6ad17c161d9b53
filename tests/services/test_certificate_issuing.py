"""A dose recorded through the API becomes certificates in every enabled format, issued
from the outbox (crash-safe), verifiable by an independent path with only the published
material; corrections revoke and reissue."""

from __future__ import annotations

import base64
import json

from sqlalchemy import func, select

from cowin_kit.certificates import services
from cowin_kit.certificates.formats import qr, shc
from cowin_kit.certificates.signing import keystore as keystore_module
from cowin_kit.certificates.models import Certificate
from cowin_kit.certificates.signing.trust import TrustStore
from cowin_kit.certificates.verify import verify
from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_database
from cowin_kit.vaccination.models import CertificateDue
from cowin_kit.testing import add_members, auth, member, publish, run_worker, sign_in, staff_token
from cowin_kit.testing import valid_aadhaar as _valid_aadhaar


def counts(app):
    with app.app_context(), get_database(app).session() as session:
        return (session.scalar(select(func.count()).select_from(Certificate)),
                session.scalar(select(func.count()).select_from(CertificateDue)
                               .where(CertificateDue.status == "pending")))


def test_no_dose_is_left_without_a_certificate_even_if_the_worker_dies(reg_app, vaccinated):
    assert counts(reg_app) == (0, 1)

    def die(_certificate):
        raise SystemError("worker killed between issuing and marking the row")

    assert run_worker(reg_app, before_commit=die) == 0
    assert counts(reg_app) == (0, 1)        # nothing half-done; the row is still due
    with reg_app.app_context(), get_database(reg_app).session() as session:
        due = session.scalars(select(CertificateDue)).one()
        assert due.attempts == 1 and "worker killed" in due.last_error
        due.next_attempt_at = due.created_at  # the retry is due now
        session.commit()
    assert run_worker(reg_app) == 1
    assert counts(reg_app) == (1, 0)
    assert run_worker(reg_app) == 0           # issued once, never twice
    assert counts(reg_app) == (1, 0)


def test_independent_verification_with_only_published_material(reg_app, vaccinated):
    client, citizen, ref = vaccinated
    run_worker(reg_app)
    body = client.get(f"/api/v1/beneficiaries/{ref}/certificate", headers=auth(citizen)).get_json()
    assert body["provisional"] is True  # dose 1 of 2
    formats = body["formats"]
    assert formats["dcc"].startswith("HC1:") and formats["shc"].startswith("shc:/")
    assert formats["vc"].startswith("VC1:")

    published = TrustStore()
    published.add_trust_list(client.get("/api/v1/trust/dcc").get_json())
    published.add_jwks(client.get("/.well-known/jwks.json").get_json(),
                       issuer="http://127.0.0.1:5000")
    for key in client.get("/api/v1/trust/vc").get_json()["keys"]:
        published.add_jwks({"keys": [key["publicKeyJwk"]]}, issuer="http://127.0.0.1:5000")
    for name, render in (("dcc", qr.dcc_png), ("shc", qr.shc_png), ("vc", qr.vc_png)):
        png = render(formats[name])
        (text,) = qr.read_texts(png)              # read back by zxing-cpp
        result = verify(text, trust=published)
        assert result.valid, (name, result.errors, result.details)
        assert result.format == name
    dcc = verify(formats["dcc"], trust=published).payload  # the DCC JSON
    (vaccination,) = dcc["v"]
    assert (vaccination["dn"], vaccination["sd"], vaccination["co"]) == (1, 2, "IN")
    assert vaccination["mp"] == "Covishield" and vaccination["ci"].startswith("URN:UVCI:01:IN:")
    assert dcc["nam"]["fn"] == "Devi" and dcc["nam"]["gnt"] == "ASHA"

    card = client.get(f"/api/v1/beneficiaries/{ref}/certificate.smart-health-card",
                      headers=auth(citizen))
    jws = json.loads(card.get_data(as_text=True))["verifiableCredential"][0]
    assert verify(shc.qr_text(jws), trust=published).valid
    other = sign_in(reg_app, client, "9123456789")
    assert client.get(f"/api/v1/beneficiaries/{ref}/certificate",
                      headers=auth(other)).status_code == 404


def test_the_api_verifier_and_a_tampered_certificate(reg_app, vaccinated):
    client, citizen, ref = vaccinated
    run_worker(reg_app)
    formats = client.get(f"/api/v1/beneficiaries/{ref}/certificate",
                         headers=auth(citizen)).get_json()["formats"]
    good = client.post("/api/v1/certificates/verify", json={"text": formats["dcc"]}).get_json()
    assert good["valid"] is True and good["format"] == "dcc" and good["errors"] == []
    jws = shc.jws_from_qr([formats["shc"]])
    header, payload, signature = jws.split(".")
    forged_signature = base64.urlsafe_b64encode(bytes(64)).decode().rstrip("=")
    forged = shc.qr_text(".".join([header, payload, forged_signature]))
    bad = client.post("/api/v1/certificates/verify", json={"text": forged}).get_json()
    assert bad["valid"] is False and "signature_invalid" in bad["errors"]


def test_a_correction_revokes_and_reissues(reg_app, vaccinated):
    client, citizen, ref = vaccinated
    run_worker(reg_app)
    old = client.get(f"/api/v1/beneficiaries/{ref}/certificate", headers=auth(citizen)).get_json()
    corrected = client.patch(f"/api/v1/beneficiaries/{ref}", headers=auth(citizen),
                             json={"name": "Asha Devi Kumari"})
    assert corrected.status_code == 200
    revoked = client.get("/api/v1/trust/revocations").get_json()["revoked"]
    assert old["certificate_id"] in revoked
    check = client.post("/api/v1/certificates/verify", json={"text": old["formats"]["dcc"]})
    assert check.get_json()["revoked"] is True and check.get_json()["valid"] is False
    assert run_worker(reg_app) == 1
    new = client.get(f"/api/v1/beneficiaries/{ref}/certificate", headers=auth(citizen)).get_json()
    assert new["certificate_id"] != old["certificate_id"]
    assert client.post("/api/v1/certificates/verify",
                       json={"text": new["formats"]["dcc"]}).get_json()["valid"] is True


def test_rotation_keeps_old_certificates_verifiable(reg_app, vaccinated):
    client, citizen, ref = vaccinated
    run_worker(reg_app)
    old = client.get(f"/api/v1/beneficiaries/{ref}/certificate", headers=auth(citizen)).get_json()
    with reg_app.app_context():
        keystore_module.generate(services.keystore().keys_dir, "IN", "MoHFW")
        assert len(services.keystore().generations()) == 2
    assert len(client.get("/api/v1/trust/dcc").get_json()) == 2
    still = client.post("/api/v1/certificates/verify", json={"text": old["formats"]["dcc"]})
    assert still.get_json()["valid"] is True


def test_a_failing_row_is_retried_alone_and_does_not_hold_back_the_others(reg_app, vaccinated):
    client, citizen, _ref = vaccinated
    vaccinator = staff_token(reg_app, client, "vax.batch", "vaccinator", facility_code="F-TVM-1")
    for number in _valid_aadhaar(3)[1:]:  # two more people in the same account
        added = client.post("/api/v1/beneficiaries", json=member(number), headers=auth(citizen))
        assert added.status_code == 201, added.get_json()
        assert client.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
            "reference_id": added.get_json()["reference_id"], "vaccine": "COVISHIELD",
            "lot": "4121Z005"}).status_code == 201
    assert counts(reg_app) == (0, 3)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        failing = session.scalars(select(CertificateDue.dose_id).order_by(CertificateDue.id)).all()[1]

    def fail_one(certificate):
        if certificate.dose_id == failing:
            raise SystemError("signing service unavailable")

    assert run_worker(reg_app, before_commit=fail_one) == 2
    assert counts(reg_app) == (2, 1)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        due = session.scalars(select(CertificateDue).where(CertificateDue.status == "pending")).one()
        assert due.dose_id == failing and due.attempts == 1 and "unavailable" in due.last_error
        due.next_attempt_at = due.created_at  # the retry is due now
        session.commit()
    assert run_worker(reg_app) == 1
    assert counts(reg_app) == (3, 0)


def test_a_second_dose_supersedes_the_first_certificate(reg_app):
    """Issued in a later batch, the dose-2 certificate supersedes the dose-1 one; both
    carry their audit event."""
    from datetime import datetime, timedelta, timezone

    from cowin_kit.audit.models import AuditEvent
    from cowin_kit.audit.services import acting_as, cli_actor
    from cowin_kit.identity.models import StaffUser
    from cowin_kit.geography.models import Facility
    from cowin_kit.vaccination import services as vaccination

    client = reg_app.test_client()
    with reg_app.app_context():
        keystore_module.generate(services.keystore().keys_dir, "IN", "MoHFW")
    publish(reg_app, code="F-TVM-1")
    staff_token(reg_app, client, "vax.two.doses", "vaccinator", facility_code="F-TVM-1")
    citizen = sign_in(reg_app, client)
    (ref,) = add_members(reg_app, client, citizen, 1)

    def record(days_ago):
        with reg_app.app_context(), acting_as(cli_actor()), \
                get_database(reg_app).session() as session:
            vaccinator = session.scalars(select(StaffUser)
                                         .where(StaffUser.username == "vax.two.doses")).one()
            facility = session.scalars(select(Facility).where(Facility.code == "F-TVM-1")).one()
            return vaccination.record_dose(
                session, active_pack(), vaccinator, facility=facility, reference_id=ref,
                product_code="COVISHIELD", lot="4121Z005",
                administered_at=datetime.now(timezone.utc) - timedelta(days=days_ago)).dose.id

    first = record(100)
    assert run_worker(reg_app) == 1
    second = record(0)
    assert run_worker(reg_app) == 1
    with reg_app.app_context(), get_database(reg_app).session() as session:
        by_dose = {c.dose_id: c for c in session.scalars(select(Certificate))}
        assert by_dose[first].superseded_at is not None and by_dose[first].provisional
        assert by_dose[second].superseded_at is None and not by_dose[second].provisional
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "certificate.issue")).all()
        assert sorted(e.object_id for e in events) == sorted(c.id for c in by_dose.values())
        assert {e.details["dose"] for e in events} == {first, second}
    body = client.get(f"/api/v1/beneficiaries/{ref}/certificate", headers=auth(citizen)).get_json()
    assert body["certificate_id"] == by_dose[second].id and body["provisional"] is False
