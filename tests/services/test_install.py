import csv
import shutil

import pytest
from sqlalchemy import select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.provision.installer import PackInUse, install_pack
from cowin_kit.config.models import InstalledPack
from cowin_kit.config.packs import load_pack
from cowin_kit.geography.models import Location, PostalCode
from cowin_kit.identity.models import IdDocumentType
from cowin_kit.scheduling import sessions
from cowin_kit.programme.models import VaccineProduct, VaccineSchedule

from cowin_kit.testing import count_rows as _count

from conftest import EXAMPLES


def test_install_records_the_pack_and_is_idempotent(db_session, india_pack):
    first = install_pack(db_session, india_pack)
    assert first.counts["locations"]["added"] == len(india_pack.locations)
    installed = db_session.scalars(select(InstalledPack)).one()
    assert (installed.code, installed.version) == ("IN", india_pack.version)
    assert installed.content_hash == india_pack.content_hash
    assert _count(db_session, IdDocumentType) == 7
    assert _count(db_session, VaccineSchedule) == 3 + 12  # COVID-19 drives + UIP routine
    delhi = db_session.scalars(select(Location).where(Location.code == "IN-DL")).one()
    assert delhi.level == 1 and delhi.parent_id is None and delhi.names["hi"]
    districts = db_session.scalars(select(Location).where(Location.parent_id == delhi.id)).all()
    assert len(districts) >= 2 and all(d.level == 2 for d in districts)
    assert _count(db_session, PostalCode) > 0

    second = install_pack(db_session, load_pack(EXAMPLES / "in"))
    assert second.unchanged
    assert all(sum(c.values()) == 0 for c in second.counts.values())
    assert _count(db_session, Location) == len(india_pack.locations)
    actions = db_session.scalars(select(AuditEvent.action)).all()
    assert actions.count("pack.install") == 2


def test_changed_names_are_updated_in_place(db_session, tmp_path):
    target = tmp_path / "in"
    shutil.copytree(EXAMPLES / "in", target)
    install_pack(db_session, load_pack(target))
    before = db_session.scalars(select(Location).where(Location.code == "IN-KL")).one().id
    csv_path = target / "locations.csv"
    csv_path.write_text(csv_path.read_text(encoding="utf-8").replace(",Kerala,", ",Keralam,"),
                        encoding="utf-8")
    report = install_pack(db_session, load_pack(target))
    assert report.counts["locations"] == {"added": 0, "updated": 1, "deleted": 0}
    db_session.expire_all()
    kerala = db_session.scalars(select(Location).where(Location.code == "IN-KL")).one()
    assert kerala.name == "Keralam" and kerala.id == before


def _pins(session, code):
    return set(session.scalars(select(PostalCode.code).join(
        Location, Location.id == PostalCode.location_id).where(Location.code == code)))


def test_the_pin_directory_follows_the_pack(db_session, tmp_path):
    target = tmp_path / "in"
    shutil.copytree(EXAMPLES / "in", target)
    pack = load_pack(target)
    first = install_pack(db_session, pack)
    pairs = sum(len(row.postal_codes) for row in pack.locations)
    assert first.counts["postal_codes"]["added"] == pairs == _count(db_session, PostalCode)
    assert pairs > 19000  # every PIN of India Post's directory with a district
    assert "695001" in _pins(db_session, "IN-KL-TVM")
    assert "110001" in _pins(db_session, "IN-DL-ND")
    # a PIN moved to another district: one pair deleted, one added
    csv_path = target / "locations.csv"
    with csv_path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        pins = row["postal_codes"].split(";")
        if row["code"] == "IN-KL-TVM":
            pins.remove("695001")
        elif row["code"] == "IN-KL-KLM":
            pins.append("695001")
        row["postal_codes"] = ";".join(pins)
    with csv_path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    moved = install_pack(db_session, load_pack(target))
    assert moved.counts["postal_codes"] == {"added": 1, "updated": 0, "deleted": 1}
    assert "695001" not in _pins(db_session, "IN-KL-TVM")
    assert "695001" in _pins(db_session, "IN-KL-KLM")


def test_a_pin_lost_outside_an_install_is_put_back(db_session, india_pack):
    install_pack(db_session, india_pack)
    db_session.execute(PostalCode.__table__.delete().where(PostalCode.code == "695001"))
    db_session.commit()
    again = install_pack(db_session, india_pack)  # the same pack: the rows are counted
    assert again.counts["postal_codes"]["added"] == 1
    assert "695001" in _pins(db_session, "IN-KL-TVM")


def _without_rows(path, prefix):
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(l for l in lines if not l.startswith(prefix)) + "\n", encoding="utf-8")


def test_unused_locations_are_deleted_but_referenced_ones_refused(db_session, tmp_path):
    target = tmp_path / "in"
    shutil.copytree(EXAMPLES / "in", target)
    install_pack(db_session, load_pack(target))
    district = db_session.scalars(select(Location).where(Location.level == 2)
                                  .order_by(Location.code)).first()
    other = db_session.scalars(select(Location).where(Location.level == 2)
                               .order_by(Location.code.desc())).first()
    sessions.upsert_facility(db_session, code="F1", name="PHC", location_code=district.code)
    db_session.commit()
    total = _count(db_session, Location)

    _without_rows(target / "locations.csv", other.code + ",")
    report = install_pack(db_session, load_pack(target))
    assert report.counts["locations"]["deleted"] == 1
    assert _count(db_session, Location) == total - 1

    _without_rows(target / "locations.csv", district.code + ",")
    csv_path = target / "locations.csv"
    csv_path.write_text(csv_path.read_text(encoding="utf-8").replace(",Kerala,", ",Keralam,"),
                        encoding="utf-8")
    with pytest.raises(PackInUse, match=district.code):
        install_pack(db_session, load_pack(target))
    db_session.expire_all()
    assert _count(db_session, Location) == total - 1
    assert db_session.scalars(select(Location.name).where(Location.code == "IN-KL")).one() == "Kerala"


def test_products_used_by_sessions_are_not_deleted(db_session, tmp_path):
    from datetime import date

    target = tmp_path / "in"
    shutil.copytree(EXAMPLES / "in", target)
    install_pack(db_session, load_pack(target))
    district = db_session.scalars(select(Location).where(Location.level == 2)).first()
    facility = sessions.upsert_facility(db_session, code="F1", name="PHC",
                                          location_code=district.code)
    sessions.publish_session(db_session, facility=facility, session_date=date(2030, 1, 1),
                               product_code="COVAXIN", slots="09:00-12:00",
                               capacity_by_dose={1: 10})
    db_session.commit()
    vaccines = target / "vaccines.yaml"
    text = vaccines.read_text(encoding="utf-8")
    start = text.index("  - code: COVAXIN")
    end = text.index("  - code:", start + 5)
    text = text[:start] + text[end:]
    start = text.index("  - code: covid19-covaxin")
    end = text.index("  - code:", start + 5)
    vaccines.write_text(text[:start] + text[end:], encoding="utf-8")
    before = _count(db_session, VaccineProduct)
    with pytest.raises(PackInUse, match="COVAXIN"):
        install_pack(db_session, load_pack(target))
    assert _count(db_session, VaccineProduct) == before
    assert db_session.scalars(select(VaccineProduct).where(VaccineProduct.code == "COVAXIN")).one()


def test_routine_schedules_are_stored_as_written(db_session, india_pack):
    install_pack(db_session, india_pack)
    penta = db_session.scalars(select(VaccineProduct).where(VaccineProduct.code == "PENTA")).one()
    assert penta.antigens == ["DTP", "HepB", "Hib"]
    covaxin = db_session.scalars(select(VaccineProduct).where(VaccineProduct.code == "COVAXIN")).one()
    assert covaxin.antigens == []
    by_code = {s.code: s for s in db_session.scalars(select(VaccineSchedule))}
    covid = by_code["covid19-covaxin"]
    assert (covid.routine, covid.timed_from, covid.options, covid.min_age) == (False, "birth", {}, 15)
    rota = by_code["rotavirus"]
    assert (rota.routine, rota.timed_from, rota.options) == (True, "birth", {"start_max_age": "1y"})
    assert (rota.min_age, rota.max_age) == (0, None)
    assert rota.doses[0] == {"number": 1, "booster": False, "age": "6w", "min_age": "6w",
                             "max_age": "1y"}
    # an interval written as a duration also gets its days for the appointment flows
    assert rota.doses[1]["min_interval"] == "4w" and rota.doses[1]["min_interval_days"] == 28
    td = by_code["td-pregnancy"]
    assert td.timed_from == "pregnancy" and td.options == {"prior_series_within": "3y"}
    # whom a schedule is for: gender codes and location codes, as lists in options
    assert by_code["hpv"].options == {"sex": ["F"]}
    assert by_code["je"].options == {"areas": ["IN-KL-TVM", "IN-KL-ALP", "IN-KL-KKD",
                                               "IN-KL-MLP"]}
    # reinstalling the same pack changes nothing
    again = install_pack(db_session, load_pack(EXAMPLES / "in"))
    assert again.unchanged


def test_a_schedule_age_written_as_a_duration_keeps_whole_years(db_session, tmp_path):
    target = tmp_path / "in"
    shutil.copytree(EXAMPLES / "in", target)
    vaccines = target / "vaccines.yaml"
    text = vaccines.read_text(encoding="utf-8")
    text = text.replace("    min_age: 15                    # 15-17", "    min_age: 183m  # 15-17", 1)
    vaccines.write_text(text, encoding="utf-8")
    install_pack(db_session, load_pack(target))
    covid = db_session.scalars(select(VaccineSchedule)
                               .where(VaccineSchedule.code == "covid19-covaxin")).one()
    assert covid.min_age == 15  # 183 months = 15 years 3 months, floor


def test_a_second_country_is_refused(db_session, india_pack):
    install_pack(db_session, india_pack)
    with pytest.raises(PackInUse, match="one database serves one country"):
        install_pack(db_session, load_pack(EXAMPLES / "ca"))
    assert db_session.scalars(select(InstalledPack.code)).all() == ["IN"]


@pytest.mark.parametrize("code", ["ca", "ua", "ae"])
def test_other_example_packs_install(db_session, code):
    pack = load_pack(EXAMPLES / code)
    install_pack(db_session, pack)
    assert _count(db_session, Location) == len(pack.locations)
