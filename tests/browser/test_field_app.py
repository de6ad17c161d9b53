"""The offline field app in real Chromium (persistent contexts: the service worker and
IndexedDB outlive a closed context as on a phone): a vaccinator prepares, goes offline,
reloads (the service worker serves the app), registers 3 people and records 20 doses,
closes the browser and opens it again, syncs: the server holds those 20 doses once. A
sync cut in the middle is retried without doubling a dose; two devices recording the
same dose: one accepted, one sent for review, both told; a device not synced for longer
than the pack's limit holds nothing afterwards."""

from __future__ import annotations

import itertools
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from stdnum import verhoeff

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE

PIN = "482913"
COVID = "covid19-covishield"
_numbers = itertools.count(1)


def _aadhaar(seed: int) -> str:
    """A valid-looking Aadhaar number (11 digits from 6..., Verhoeff check digit)."""
    candidate = str(60000000000 + seed * 7919)
    return candidate + verhoeff.calc_check_digit(candidate)


class Device:
    """One phone: a Chromium profile folder, opened and closed like the browser app."""

    def __init__(self, driver: Any, live: Any, folder: Path, locale: str = "en-GB"):
        self.driver, self.live, self.folder, self.locale = driver, live, folder, locale
        self.context = self.page = None

    def open(self) -> Any:
        self.context = self.driver.chromium.launch_persistent_context(
            str(self.folder), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport=PHONE, locale=self.locale, service_workers="allow")
        self.context.set_default_timeout(20000)
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self.goto()
        return self.page

    def goto(self, hash_: str = "") -> None:
        self.page.goto(f"{self.live.url}/field/{hash_}")
        self.page.wait_for_selector("body[data-ready]")

    def reload(self) -> None:
        self.page.reload()
        self.page.wait_for_selector("body[data-ready]")

    def close(self) -> None:
        self.context.close()

    def sign_in(self, username: str | None = None) -> None:
        username = username or _field_worker(self.live)
        page = self.page
        page.fill("#f-username", username)
        page.fill("#f-password", self.live.staff_passwords[username])
        page.click("form button[type=submit]")
        page.fill("#f-pin", PIN)
        page.fill("#f-pin2", PIN)
        page.click("form button[type=submit]")
        page.wait_for_selector("#waiting")
        # The worker has installed (its cache filled) before the device goes offline.
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")

    def unlock(self) -> None:
        self.page.fill("#f-pin", PIN)
        self.page.click("form button[type=submit]")
        self.page.wait_for_selector("#waiting")

    def prepare(self) -> None:
        self.goto("#prepare")
        self.page.click("form button[type=submit]")
        self.page.wait_for_selector("#toast .success")

    def register(self, name: str, mobile: str, id_number: str) -> None:
        page = self.page
        page.evaluate("location.hash = '#register'")
        page.select_option("#f-kind", "walk_in")
        page.fill("#f-name", name)
        page.fill("#f-birth_date", "1980-05-17")
        page.fill("#f-mobile", mobile)
        page.select_option("#f-id_type", "aadhaar")
        page.fill("#f-id_number", id_number)
        page.click("form button[type=submit]")
        page.wait_for_selector("#toast .success")

    def open_person(self, name: str) -> None:
        page = self.page
        page.evaluate("location.hash = '#find'")
        page.fill("#f-q", name)
        page.click("form button[type=submit]")
        page.click(f"#results a:has-text('{name}')")
        page.wait_for_selector("h1:has-text('%s')" % name)

    def record_dose(self, lot: str, schedule: str = COVID) -> None:
        page = self.page
        page.click("a:has-text('Record doses')")
        page.select_option("#another", schedule)
        row = page.locator(f"fieldset.dose-row[data-schedule='{schedule}']").last
        row.locator("input.lot").fill(lot)
        page.click("form button[type=submit]")
        page.wait_for_selector("#toast .success")

    def sync(self) -> str:
        self.page.evaluate("location.hash = '#sync'")
        self.page.click("#sync-now")
        self.page.wait_for_selector("#toast .success, #toast .error")
        return self.page.inner_text("#toast")

    def statuses(self) -> list[str]:
        return self.page.eval_on_selector_all("#records li", "els => els.map(e => e.className)")

    def stored_rows(self) -> int:
        return self.page.evaluate("""() => new Promise((resolve) => {
          const r = indexedDB.open("cowin-field");
          r.onsuccess = () => {
            const db = r.result, names = [...db.objectStoreNames];
            const tx = db.transaction(names);
            let total = 0, left = names.length;
            const readable = [];
            for (const n of names) {
              const q = tx.objectStore(n).getAllKeys();
              q.onsuccess = () => { total += q.result.filter(k => n !== "meta" || k !== "locale").length;
                                    if (--left === 0) { db.close(); resolve(total); } };
            }
          };
        })""")


@pytest.fixture
def device(playwright_driver, live_server, tmp_path):
    """A factory of phones: ``device()`` on the Indian instance; ``device(live, locale)``
    on another pack's instance (``live_instance(code)``) in another language."""
    made = []

    def make(live: Any = None, locale: str = "en-GB") -> Device:
        made.append(Device(playwright_driver, live or live_server,
                           tmp_path / f"phone{len(made)}", locale))
        return made[-1]

    yield make
    for d in made:
        if d.context is not None:
            try:
                d.close()
            except Exception:
                pass


def _people_of_the_facility(live, count: int, prefix: str, first: int | None = None
                            ) -> list[str]:
    """``count`` adults registered at the vaccinator's facility (so prepare lists them).
    ``first``: the first of their numbers (names, mobiles, ID numbers), for a module that
    imports this one under another name (its own counter)."""
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.geography.models import Location
    from cowin_kit.identity import services as identity
    from cowin_kit.registration import people

    names = []
    with live.app.test_request_context(), live.session() as session:
        actor = identity.find_staff_user(session, "demo.vaccinator")
        facility = next(g.facility for g in actor.grants if g.facility is not None)
        area = session.get(Location, facility.location_id).code
        for i in range(count):
            n = next(_numbers) if first is None else first + i
            name = f"{prefix} Person {n}"
            people.register_person(session, active_pack(), actor, name=name,
                                   birth_date=date(1979, 3, 1 + n % 27), gender="F",
                                   mobile=f"98{n + 40000000:08d}", location=area,
                                   id_type="aadhaar", id_number=_aadhaar(n + 1000))
            names.append(name)
    return names


def _field_worker(live) -> str:
    """A vaccinator of demo.vaccinator's facility for one phone: each phone signs in as
    its own account (sign-in attempts are limited per client address and user name, and
    the browser tests all come from 127.0.0.1)."""
    from cowin_kit.geography.models import Facility
    from cowin_kit.identity import services as identity

    name = f"field.worker{next(_numbers)}"
    password = identity.generate_password()
    with live.session() as session:
        model = identity.find_staff_user(session, "demo.vaccinator")
        facility_id = next(g.facility_id for g in model.grants if g.facility_id)
        user = identity.create_staff_user(session, name, password)
        identity.grant_role(session, user, "vaccinator",
                            facility_code=session.get(Facility, facility_id).code)
        session.commit()
    live.staff_passwords[name] = password
    return name


def _doses_with_lot(live, lot: str) -> list[tuple[str, int]]:
    from cowin_kit.registration.models import Beneficiary, Dose

    with live.session() as session:
        return list(session.execute(
            select(Beneficiary.name, func.count()).join(Dose, Dose.beneficiary_id == Beneficiary.id)
            .where(Dose.lot == lot).group_by(Beneficiary.name)).all())


def test_prepare_offline_register_and_dose_then_sync_once(device, live_server):
    prepared = _people_of_the_facility(live_server, 17, "Offline")
    phone = device()
    page = phone.open()
    phone.sign_in()
    phone.prepare()
    phone.context.set_offline(True)
    phone.reload()  # from the service worker
    phone.unlock()
    assert page.inner_text("#net") == "Offline"
    walk_ins = [f"Walkin {next(_numbers)} Field" for _ in range(3)]
    for i, name in enumerate(walk_ins):
        phone.register(name, f"97{next(_numbers) + 50000000:08d}", _aadhaar(5000 + i))
        assert "pending" in page.inner_text("main")
        phone.record_dose("FIELD-LOT-1")
    for name in prepared:
        phone.open_person(name)
        phone.record_dose("FIELD-LOT-1")
    phone.goto("#tally")
    assert page.inner_text("#tally-doses") == "20 doses given"
    assert page.inner_text("#tally-people") == "3 people registered"
    phone.close()

    page = phone.open()  # the browser again, from its storage
    phone.context.set_offline(False)
    phone.unlock()
    assert page.inner_text("#waiting") == "23 records waiting for sync"
    assert "Synced" in phone.sync()
    assert page.inner_text("#waiting") == "0 records waiting for sync"
    assert all("accepted" in status for status in phone.statuses())
    doses = dict(_doses_with_lot(live_server, "FIELD-LOT-1"))
    assert doses == {name: 1 for name in walk_ins + prepared}
    # certificates follow: the worker's outbox issues one for each synced dose
    assert _certificates_issued(live_server, "FIELD-LOT-1") == 20


def _certificates_issued(live, lot: str) -> int:
    """Run the certificate outbox as the worker does; the live certificates of the doses
    of ``lot``."""
    from cowin_kit.certificates import services as certificates
    from cowin_kit.certificates.models import Certificate
    from cowin_kit.certificates.signing import keystore
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.registration.models import Dose

    with live.app.app_context():
        store = certificates.keystore()
        if not store.generations():
            keystore.generate(store.keys_dir, "IN", "Field app test issuer")
        certificates.process_outbox(get_database(live.app).session_factory, active_pack(),
                                    store.current(), limit=1000)
    with live.session() as session:
        return session.scalar(
            select(func.count()).select_from(Certificate)
            .join(Dose, Dose.id == Certificate.dose_id)
            .where(Dose.lot == lot, Certificate.revoked_at.is_(None)))


def test_a_sync_cut_in_the_middle_is_retried_without_doubling(device, live_server):
    prepared = _people_of_the_facility(live_server, 4, "Cut")
    phone = device()
    page = phone.open()
    phone.sign_in()
    phone.prepare()
    phone.context.set_offline(True)
    for name in prepared:
        phone.open_person(name)
        phone.record_dose("CUT-LOT-1")
    phone.context.set_offline(False)

    def answer_lost(route):  # the server records the batch; its answer never arrives
        route.fetch()
        route.abort()

    page.route("**/api/v1/field/sync", answer_lost)
    assert "connection was lost" in phone.sync()
    assert page.inner_text("#waiting") == "4 records waiting for sync"
    assert dict(_doses_with_lot(live_server, "CUT-LOT-1")) == {name: 1 for name in prepared}
    page.unroute("**/api/v1/field/sync")
    assert "Synced" in phone.sync()
    assert page.inner_text("#waiting") == "0 records waiting for sync"
    assert all("duplicate" in status for status in phone.statuses())
    assert dict(_doses_with_lot(live_server, "CUT-LOT-1")) == {name: 1 for name in prepared}


def _staff_token(live, username: str) -> tuple[Any, dict[str, str]]:
    client = live.app.test_client()
    answer = client.post("/api/v1/staff/sign-in", json={
        "username": username, "password": live.staff_passwords[username]})
    assert answer.status_code == 200, answer.get_json()
    return client, {"Authorization": f"Bearer {answer.get_json()['token']}"}


def test_two_devices_record_the_same_dose(device, live_server):
    (name,) = _people_of_the_facility(live_server, 1, "Twice")
    first, second = device(), device()
    for phone in (first, second):
        phone.open()
        phone.sign_in()
        phone.prepare()
        phone.context.set_offline(True)
        phone.open_person(name)
        phone.record_dose("TWICE-LOT-1")
        phone.context.set_offline(False)
    assert "Synced" in first.sync()
    assert "Synced" in second.sync()
    assert ["rec accepted"] == first.statuses()
    assert ["rec conflict"] == second.statuses()
    assert "sent for review" in second.page.inner_text("#records")
    assert dict(_doses_with_lot(live_server, "TWICE-LOT-1")) == {name: 1}

    # The supervisor decides through the API; the losing phone learns it at its next sync.
    client, auth = _staff_token(live_server, "demo.facility")
    waiting = client.get("/api/v1/field/reviews?status=open", headers=auth).get_json()["reviews"]
    (review,) = [r for r in waiting if r["client_id"] == second.page.get_attribute(
        "#records li", "data-client-id")]
    decided = client.post(f"/api/v1/field/reviews/{review['id']}/decide", headers=auth,
                          json={"decision": "reject", "note": "The first record stands"})
    assert decided.status_code == 200, decided.get_json()
    assert "review: rejected" not in second.page.inner_text("#records")
    second.goto("#sync")
    assert "Synced" in second.sync()
    assert "review: rejected (The first record stands)" in second.page.inner_text("#records")
    assert "review:" not in first.page.inner_text("#records")
    assert dict(_doses_with_lot(live_server, "TWICE-LOT-1")) == {name: 1}
    second.close()  # the decision stays on the phone (its encrypted store)
    second.open()
    second.unlock()
    second.goto("#sync")
    assert "review: rejected (The first record stands)" in second.page.inner_text("#records")


def test_a_newborn_registered_offline_gets_its_birth_doses_once(device, live_server):
    """A routine visit offline: register a newborn, record the birth doses the app offers
    (its schedules' first doses at age 0), sync: the server holds them in the baby's
    routine series, each once, also after a second sync."""
    from cowin_kit.registration.models import Beneficiary, Dose

    phone = device()
    page = phone.open()
    phone.sign_in()
    phone.prepare()
    phone.context.set_offline(True)
    phone.reload()
    phone.unlock()
    baby = f"Baby {next(_numbers)} of Meena"
    page.evaluate("location.hash = '#register'")
    page.select_option("#f-kind", "newborn")
    page.fill("#f-name", baby)
    page.fill("#f-mobile", f"96{next(_numbers) + 60000000:08d}")
    page.fill("#f-guardian_name", "Meena")
    page.click("form button[type=submit]")
    page.wait_for_selector("#toast .success")
    page.wait_for_selector(f"h1:has-text('{baby}')")
    page.click("a:has-text('Record doses')")
    page.wait_for_selector("fieldset.dose-row")
    rows = page.locator("fieldset.dose-row")
    offered = []
    for i in range(rows.count()):
        row = rows.nth(i)
        row.locator("input.give").check()
        row.locator("input.lot").fill(f"BIRTH-{i}")
        offered.append((row.get_attribute("data-schedule"), int(row.get_attribute("data-dose"))))
    assert len(offered) >= 2, offered  # e.g. BCG, OPV 0, hepatitis B birth dose
    assert all(number in (0, 1) for _schedule, number in offered)
    page.click("form button[type=submit]")
    page.wait_for_selector("#toast .success")
    assert page.inner_text("#toast") == f"{len(offered)} doses recorded."
    phone.context.set_offline(False)
    assert "Synced" in phone.sync()
    assert phone.statuses() == ["rec accepted", "rec accepted"]  # the visit, the registration
    assert "Synced" in phone.sync()  # nothing is sent twice
    with live_server.session() as session:
        person = session.scalars(select(Beneficiary).where(Beneficiary.name == baby)).one()
        doses = session.execute(select(Dose.series, Dose.dose_number, Dose.lot)
                                .where(Dose.beneficiary_id == person.id)).all()
    assert sorted((series, number) for series, number, _lot in doses) == sorted(offered)
    assert sorted(lot for _s, _n, lot in doses) == [f"BIRTH-{i}" for i in range(len(offered))]


def test_the_app_in_arabic_right_to_left(device, live_instance):
    """The UAE pack's instance (en, ar), a phone set to Arabic: the app chooses Arabic,
    lays out right to left, and words and plural forms come from the Arabic catalog,
    also offline from the service worker."""
    live = live_instance("AE")
    words = live.app.test_client().get("/field/i18n/ar.json").get_json()
    assert words["dir"] == "rtl"
    phone = device(live, "ar")
    page = phone.open()
    assert page.evaluate("[document.documentElement.dir, document.documentElement.lang]") \
        == ["rtl", "ar"]
    assert page.inner_text("h1") == words["messages"]["sign_in"]
    phone.sign_in()
    phone.prepare()
    phone.context.set_offline(True)
    phone.reload()
    phone.unlock()
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.evaluate("getComputedStyle(document.querySelector('main')).direction") == "rtl"
    assert page.inner_text("#net") == words["messages"]["offline"]
    assert page.inner_text("h1") == words["messages"]["app_name"]
    zero = words["messages"]["waiting"][words["plural"][0]].replace("%(num)d", "0")
    assert page.inner_text("#waiting") == zero
    for text in (page.inner_text("h1"), page.inner_text("#net"), page.inner_text("#waiting")):
        assert re.search("[\u0600-\u06ff]", text), text  # Arabic script
    assert "Sync" not in page.inner_text("main") and "Prepare" not in page.inner_text("main")


def test_a_device_not_synced_for_too_long_holds_nothing(device, live_server):
    (name,) = _people_of_the_facility(live_server, 1, "Stale")
    phone = device()
    page = phone.open()
    phone.sign_in()
    phone.prepare()
    phone.open_person(name)
    phone.record_dose("STALE-LOT-1")
    assert phone.stored_rows() > 3
    days = page.evaluate("""() => new Promise((resolve) => {
      const r = indexedDB.open("cowin-field");
      r.onsuccess = () => {
        const tx = r.result.transaction("meta", "readwrite");
        const meta = tx.objectStore("meta");
        const q = meta.get("wipe_after_days");
        q.onsuccess = () => {
          meta.put(Date.now() - (q.result + 1) * 86400000, "last_sync_at");
          tx.oncomplete = () => { r.result.close(); resolve(q.result); };
        };
      };
    })""")
    assert days >= 1
    phone.close()
    page = phone.open()
    assert "had not been synced" in page.inner_text("#toast")
    assert page.locator("#f-username").is_visible()  # back to sign-in: no PIN, no data
    assert phone.stored_rows() == 0
