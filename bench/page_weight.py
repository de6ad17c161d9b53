"""Page weight: bytes a browser transfers for each main page — the HTML and every
stylesheet, script and image it references (each counted once per page, as on a first
visit with an empty cache) — raw and gzip-compressed. Target: under 100 KB per page
(issue 6). Method and figures: docs/performance.md, section "Page weight".

    .venv/bin/python bench/page_weight.py [--pack IN] [--json out.json] [--budget-kb 100]

Set-up (not measured): a temporary instance on SQLite with the example pack and the
demo data of ``cowin_kit.provision.demo.seed_demo``, certificate keys, a citizen (signed in through
the pages) with two members booked for tomorrow, one of them with a recorded dose and
its certificate. Pages are fetched in-process with Flask's test client, signed in as the
``who`` of each entry. Exits 1 when a page is over the budget.

Adding pages: append a ``Page`` to ``PAGES`` (``who`` is "public", "citizen" or
"staff:<demo user name>"; ``path`` may use the ``{placeholders}`` of ``Context``), or
call ``register(Page(...))`` from another module before ``main()``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import tempfile
import zoneinfo
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    who: str = "public"


PAGES: list[Page] = [
    Page("Start page (public)", "/"),
    Page("Citizen sign-in", "/sign-in"),
    Page("Find a session (form)", "/sessions"),
    Page("Search results (district, 7 days)",
         "/sessions?search=1&place1={state}&place2={district}"),
    Page("Search results (the state with most centres, 7 days)",
         "/sessions?search=1&place1={big_state}"),
    Page("My family (2 members, 1 booking)", "/", "citizen"),
    Page("Add a person", "/members/new", "citizen"),
    Page("Book a session", "/sessions/{session_id}/book", "citizen"),
    Page("Appointment slip", "/appointments/{booking_id}/slip", "citizen"),
    Page("Certificate (with QR images)", "/members/{reference_id}/certificate", "citizen"),
    Page("Immunization record", "/members/{reference_id}/record", "citizen"),
    Page("Seat alerts", "/alerts", "citizen"),
    Page("Change of mobile number", "/account/mobile", "citizen"),
    Page("Staff sign-in", "/staff/sign-in"),
    Page("Vaccinator: today's sessions and queue", "/vaccinator", "staff:demo.vaccinator"),
    Page("Vaccinator: check-in and record dose",
         "/vaccinator/check-in?reference_id={reference_id}", "staff:demo.vaccinator"),
    Page("Vaccinator: walk-in registration", "/vaccinator/walk-in", "staff:demo.vaccinator"),
    Page("Vaccinator: end-of-session summary", "/vaccinator/summary", "staff:demo.vaccinator"),
    Page("Staff: immunization record look-up", "/staff/records", "staff:demo.vaccinator"),
    Page("Admin dashboard (4 SVG plots)", "/admin/dashboard", "staff:demo.admin"),
    Page("Admin: facilities", "/admin/facilities", "staff:demo.admin"),
    Page("Admin: sessions (first 200)", "/admin/sessions", "staff:demo.admin"),
    Page("Admin: staff and roles", "/admin/staff", "staff:demo.admin"),
    Page("Admin: audit log", "/admin/audit", "staff:demo.admin"),
    Page("Certificate verification (public)", "/verify"),
    Page("Grievances (citizen)", "/grievances", "citizen"),
    Page("File a grievance", "/grievances/new", "citizen"),
    Page("Corrections to approve", "/admin/corrections", "staff:demo.admin"),
    Page("Citizens' grievances (staff)", "/admin/grievances", "staff:demo.admin"),
]


def register(page: Page) -> None:
    PAGES.append(page)


# --- fetching ---------------------------------------------------------------------------------

class _Resources(HTMLParser):
    """Sub-resources a browser loads: stylesheets, scripts, images, icons."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and (values.get("rel") or "") in ("stylesheet", "icon", "preload"):
            self.found.append(values.get("href") or "")
        elif tag in ("script", "img", "source") and values.get("src"):
            self.found.append(values["src"] or "")


def _local(url: str) -> bool:
    return bool(url) and url.startswith("/") and not url.startswith("//")


def _body(response) -> bytes:
    data = response.get_data()
    response.close()
    return data


def weigh(client, path: str) -> dict[str, Any]:
    response = client.get(path)
    status = response.status_code
    html = _body(response)
    parser = _Resources()
    parser.feed(html.decode("utf-8", "replace"))
    parts = [("html", path, html)]
    remote = []
    for url in dict.fromkeys(parser.found):
        if url.startswith("data:"):
            continue  # inline, already counted in the HTML
        if not _local(url):
            remote.append(url)
            continue
        sub = client.get(url)
        parts.append((url.rsplit(".", 1)[-1].split("?")[0], url, _body(sub)))
    raw = sum(len(data) for _kind, _url, data in parts)
    packed = sum(len(gzip.compress(data, 6)) for _kind, _url, data in parts)
    return {"status": status, "requests": len(parts), "bytes": raw, "gzip_bytes": packed,
            "html_bytes": len(html), "remote": remote,
            "parts": [{"url": url, "bytes": len(data)} for _kind, url, data in parts]}


# --- set-up -----------------------------------------------------------------------------------

CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')


def _post(client, path: str, **data: Any):
    page = _body(client.get(path))
    token = CSRF.search(page)
    assert token, f"no form on {path}"
    response = client.post(path, data={"csrf_token": token.group(1).decode(), **data})
    body = _body(response)
    assert response.status_code in (302, 303), (path, response.status_code,
                                                re.findall(rb'class="[^"]*error[^"]*"[^>]*>([^<]+)<', body))
    return response


def set_up(folder: Path, pack_code: str) -> tuple[Any, dict[str, str], dict[str, str]]:
    """(app, context for the paths, demo staff passwords)."""
    from sqlalchemy import select

    from cowin_kit import create_app
    from cowin_kit.core import migrate
    from cowin_kit.certificates.signing import keystore as keystore_module
    from cowin_kit.certificates import services as certificates
    from cowin_kit.testing.api import valid_aadhaar
    from cowin_kit.config.examples import example_packs
    from cowin_kit.provision.installer import install_pack
    from cowin_kit.config.packs import load_pack
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.config.settings import write_instance_keys
    from cowin_kit.core.db import get_database
    from cowin_kit.provision.demo import seed_demo
    from cowin_kit.geography.models import Location
    from cowin_kit.registration.models import Beneficiary
    from cowin_kit.geography.models import Facility
    from cowin_kit.scheduling.models import VaccinationSession
    from cowin_kit.vaccination.models import CertificateDue
    from cowin_kit.registration.models import Dose
    from cowin_kit.programme.models import VaccineProduct

    write_instance_keys(folder)
    outbox = folder / "messages.jsonl"
    app = create_app({"ENV": "test", "INSTANCE_PATH": str(folder), "PACK": pack_code,
                      "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
                      "NOTIFIER": f"file:{outbox}", "OTP_RESEND_COOLDOWN_SECONDS": 0})
    with app.app_context():
        database = get_database()
        migrate.upgrade(database.engine)
        with database.session() as session:
            install_pack(session, load_pack(example_packs()[pack_code]))
        with database.session() as session:
            report = seed_demo(session, active_pack())
        keystore_module.generate(certificates.keystore().keys_dir, pack_code, "Bench issuer")
        pack = active_pack()
        with database.session() as session:
            facility = session.scalars(select(Facility).where(Facility.code.like("DEMO-%"))
                                       .order_by(Facility.code)).first()
            district = session.get(Location, facility.location_id)
            state = session.get(Location, district.parent_id) if district.parent_id else district
            tomorrow = datetime.now(zoneinfo.ZoneInfo(pack.document["timezone"])).date() \
                + timedelta(days=1)
            session_id = session.scalars(select(VaccinationSession.id).where(
                VaccinationSession.facility_id == facility.id,
                VaccinationSession.session_date == tomorrow)).one()
            # The level-1 place with the most demo facilities: the largest search page.
            per_state: dict[str, int] = {}
            for row in session.scalars(select(Facility)):
                place = session.get(Location, row.location_id)
                while place.parent_id is not None:
                    place = session.get(Location, place.parent_id)
                per_state[place.code] = per_state.get(place.code, 0) + 1
            big_state = max(sorted(per_state), key=per_state.get)
    context = {"state": state.code, "district": district.code, "session_id": session_id,
               "facility_code": facility.code, "big_state": big_state}

    client = app.test_client()
    mobile = "9800000001" if pack_code == "IN" else "501234567"
    _post(client, "/sign-in", mobile=mobile)
    otp = json.loads(outbox.read_text(encoding="utf-8").splitlines()[-1])["text"].split()[0]
    _post(client, "/sign-in/otp", otp=otp)
    birth = {"birth_year": "1980"} if pack.document.get("birth_capture", "year") == "year" \
        else {"birth_date": "1980-05-01"}
    for name, number in zip(("Asha Devi", "Ravi Kumar"), valid_aadhaar(2, start=500000000000)):
        _post(client, "/members/new", name=name, gender="F", id_type="aadhaar",
              id_number=number, consent="y", **birth)
    with app.app_context(), get_database(app).session() as session:
        # the two members just added (the demo data holds other people too)
        refs = list(session.scalars(select(Beneficiary.reference_id)
                                    .order_by(Beneficiary.id.desc()).limit(2)))[::-1]
    booked = _post(client, f"/sessions/{session_id}/book", slot="09:00-11:00", dose="1",
                   beneficiaries=refs)
    context["booking_id"] = booked.headers["Location"].split("/")[2]
    context["reference_id"] = refs[0]
    with app.app_context(), get_database(app).session() as session:
        beneficiary = session.scalars(select(Beneficiary).where(
            Beneficiary.reference_id == refs[0])).one()
        product = session.scalars(select(VaccineProduct).order_by(VaccineProduct.code)).first()
        dose = Dose(beneficiary_id=beneficiary.id, dose_number=1, product_id=product.id,
                    administered_at=datetime.now(timezone.utc) - timedelta(days=1), lot="LOT1")
        session.add(dose)
        session.flush()
        session.add(CertificateDue(dose_id=dose.id, reason="dose"))
        session.commit()
        # every certificate due (the demo's history queues hundreds before this one)
        while certificates.process_outbox(get_database(app).session_factory, active_pack(),
                                          certificates.keystore().current()):
            pass
    app.bench_citizen = client  # type: ignore[attr-defined]
    passwords = {user: password for user, _role, password in report.new_accounts}
    return app, context, passwords


def _client_for(app, who: str, passwords: dict[str, str], cache: dict[str, Any]):
    if who == "public":
        return app.test_client()
    if who == "citizen":
        return app.bench_citizen
    if who.startswith("staff:"):
        if who not in cache:
            username = who.split(":", 1)[1]
            client = app.test_client()
            _post(client, "/staff/sign-in", username=username, password=passwords[username])
            cache[who] = client
        return cache[who]
    raise ValueError(f"unknown who {who!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pack", default="IN", help="example pack (IN has Aadhaar IDs)")
    parser.add_argument("--budget-kb", type=float, default=100.0)
    parser.add_argument("--json", help="write the measurements to this file")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    with tempfile.TemporaryDirectory(prefix="cowin-kit-page-weight-") as tmp:
        app, context, passwords = set_up(Path(tmp), args.pack.upper())
        clients: dict[str, Any] = {}
        rows = []
        for page in PAGES:
            path = page.path.format(**context)
            result = weigh(_client_for(app, page.who, passwords, clients), path)
            rows.append({**asdict(page), "path": path, **result})
        from cowin_kit.core.db import get_database

        get_database(app).dispose()

    budget = args.budget_kb * 1000
    print(f"{'page':44} {'status':>6} {'req':>4} {'bytes':>9} {'gzip':>8}  budget")
    failed = False
    for row in rows:
        over = row["bytes"] > budget or row["status"] != 200 or row["remote"]
        failed |= bool(over)
        print(f"{row['name'][:44]:44} {row['status']:>6} {row['requests']:>4} "
              f"{row['bytes']:>9,} {row['gzip_bytes']:>8,}  {'OVER' if over else 'ok'}")
        if row["remote"]:
            print(f"    remote resources (not allowed): {row['remote']}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
