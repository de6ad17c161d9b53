"""Staff contacts and the alerts sent to them (SQLite and PostgreSQL): an administrator
sets a staff member's mobile through the API (checked, in their area only), the CLI
sets it too; stock alerts, a recall and a serious AEFI case are queued as messages in the
pack's language to the nearest staff of the place who hold the grant, once per alert."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from click.testing import CliRunner
from sqlalchemy import select

from cowin_kit.cli import main
from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_database
from cowin_kit.identity.models import StaffUser
from cowin_kit.notifications.models import OutboxMessage
from cowin_kit.stock import services as stock
from cowin_kit.testing import add_members, auth, publish, sign_in, staff_token, today

STOCK = "/api/v1/stock"


def contact(client, admin, username, mobile, email=None, status=200):
    response = client.put(f"/api/v1/admin/staff/{username}/contact", headers=auth(admin),
                          json={"mobile": mobile, "email": email})
    assert response.status_code == status, response.get_json()
    return response.get_json()


def messages(app, template):
    with app.app_context(), get_database(app).session() as session:
        return [(m.recipient, m.locale, m.text) for m in session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == template)
            .order_by(OutboxMessage.id))]


def test_contacts_are_checked_and_kept_to_the_administrators_area(reg_app, tmp_path,
                                                                  monkeypatch):
    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    national = staff_token(reg_app, client, "nat.contact", "national_admin")
    district = staff_token(reg_app, client, "tvm.contact", "district_admin",
                           location_code="IN-KL-TVM")
    staff_token(reg_app, client, "vax.contact", "vaccinator", facility_code="F-TVM-1")
    staff_token(reg_app, client, "dl.contact", "district_admin", location_code="IN-DL-CD")

    body = contact(client, district, "vax.contact", "98765 00101", "anm@example.org")
    assert (body["mobile"], body["email"]) == ("+919876500101", "anm@example.org")
    bad = contact(client, district, "vax.contact", "12345", "not-an-address", status=422)
    assert bad["code"] == "invalid_contact"
    assert set(bad["errors"]) == {"mobile", "email"}
    outside = contact(client, district, "dl.contact", "9876500102", status=403)
    assert outside["code"] == "forbidden"
    listed = {u["username"]: u["mobile"] for u in client.get(
        "/api/v1/admin/staff", headers=auth(national)).get_json()["staff"]}
    assert listed["vax.contact"] == "+919876500101" and listed["dl.contact"] is None
    cleared = contact(client, national, "vax.contact", None)
    assert cleared["mobile"] is None and cleared["email"] is None

    monkeypatch.setenv("COWIN_KIT_DATABASE_URL", reg_app.config["COWIN_KIT"]["DATABASE_URL"])
    monkeypatch.setenv("COWIN_KIT_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("COWIN_KIT_ENV", "test")
    runner = CliRunner()
    result = runner.invoke(main, ["users", "contact", "dl.contact", "--mobile", "9876500102"])
    assert result.exit_code == 0, result.output
    assert "+919876500102" in result.output
    wrong = runner.invoke(main, ["users", "contact", "dl.contact", "--mobile", "1"])
    assert wrong.exit_code == 1 and "phone number" in wrong.output
    listing = runner.invoke(main, ["users", "list"])
    assert "+919876500102" in listing.output
    with reg_app.app_context(), get_database(reg_app).session() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.username == "dl.contact")).one()
        assert user.mobile == "+919876500102"


def test_stock_alerts_and_a_recall_reach_the_nearest_stock_managers_once(reg_app):
    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    national = staff_token(reg_app, client, "nat.alerts", "national_admin")
    staff_token(reg_app, client, "fac.alerts", "facility_admin", facility_code="F-TVM-1")
    staff_token(reg_app, client, "tvm.alerts", "district_admin", location_code="IN-KL-TVM")
    vaccinator = staff_token(reg_app, client, "vax.alerts", "vaccinator",
                             facility_code="F-TVM-1")
    for username, mobile in (("nat.alerts", "9876500201"), ("fac.alerts", "9876500202"),
                             ("tvm.alerts", "9876500203"), ("vax.alerts", "9876500204")):
        contact(client, national, username, mobile)
    for lot, days, store, quantity in (("PN-SOON", 10, "national", 50),
                                       ("RT-FEW", 300, "facility:F-TVM-1", 1)):
        product = "PENTA" if lot == "PN-SOON" else "ROTA"
        assert client.post(f"{STOCK}/lots", headers=auth(national), json={
            "product": product, "lot": lot,
            "expires_on": (today() + timedelta(days=days)).isoformat()}).status_code in (200, 201)
        assert client.post(f"{STOCK}/receipts", headers=auth(national), json={
            "store": store, "product": product, "lot": lot,
            "quantity": quantity}).status_code == 201
    response = client.post("/api/v1/staff/people", headers=auth(vaccinator), json={
        "name": "Infant", "birth_date": (today() - timedelta(days=44)).isoformat(),
        "gender": "F", "mobile": "9876500011", "location": "IN-KL-TVM",
        "guardian_name": "Guardian", "guardian_relation": "mother"})
    assert response.status_code == 201, response.get_json()
    ref = response.get_json()["reference_id"]
    assert client.post("/api/v1/vaccinator/visits", headers=auth(vaccinator), json={
        "reference_id": ref, "doses": [{"vaccine": "ROTA", "lot": "RT-FEW"}]}).status_code == 201

    with reg_app.app_context(), get_database(reg_app).session() as session:
        raised = stock.raise_alerts(session, active_pack(), today())
        assert sorted(a.kind for a in raised) == ["near_expiry", "stock_out"]
        assert stock.raise_alerts(session, active_pack(), today()) == []   # once
    # the facility's stock-out goes to its facility administrator only (the nearest
    # holder of stock.manage; a vaccinator does not manage stock); the national store's
    # near-expiry lot to the national administrator
    ((to, locale, text),) = messages(reg_app, "stock_out")
    assert to == "+919876500202" and locale == "en"
    assert "ROTA" in text and "Ask for a supply" in text
    ((to, _locale, text),) = messages(reg_app, "stock_near_expiry")
    assert to == "+919876500201" and "PN-SOON" in text and "national store" in text

    for _twice in range(2):
        recalled = client.post(f"{STOCK}/lots/PENTA/PN-SOON/recall", headers=auth(national),
                               json={"reason": "cold chain breach"})
        assert recalled.status_code == 200, recalled.get_json()
    ((to, _locale, text),) = messages(reg_app, "stock_recall")
    assert to == "+919876500201" and "cold chain breach" in text and "50" in text


def test_a_serious_aefi_case_is_sent_to_the_districts_investigators_once(reg_app):
    client = reg_app.test_client()
    publish(reg_app, code="F-TVM-1")
    national = staff_token(reg_app, client, "nat.aefi", "national_admin")
    staff_token(reg_app, client, "tvm.aefi", "district_admin", location_code="IN-KL-TVM")
    staff_token(reg_app, client, "kl.aefi", "state_admin", location_code="IN-KL")
    staff_token(reg_app, client, "dl.aefi", "district_admin", location_code="IN-DL-CD")
    vaccinator = staff_token(reg_app, client, "vax.aefi", "vaccinator",
                             facility_code="F-TVM-1")
    for username, mobile in (("tvm.aefi", "9876500301"), ("kl.aefi", "9876500302"),
                             ("dl.aefi", "9876500303")):
        contact(client, national, username, mobile)
    citizen = sign_in(reg_app, client)
    (ref,) = add_members(reg_app, client, citizen, 1)
    dose = client.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": ref, "vaccine": "COVISHIELD", "lot": "4121Z005"}).get_json()
    mild = {"onset_at": datetime.now(timezone.utc).isoformat(), "dose_id": dose["dose_id"],
            "reactions": ["fever_38"], "seriousness": "non_serious", "outcome": "recovered"}
    assert client.post("/api/v1/vaccinator/aefi", headers=auth(vaccinator),
                       json=mild).status_code == 201
    assert messages(reg_app, "aefi_serious") == []
    serious = {**mild, "reactions": ["anaphylaxis"], "seriousness": "serious",
               "serious_criteria": ["hospitalization"], "outcome": "recovering"}
    reported = client.post("/api/v1/vaccinator/aefi", headers=auth(vaccinator), json=serious)
    assert reported.status_code == 201, reported.get_json()
    ((to, _locale, text),) = messages(reg_app, "aefi_serious")
    assert to == "+919876500301"
    assert f"report {reported.get_json()['id']}" in text and "4121Z005" in text
    assert ref not in text   # no reference or ID number of the person in the message
