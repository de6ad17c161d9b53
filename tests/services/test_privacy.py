"""Privacy (docs/privacy.md): a person's data export (JSON, PDF) for the citizen and for
staff, audited; the retention jobs; erasure by pseudonymization that keeps the counts.
Through HTTP, the CLI and the worker, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.certificates.models import Certificate
from cowin_kit.cli import main
from cowin_kit.core.db import get_database
from cowin_kit.notifications.models import OutboxMessage
from cowin_kit.registration.models import (
    Beneficiary, CitizenAccount, Dose, OtpTransaction,
)
from cowin_kit.testing import (
    auth, national_admin_token, run_worker, staff_token, valid_aadhaar,
)
from cowin_kit.testing.api import VACCINATOR_NAME
from cowin_kit.testing.documents import pdf_text

MOBILE = "+919876543210"


def cli_env(app, monkeypatch, **settings):
    config = app.config["COWIN_KIT"]
    monkeypatch.setenv("COWIN_KIT_DATABASE_URL", config["DATABASE_URL"])
    monkeypatch.setenv("COWIN_KIT_INSTANCE_PATH", config["INSTANCE_PATH"])
    monkeypatch.setenv("COWIN_KIT_ENV", "test")
    for key, value in settings.items():
        monkeypatch.setenv(f"COWIN_KIT_{key}", str(value))


def events(app, action):
    with app.app_context(), get_database(app).session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.id)))  # in the order written


def test_a_citizen_exports_everything_held_as_json_and_pdf(reg_app, vaccinated):
    client, citizen, ref = vaccinated
    assert run_worker(reg_app) == 1    # the dose's certificate
    answer = client.get("/api/v1/account/export", headers=auth(citizen))
    assert answer.status_code == 200, answer.get_json()
    assert "no-store" in answer.headers["Cache-Control"]
    body = answer.get_json()
    assert body["format"] == "cowin-kit/person-export"
    assert body["account"]["mobile"] == MOBILE     # the citizen's own number, in full
    (person,) = body["people"]
    assert person["reference_id"] == ref and person["name"] == "Asha Devi"
    aadhaar = valid_aadhaar(1)[0]
    assert person["id_number_masked"].endswith(aadhaar[-4:])
    assert aadhaar not in answer.get_data(as_text=True)   # ID numbers masked, always
    assert len(person["doses"]) == 1 and person["doses"][0]["lot"] == "4121Z005"
    assert person["doses"][0]["vaccinator"] == VACCINATOR_NAME  # by name, not user name
    assert len(person["certificates"]) == 1
    assert len(person["appointments"]) == 0 and body["grievances"] == []
    actions = {e["action"] for e in body["audit"]}
    assert {"beneficiary.create", "account.sign_in"} <= actions
    assert any(e["who"] == "you" for e in body["audit"])

    pdf = client.get("/api/v1/account/export.pdf", headers=auth(citizen))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data)
    assert "Asha Devi" in text and ref in text and "4121Z005" in text
    assert aadhaar not in text
    exported = events(reg_app, "privacy.export")
    assert [(e.object_type, e.details["format"]) for e in exported] == [
        ("citizen_account", "json"), ("citizen_account", "pdf")]
    assert client.get("/api/v1/account/export").status_code == 401


def test_staff_export_on_request_is_scoped_masked_and_audited(reg_app, vaccinated,
                                                              monkeypatch, tmp_path):
    client, _citizen, ref = vaccinated
    national = national_admin_token(reg_app, client)
    answer = client.get(f"/api/v1/staff/people/{ref}/export", headers=auth(national))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["account"]["mobile"] != MOBILE and body["account"]["mobile"].endswith("3210")
    assert body["requested_by"] == "staff:nat.admin"
    assert body["people"][0]["reference_id"] == ref
    # a district administrator elsewhere, a vaccinator: refused; an unknown person: 404
    other = staff_token(reg_app, client, "ekm.admin", "district_admin",
                        location_code="IN-KL-EKM")
    vaccinator = staff_token(reg_app, client, "vax.other", "vaccinator",
                             facility_code="F-TVM-1")
    for token in (other, vaccinator):
        refused = client.get(f"/api/v1/staff/people/{ref}/export", headers=auth(token))
        assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"
    home = staff_token(reg_app, client, "tvm.admin", "district_admin",
                       location_code="IN-KL-TVM")
    assert client.get(f"/api/v1/staff/people/{ref}/export.pdf",
                      headers=auth(home)).status_code == 200
    missing = client.get("/api/v1/staff/people/99999999999999/export", headers=auth(national))
    assert missing.status_code == 404 and missing.get_json()["code"] == "beneficiary_not_found"

    cli_env(reg_app, monkeypatch)
    target = tmp_path / "person.json"
    done = CliRunner().invoke(main, ["privacy", "export", ref, "-o", str(target)])
    assert done.exit_code == 0, done.output
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["requested_by"] == "operator" and document["people"][0]["name"] == "Asha Devi"
    assert target.stat().st_mode & 0o077 == 0
    printed = tmp_path / "person.pdf"
    done = CliRunner().invoke(main, ["privacy", "export", ref, "--format", "pdf",
                                     "--locale", "hi", "-o", str(printed)])
    assert done.exit_code == 0, done.output
    assert "Asha Devi" in pdf_text(printed.read_bytes())
    wrong = CliRunner().invoke(main, ["privacy", "export", "123", "-o", str(tmp_path / "x")])
    assert wrong.exit_code == 1 and "beneficiary_not_found" in wrong.stderr
    assert not (tmp_path / "x").exists()
    exported = events(reg_app, "privacy.export")
    assert [(e.actor_type, e.object_id) for e in exported] == [
        ("staff", ref), ("staff", ref), ("cli", ref), ("cli", ref)]


def _age(app, model, column, days, **where):
    """Move the matching rows ``days`` into the past."""
    with app.app_context(), get_database(app).session() as session:
        for row in session.scalars(select(model).filter_by(**where)):
            setattr(row, column, getattr(row, column) - timedelta(days=days))
        session.commit()


def test_retention_purges_old_rows_and_keeps_the_rest(reg_app, monkeypatch):
    from cowin_kit.testing import sign_in

    client = reg_app.test_client()
    kept = sign_in(reg_app, client)                                  # has a person below
    client.post("/api/v1/beneficiaries", headers=auth(kept), json={
        "name": "Asha Devi", "birth_year": 1980, "gender": "F", "id_type": "aadhaar",
        "id_number": valid_aadhaar(1)[0], "consent_version": "v1"})
    sign_in(reg_app, client, mobile="9876500001")                     # nobody on it
    sign_in(reg_app, client, mobile="9876500002")                     # nobody, but recent
    with reg_app.app_context(), get_database(reg_app).session() as session:
        for row in session.scalars(select(OutboxMessage)):
            row.status = "sent"
        session.commit()
    # everything of the first two numbers is 400 days old; the third signed in just now
    for mobile in (MOBILE, "+919876500001"):
        _age(reg_app, CitizenAccount, "created_at", 400, mobile=mobile)
        _age(reg_app, OtpTransaction, "created_at", 400, mobile=mobile)
        _age(reg_app, OutboxMessage, "created_at", 400, recipient=mobile)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        accounts = {a.mobile: a.id for a in session.scalars(select(CitizenAccount))}
        for event in session.scalars(select(AuditEvent).where(
                AuditEvent.object_type == "citizen_account",
                AuditEvent.object_id.in_([str(accounts[MOBILE]),
                                          str(accounts["+919876500001"])]))):
            event.occurred_at -= timedelta(days=800)
            event.details = {**event.details, "channel": "web", "note": "old detail"}
        session.commit()

    cli_env(reg_app, monkeypatch)
    done = CliRunner().invoke(main, ["privacy", "purge"])
    assert done.exit_code == 0, done.output
    assert "deleted 2 OTP(s), 2 message(s), 1 abandoned account(s)" in done.output
    with reg_app.app_context(), get_database(reg_app).session() as session:
        left = set(session.scalars(select(CitizenAccount.mobile)))
        assert left == {MOBILE, "+919876500002"}
        assert set(session.scalars(select(OtpTransaction.mobile))) == {"+919876500002"}
        assert set(session.scalars(select(OutboxMessage.recipient))) == {"+919876500002"}
        old = list(session.scalars(select(AuditEvent).where(
            AuditEvent.object_id == str(accounts[MOBILE]),
            AuditEvent.object_type == "citizen_account")))
        assert old and all(e.details == {"channel": "web"} for e in old)
        assert session.scalar(select(func.count()).select_from(Beneficiary)) == 1
    (purge,) = events(reg_app, "privacy.purge")
    assert purge.details["accounts"] == 1 and purge.details["otps"] == 2
    # the worker runs the same jobs; nothing is left to do, and the audit events already
    # looked at are not looked at again
    from cowin_kit.worker import Worker

    assert Worker(reg_app).run_round().purged == 0
    again = CliRunner().invoke(main, ["privacy", "purge"])
    assert "cut the details of 0 audit event(s)" in again.output


def _counts(client, token):
    age_sex = client.get("/api/v1/reports/age-sex", headers=auth(token)).get_json()
    coverage = client.get("/api/v1/reports/coverage", headers=auth(token)).get_json()
    return age_sex["cells"], coverage


def test_erasure_pseudonymizes_and_keeps_the_counts(reg_app, vaccinated, monkeypatch):
    client, citizen, ref = vaccinated
    assert run_worker(reg_app) == 1
    national = national_admin_token(reg_app, client)
    before = _counts(client, national)
    cli_env(reg_app, monkeypatch)
    refused = CliRunner().invoke(main, ["privacy", "erase", ref, "--reason",
                                        "the person's request", "--yes"])
    assert refused.exit_code == 1 and "erasure_not_allowed" in refused.stderr

    cli_env(reg_app, monkeypatch, ERASURE_ALLOWED="true")
    no_reason = CliRunner().invoke(main, ["privacy", "erase", ref, "--reason", "", "--yes"])
    assert no_reason.exit_code == 1 and "reason_required" in no_reason.stderr
    done = CliRunner().invoke(main, ["privacy", "erase", ref, "--reason",
                                     "Art. 17 request of 6 Dec", "--yes"])
    assert done.exit_code == 0, done.output
    assert "1 dose(s) kept without identity, 1 certificate(s) revoked, account deleted" \
        in done.output
    with reg_app.app_context(), get_database(reg_app).session() as session:
        person = session.scalars(select(Beneficiary).where(
            Beneficiary.reference_id == ref)).one()
        assert person.name == "—" and person.id_number_hash is None
        assert person.id_number_encrypted is None and person.id_number_last4 is None
        assert person.birth_year == 1980 and person.gender_id is not None
        assert session.scalar(select(CitizenAccount.mobile).where(
            CitizenAccount.id == person.account_id)).startswith("erased:")
        assert session.scalar(select(func.count()).select_from(CitizenAccount).where(
            CitizenAccount.mobile == MOBILE)) == 0
        assert session.scalar(select(func.count()).select_from(Dose).where(
            Dose.beneficiary_id == person.id)) == 1
        certificate = session.scalars(select(Certificate)).one()
        assert certificate.revoked_at is not None and certificate.dcc is None
    assert _counts(client, national) == before       # coverage counted as before
    assert client.get("/api/v1/beneficiaries", headers=auth(citizen)).status_code == 401
    body = client.get(f"/api/v1/staff/people/{ref}/export", headers=auth(national)).get_json()
    assert body["people"][0]["name"] == "—" and body["people"][0]["id_number_masked"] is None
    assert "Asha" not in json.dumps(body)
    (erased,) = events(reg_app, "person.erase")
    assert erased.actor_type == "cli" and erased.details["reason"] == "Art. 17 request of 6 Dec"
    twice = CliRunner().invoke(main, ["privacy", "erase", ref, "--reason", "again please",
                                      "--yes"])
    assert twice.exit_code == 1 and "already_erased" in twice.stderr


def test_the_my_data_page_downloads_the_export(reg_app):
    from cowin_kit.testing import form_post, last_otp, text

    client = reg_app.test_client()
    assert client.get("/account/data").status_code in (302, 303)     # signed in only
    assert form_post(client, "/sign-in", mobile="9876543210").status_code == 303
    assert form_post(client, "/sign-in/otp",
                     otp=last_otp(reg_app, "9876543210")).status_code == 303
    form_post(client, "/members/new", name="Asha Devi", birth_year="1980", gender="F",
              id_type="aadhaar", id_number=valid_aadhaar(1)[0], consent="y")
    page = client.get("/account/data?lang=hi")
    assert page.status_code == 200
    assert "मेरा डेटा" in text(page) and "/account/data.pdf" in text(page)
    assert "/account/data" in text(client.get("/"))                  # in the menu
    body = json.loads(client.get("/account/data.json").data)
    assert body["people"][0]["name"] == "Asha Devi"
    pdf = client.get("/account/data.pdf")
    assert pdf.mimetype == "application/pdf" and "Asha Devi" in pdf_text(pdf.data)
    assert len(events(reg_app, "privacy.export")) == 2
