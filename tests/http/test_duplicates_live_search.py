"""The live duplicate search at registration (one query, leaving out records with the same
type of document and another number) notes exactly the candidates the full search
(corrections.services.find_candidates: everyone sharing a key or the account, scored)
finds among the people registered before."""

from __future__ import annotations

from sqlalchemy import select

from cowin_kit.core.db import get_database
from cowin_kit.corrections import services as corrections
from cowin_kit.corrections.models import DuplicateCandidate
from cowin_kit.registration.models import Beneficiary
from cowin_kit.testing import auth, sign_in, valid_aadhaar

AADHAAR = valid_aadhaar(4, start=300000000000)

# Namesakes of one birth year: some hold the same type of document with other numbers
# (never candidates of each other), some another type or none of that type (candidates).
ACCOUNTS = {
    "9876500011": [("Ravi Kumar", 1980, "M", "aadhaar", AADHAAR[0]),
                   ("Ravi Kumar", 1980, "M", "passport", "A1234567"),
                   ("Ravi Kumaar", 1981, "M", "pan", "AAAPL1234C")],
    "9876500012": [("Ravi Kumar", 1980, "M", "aadhaar", AADHAAR[1]),
                   ("Ravee Kumar", 1980, "M", "passport", "B7654321"),
                   ("Sita Devi", 1975, "F", "aadhaar", AADHAAR[2])],
    "9876500013": [("Kumar Ravi", 1979, "M", "pan", "BBBPK5678D"),
                   ("Ravi Kumar", 1980, "F", "aadhaar", AADHAAR[3])],
}


def test_the_live_search_notes_what_the_full_search_finds(reg_app):
    client = reg_app.test_client()
    for mobile, people in ACCOUNTS.items():
        token = sign_in(reg_app, client, mobile)
        for name, year, gender, id_type, number in people:
            response = client.post("/api/v1/beneficiaries", headers=auth(token), json={
                "name": name, "birth_year": year, "gender": gender, "id_type": id_type,
                "id_number": number, "consent_version": "v1"})
            assert response.status_code == 201, response.get_json()

    with reg_app.app_context(), get_database(reg_app).session() as session:
        stored = {(c.low_id, c.high_id)
                  for c in session.scalars(select(DuplicateCandidate))}
        expected = set()
        for person in session.scalars(select(Beneficiary).order_by(Beneficiary.id)):
            expected |= {(c.other_id, person.id) for c in
                         corrections.find_candidates(session, person)
                         if c.other_id < person.id}
    assert len(expected) >= 5  # the people above do make candidates
    assert stored == expected
