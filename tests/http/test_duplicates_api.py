"""Duplicate people: found live when a health worker registers someone (a warning, never a
refusal) and by the batch command; a reviewer merges two records (each dose kept once,
the certificate reissued) or marks them distinct; a merge is undone exactly."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import delete, func, select

from cowin_kit.certificates import services as certificates
from cowin_kit.certificates.models import Certificate
from cowin_kit.certificates.signing import keystore
from cowin_kit.cli import main
from cowin_kit.core.db import get_database
from cowin_kit.corrections.models import DuplicateCandidate, PersonMatchKey, SetAsideDose
from cowin_kit.registration.models import Beneficiary, Dose
from cowin_kit.testing import auth, publish, record_dose, run_worker, sign_in, staff_token, today

PEOPLE = "/api/v1/staff/people"
STAFF = "/api/v1/staff"


def person(name, mobile, days_old=400, **extra):
    return {"name": name, "birth_date": (today() - timedelta(days=days_old)).isoformat(),
            "gender": "F", "mobile": mobile, "location": "IN-KL-TVM",
            "guardian_name": "Meena Kumari", "guardian_relation": "mother", **extra}


def register(client, token, body):
    response = client.post(PEOPLE, headers=auth(token), json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def staff(app, client):
    publish(app, code="F-TVM-1")
    worker = staff_token(app, client, "anm.tvm", "vaccinator", facility_code="F-TVM-1")
    reviewer = staff_token(app, client, "dist.review", "district_admin",
                           location_code="IN-KL-TVM")
    return worker, reviewer


def doses_of(client, token, ref):
    record = client.get(f"{STAFF}/corrections/people/{ref}", headers=auth(token))
    assert record.status_code == 200, record.get_json()
    body = record.get_json()
    return body, [(d["id"], d["dose_number"], d["administered_at"][:10]) for d in body["doses"]]


def count(app, model, *where):
    with app.app_context(), get_database(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_likely_duplicate_is_a_warning_at_registration_then_marked_distinct(reg_app):
    client = reg_app.test_client()
    worker, reviewer = staff(reg_app, client)
    first = register(client, worker, person("Lakshmi Priya", "9876500001"))
    assert first["possible_duplicates"] == []
    unrelated = register(client, worker, person("Arjun Nair", "9876500003", days_old=900))
    assert unrelated["possible_duplicates"] == []
    second = register(client, worker, person("Laxmi Priyaa", "9876500002"))
    (warning,) = second["possible_duplicates"]
    assert warning["reference_id"] == first["reference_id"]
    assert warning["score"] >= 0.72 and "same_birth_date" in warning["reasons"]
    assert "same_guardian" in warning["reasons"]
    assert count(reg_app, Beneficiary) == 3  # registered all the same

    # A vaccinator does not review duplicates; the district administrator does.
    assert client.get(f"{STAFF}/duplicates", headers=auth(worker)).get_json()[
        "candidates"] == []
    (candidate,) = client.get(f"{STAFF}/duplicates", headers=auth(reviewer)).get_json()[
        "candidates"]
    assert {candidate["first"], candidate["second"]} == {first["reference_id"],
                                                         second["reference_id"]}
    assert candidate["found_by"] == "live"
    forbidden = client.post(f"{STAFF}/duplicates/{candidate['id']}/distinct",
                            headers=auth(worker), json={})
    assert forbidden.status_code == 403
    distinct = client.post(f"{STAFF}/duplicates/{candidate['id']}/distinct",
                           headers=auth(reviewer), json={"note": "twins"})
    assert distinct.status_code == 200 and distinct.get_json()["status"] == "distinct"
    assert client.get(f"{STAFF}/duplicates", headers=auth(reviewer)).get_json()[
        "candidates"] == []


def test_a_merge_keeps_every_dose_once_reissues_and_can_be_undone(reg_app):
    client = reg_app.test_client()
    with reg_app.app_context():
        keystore.generate(certificates.keystore().keys_dir, "IN", "MoHFW")
    worker, reviewer = staff(reg_app, client)
    kept = register(client, worker, person("Lakshmi Priya", "9876500001", days_old=1000))
    gone = register(client, worker, person("Laxmi Priya", "9876500002", days_old=1000))
    kept_ref, gone_ref = kept["reference_id"], gone["reference_id"]
    record_dose(reg_app, kept_ref, 1, "COVISHIELD", 100)
    record_dose(reg_app, gone_ref, 1, "COVISHIELD", 100)   # the same dose, recorded twice
    record_dose(reg_app, gone_ref, 2, "COVISHIELD", 10)    # the second dose, on the other record
    _, kept_before = doses_of(client, reviewer, kept_ref)
    _, gone_before = doses_of(client, reviewer, gone_ref)
    assert len(kept_before) == 1 and len(gone_before) == 2

    merged = client.post(f"{STAFF}/merges", headers=auth(reviewer), json={
        "kept": kept_ref, "merged": gone_ref, "reason": "same woman, typo in the name"})
    assert merged.status_code == 201, merged.get_json()
    merge = merged.get_json()
    kept_record, kept_after = doses_of(client, reviewer, kept_ref)
    gone_record, gone_after = doses_of(client, reviewer, gone_ref)
    # every dose once: the kept dose 1, the other record's dose 2; its copy of dose 1 aside
    assert kept_after == [(kept_before[0][0], 1, kept_before[0][2]),
                          (gone_before[1][0], 2, gone_before[1][2])]
    assert gone_after == [] and gone_record["merged_into"] == kept_ref
    assert count(reg_app, Dose) == 2 and count(reg_app, SetAsideDose) == 1
    assert kept_record["candidates"] == []
    # the kept person's certificate is reissued from the merged record (dose 2 of 2)
    assert run_worker(reg_app) == 1
    with reg_app.app_context(), get_database(reg_app).session() as session:
        (live,) = session.scalars(select(Certificate).where(Certificate.revoked_at.is_(None)))
        assert live.dose_id == gone_before[1][0] and live.provisional is False
    # the merged record has left its account
    owner = sign_in(reg_app, client, mobile="9876500002")
    assert client.get("/api/v1/beneficiaries", headers=auth(owner)).get_json()[
        "beneficiaries"] == []
    again = client.post(f"{STAFF}/merges", headers=auth(reviewer), json={
        "kept": kept_ref, "merged": gone_ref, "reason": "twice"})
    assert again.status_code == 409

    undone = client.post(f"{STAFF}/merges/{merge['id']}/undo", headers=auth(reviewer),
                         json={"reason": "they are sisters"})
    assert undone.status_code == 200, undone.get_json()
    assert undone.get_json()["undone_by"] == "dist.review"
    assert doses_of(client, reviewer, kept_ref)[1] == kept_before
    gone_record, gone_restored = doses_of(client, reviewer, gone_ref)
    assert gone_restored == gone_before and gone_record["merged_into"] is None
    assert count(reg_app, Dose) == 3 and count(reg_app, SetAsideDose) == 0
    assert [r["reference_id"] for r in client.get(
        "/api/v1/beneficiaries", headers=auth(owner)).get_json()["beneficiaries"]] == [gone_ref]
    assert client.post(f"{STAFF}/merges/{merge['id']}/undo", headers=auth(reviewer),
                       json={"reason": "again"}).status_code == 409
    # each person gets a certificate of their own doses again
    assert run_worker(reg_app) == 2
    with reg_app.app_context(), get_database(reg_app).session() as session:
        live = {c.beneficiary_id: c.dose_id for c in session.scalars(
            select(Certificate).where(Certificate.revoked_at.is_(None),
                                      Certificate.superseded_at.is_(None)))}
        ids = dict(session.execute(select(Beneficiary.reference_id, Beneficiary.id)).all())
    assert live == {ids[kept_ref]: kept_before[0][0], ids[gone_ref]: gone_before[1][0]}


def test_the_batch_command_finds_what_was_not_checked_live(reg_app, tmp_path, monkeypatch):
    client = reg_app.test_client()
    worker, reviewer = staff(reg_app, client)
    first = register(client, worker, person("Mohammed Rafi", "9876500011", days_old=1200))
    second = register(client, worker, person("Muhamad Rafi", "9876500012", days_old=1200))
    register(client, worker, person("Anjali Menon", "9876500013", days_old=1200))
    with reg_app.app_context(), get_database(reg_app).session() as session:
        # as after an import from an older register: no keys, no candidates
        session.execute(delete(DuplicateCandidate))
        session.execute(delete(PersonMatchKey))
        session.commit()
    monkeypatch.setenv("COWIN_KIT_DATABASE_URL", reg_app.config["COWIN_KIT"]["DATABASE_URL"])
    monkeypatch.setenv("COWIN_KIT_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("COWIN_KIT_ENV", "test")
    result = CliRunner().invoke(main, ["people", "duplicates", "--location", "IN-KL"])
    assert result.exit_code == 0, result.output
    assert "duplicates: 3 people, 3 newly keyed" in result.output
    assert "1 new candidates" in result.output
    (candidate,) = client.get(f"{STAFF}/duplicates", headers=auth(reviewer)).get_json()[
        "candidates"]
    assert {candidate["first"], candidate["second"]} == {first["reference_id"],
                                                         second["reference_id"]}
    assert candidate["found_by"] == "batch"
    rerun = CliRunner().invoke(main, ["people", "duplicates"])
    assert rerun.exit_code == 0 and "0 newly keyed" in rerun.output
    assert "0 new candidates" in rerun.output
    unknown = CliRunner().invoke(main, ["people", "duplicates", "--location", "XX-NOPE"])
    assert unknown.exit_code == 1
