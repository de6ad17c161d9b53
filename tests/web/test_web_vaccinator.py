"""The vaccinator pages through Flask's test client: the queue, check-in with the secret
code, recording a dose (once, even if sent twice) with the lot offered from what the
facility used, walk-ins, AEFI and the end-of-session summary; and who may use them."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_database
from cowin_kit.identity import services as identity
from cowin_kit.registration.models import CitizenAccount, Dose
from cowin_kit.scheduling import booking as bookings
from cowin_kit.scheduling.models import Appointment
from cowin_kit.vaccination.models import AefiReport, CertificateDue
from cowin_kit.testing import (
    IST, add_members, create_staff as staff_user, field_error, form_post, publish, secret_code, sign_in, text, token_of, web_staff_sign_in,
)
from cowin_kit.testing import valid_aadhaar as _valid_aadhaar


def count(app, model, *where):
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def booked_person(app, client):
    """A citizen booked for today at F-TVM-1: (citizen token, reference id)."""
    session_id = publish(app, days_ahead=0, code="F-TVM-1", slots="00:00-23:59")
    citizen = sign_in(app, client)
    (ref,) = add_members(app, client, citizen, 1)
    with app.test_request_context(), get_database(app).session() as session:
        account = session.scalars(select(CitizenAccount)).one()
        morning = datetime.now(timezone.utc).replace(hour=3, minute=0)
        bookings.book(session, active_pack(), account, session_id=session_id,
                        slot="00:00-23:59", reference_ids=[ref], now=morning)
    return citizen, ref


def test_queue_check_in_and_record_a_dose_once(reg_app):
    client = reg_app.test_client()
    citizen, ref = booked_person(reg_app, client)
    staff_user(reg_app, "vax.web", "vaccinator", facility_code="F-TVM-1")
    assert client.get("/vaccinator").status_code == 302  # to the staff sign-in
    web_staff_sign_in(client, "vax.web")
    assert "/vaccinator" in text(client.get("/staff"))

    queue = text(client.get("/vaccinator"))
    assert "Asha Devi" in queue and f"reference_id={ref}" in queue
    page = client.get(f"/vaccinator/check-in?reference_id={ref}")
    body = text(page)
    assert page.status_code == 200 and "Asha Devi" in body
    # the 4-digit code is not shown (as a number of its own: random ids and tokens on the
    # page may contain the same four digits)
    code = secret_code(client, citizen, ref)
    assert 'name="secret_code"' in body
    assert not re.search(rf"(?<![0-9A-Za-z_-]){code}(?![0-9A-Za-z_-])", body)
    assert re.search(r"X{4,}\d{4}|\*{4,}\d{4}|\d{4}", body)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', body).group(1)
    code = secret_code(client, citizen, ref)
    wrong = "0000" if code != "0000" else "1111"
    form = {"csrf_token": token_of(body), "reference_id": ref, "facility": "F-TVM-1",
            "idempotency_key": key, "vaccine": "COVISHIELD", "lot": "4121Z005"}
    refused = client.post("/vaccinator/doses", data={**form, "secret_code": wrong})
    assert refused.status_code == 422
    assert "secret code is not correct" in html.unescape(text(refused))
    assert count(reg_app, Dose) == 0

    recorded = client.post("/vaccinator/doses", data={**form, "secret_code": code})
    assert recorded.status_code == 303, text(recorded)
    again = client.post("/vaccinator/doses", data={**form, "secret_code": code})
    assert again.status_code == 303  # the same form sent twice: still one dose
    assert count(reg_app, Dose) == 1 and count(reg_app, CertificateDue) == 1
    assert count(reg_app, Appointment, Appointment.status == "completed") == 1
    done = text(client.get(recorded.headers["Location"]))
    assert "4121Z005" in done and "Dose recorded" in done

    # The lot used here is offered for the next person; the queue shows them vaccinated.
    assert '<option value="4121Z005">' in text(client.get("/vaccinator/check-in?reference_id="
                                                          + ref))
    assert "Vaccinated" in text(client.get("/vaccinator"))
    summary = text(client.get("/vaccinator/summary"))
    assert "4121Z005" in summary and "1 dose given today" in summary


def test_unknown_reference_and_missing_lot_are_shown_next_to_the_field(reg_app):
    client = reg_app.test_client()
    _citizen, ref = booked_person(reg_app, client)
    staff_user(reg_app, "vax.web2", "vaccinator", facility_code="F-TVM-1")
    web_staff_sign_in(client, "vax.web2")
    missing = client.get("/vaccinator/check-in?reference_id=12345678901234")
    assert missing.status_code == 404
    assert "No one is registered" in field_error(text(missing), "reference_id")
    page = text(client.get(f"/vaccinator/check-in?reference_id={ref}"))
    no_lot = client.post("/vaccinator/doses", data={
        "csrf_token": token_of(page), "reference_id": ref, "facility": "F-TVM-1",
        "vaccine": "COVISHIELD", "lot": "", "secret_code": "1234"})
    assert no_lot.status_code == 422 and field_error(text(no_lot), "lot")
    no_csrf = client.post("/vaccinator/doses", data={"reference_id": ref, "lot": "L"})
    assert no_csrf.status_code == 400 and count(reg_app, Dose) == 0


def test_walk_in_then_dose_then_aefi(reg_app):
    client = reg_app.test_client()
    publish(reg_app, days_ahead=0, code="F-TVM-1", slots="00:00-23:59")
    staff_user(reg_app, "vax.web3", "vaccinator", facility_code="F-TVM-1")
    web_staff_sign_in(client, "vax.web3")
    number = _valid_aadhaar(1)[0]
    bad = form_post(client, "/vaccinator/walk-in", mobile="9988776655", name="Lakshmi Amma",
                    birth_year="1950", gender="F", id_type="aadhaar", id_number="1234",
                    consent="y")
    assert bad.status_code == 422 and field_error(text(bad), "id_number")
    registered = form_post(client, "/vaccinator/walk-in", mobile="9988776655",
                           name="Lakshmi Amma", birth_year="1950", gender="F",
                           id_type="aadhaar", id_number=number, consent="y")
    assert registered.status_code == 303, text(registered)
    check_in = registered.headers["Location"]
    page = text(client.get(check_in))
    assert "Lakshmi Amma" in page and 'name="secret_code"' not in page  # no booking, no code
    ref = re.search(r'name="reference_id" value="(\d{14})"', page).group(1)
    recorded = client.post("/vaccinator/doses", data={
        "csrf_token": token_of(page), "reference_id": ref, "facility": "F-TVM-1",
        "vaccine": "COVAXIN", "lot": "EL0001"})
    assert recorded.status_code == 303, text(recorded)
    dose_id = int(recorded.headers["Location"].split("/doses/")[1].split("?")[0])
    aefi_path = f"/vaccinator/doses/{dose_id}/aefi"
    # the form takes the pack's local time (India)
    onset = (datetime.now(IST) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")
    empty = form_post(client, aefi_path, onset_at=onset, symptoms="", seriousness="serious",
                      outcome="recovering")
    assert empty.status_code == 422 and count(reg_app, AefiReport) == 0
    sent = form_post(client, aefi_path, onset_at=onset, symptoms="fever\nheadache",
                     seriousness="non_serious", outcome="recovering")
    assert sent.status_code == 303, text(sent)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        report = session.scalars(select(AefiReport)).one()
        assert report.symptoms == ["fever", "headache"] and report.dose_id == dose_id
    assert "1 adverse event reported today" in text(client.get("/vaccinator/summary"))


def test_other_staff_and_other_facilities_are_refused(reg_app):
    client = reg_app.test_client()
    publish(reg_app, days_ahead=0, code="F-TVM-1", slots="00:00-23:59")
    publish(reg_app, days_ahead=0, code="F-TVM-2", slots="00:00-23:59")
    staff_user(reg_app, "verifier.web", "verifier")
    web_staff_sign_in(client, "verifier.web")
    assert client.get("/vaccinator").status_code == 403
    other = reg_app.test_client()
    staff_user(reg_app, "vax.web4", "vaccinator", facility_code="F-TVM-2")
    web_staff_sign_in(other, "vax.web4")
    assert other.get("/vaccinator?facility=F-TVM-1").status_code == 403
    assert "F-TVM-2" in text(other.get("/vaccinator"))


def test_staff_of_several_facilities_choose_one_first(reg_app):
    publish(reg_app, days_ahead=0, code="F-TVM-1", slots="00:00-23:59")
    publish(reg_app, days_ahead=0, code="F-TVM-2", slots="00:00-23:59")
    client = reg_app.test_client()
    staff_user(reg_app, "vax.two.sites", "vaccinator", facility_code="F-TVM-1")
    with reg_app.app_context(), get_database(reg_app).session() as session:
        user = identity.find_staff_user(session, "vax.two.sites")
        identity.grant_role(session, user, "vaccinator", facility_code="F-TVM-2")
        session.commit()
    web_staff_sign_in(client, "vax.two.sites")
    chooser = text(client.get("/vaccinator"))
    assert "Choose your facility" in chooser
    assert "/vaccinator?facility=F-TVM-1" in chooser and "/vaccinator?facility=F-TVM-2" in chooser
    assert "Today's sessions" in html.unescape(text(client.get("/vaccinator?facility=F-TVM-2")))


def test_checking_in_someone_booked_elsewhere_asks_a_reason(reg_app):
    """Break the glass on the check-in page: a person booked at another facility opens
    only with a reason, which the dose form carries on; the read is audited with it."""
    from cowin_kit.audit.models import AuditEvent

    client = reg_app.test_client()
    citizen, ref = booked_person(reg_app, client)
    publish(reg_app, days_ahead=0, code="F-TVM-2", slots="00:00-23:59")
    staff_user(reg_app, "vax.glass", "vaccinator", facility_code="F-TVM-2")
    web_staff_sign_in(client, "vax.glass")
    asked = client.get(f"/vaccinator/check-in?facility=F-TVM-2&reference_id={ref}")
    page = text(asked)
    assert asked.status_code == 403 and "not in your area" in field_error(page, "reason")
    opened = client.get(f"/vaccinator/check-in?facility=F-TVM-2&reference_id={ref}"
                        "&reason=came+to+this+centre")
    page = text(opened)
    assert opened.status_code == 200 and 'name="secret_code"' in page
    assert 'name="reason" value="came to this centre"' in page
    # a wrong code re-shows the page: the reason goes along, the glass stays broken
    wrong = "0000" if secret_code(client, citizen, ref) != "0000" else "1111"
    again = client.post("/vaccinator/doses", data={
        "csrf_token": token_of(page), "reference_id": ref, "facility": "F-TVM-2",
        "vaccine": "COVISHIELD", "lot": "4121Z005", "secret_code": wrong,
        "reason": "came to this centre"})
    assert again.status_code == 422 and 'name="secret_code"' in text(again)
    with reg_app.app_context(), get_database(reg_app).session() as session:
        reasons = {e.details["reason"] for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action == "record.read_outside_area"))}
    assert reasons == {"came to this centre"}
