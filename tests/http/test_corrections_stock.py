"""A correction that changes what a dose drew (SQLite and PostgreSQL): an approved lot
correction moves the draw from one lot to the other, a voided dose gives its dose back,
a merge's second copy of a dose gives it back and its undoing draws it again; nothing
moves before approval, and the ledger stays balanced (entries sum to the balances)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import func, select

from cowin_kit.audit.models import AuditEvent
from cowin_kit.core.db import get_database
from cowin_kit.corrections.models import SetAsideDose
from cowin_kit.stock.models import Balance, Entry, Lot, Store
from cowin_kit.testing import add_members, auth, publish, sign_in, staff_token, today

STAFF = "/api/v1/staff"
STOCK = "/api/v1/stock"
FACILITY = "facility:F-TVM-1"


def stocked(app, client):
    """F-TVM-1 holding 100 doses of each of two Covishield lots; a vaccinator there, a
    district administrator (the checker)."""
    publish(app, code="F-TVM-1")
    national = staff_token(app, client, "nat.lots", "national_admin")
    for lot in ("4121Z005", "4121Z999"):
        response = client.post(f"{STOCK}/lots", headers=auth(national), json={
            "product": "COVISHIELD", "lot": lot,
            "expires_on": (today() + timedelta(days=200)).isoformat()})
        assert response.status_code in (200, 201), response.get_json()
        response = client.post(f"{STOCK}/receipts", headers=auth(national), json={
            "store": FACILITY, "product": "COVISHIELD", "lot": lot, "quantity": 100})
        assert response.status_code == 201, response.get_json()
    vaccinator = staff_token(app, client, "vax.lots", "vaccinator", facility_code="F-TVM-1")
    checker = staff_token(app, client, "dist.lots", "district_admin",
                          location_code="IN-KL-TVM")
    return vaccinator, checker


def vaccinate(client, token, ref, lot="4121Z005"):
    response = client.post("/api/v1/vaccinator/doses", headers=auth(token), json={
        "reference_id": ref, "vaccine": "COVISHIELD", "lot": lot})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["dose_id"]


def on_hand(app):
    """{lot: on hand at F-TVM-1}, after checking the ledger balances: each balance is the
    sum of its entries."""
    with app.app_context(), get_database(app).session() as session:
        sums: dict[tuple[str, str], int] = defaultdict(int)
        for store, lot, total in session.execute(
                select(Store.code, Lot.number, func.sum(Entry.quantity))
                .join(Store, Store.id == Entry.store_id).join(Lot, Lot.id == Entry.lot_id)
                .group_by(Store.code, Lot.number)):
            sums[(store, lot)] = int(total)
        balances = {(store, lot): held for store, lot, held in session.execute(
            select(Store.code, Lot.number, Balance.on_hand)
            .join(Store, Store.id == Balance.store_id).join(Lot, Lot.id == Balance.lot_id))}
    assert balances == dict(sums)
    return {lot: held for (store, lot), held in balances.items() if store == FACILITY}


def propose(client, token, body):
    response = client.post(f"{STAFF}/corrections", headers=auth(token), json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def approve(client, token, request_id):
    response = client.post(f"{STAFF}/corrections/{request_id}/approve", headers=auth(token),
                           json={"note": "checked"})
    assert response.status_code == 200, response.get_json()


def test_a_lot_correction_moves_the_draw_and_a_void_gives_the_dose_back(reg_app):
    client = reg_app.test_client()
    vaccinator, checker = stocked(reg_app, client)
    citizen = sign_in(reg_app, client)
    first, second = add_members(reg_app, client, citizen, 2)
    first_dose, second_dose = vaccinate(client, vaccinator, first), \
        vaccinate(client, vaccinator, second)
    assert on_hand(reg_app) == {"4121Z005": 98, "4121Z999": 100}

    moved = propose(client, vaccinator, {
        "kind": "dose", "dose_id": first_dose, "reason": "the vial's lot was misread",
        "changes": {"lot": "4121Z999"}})
    assert on_hand(reg_app) == {"4121Z005": 98, "4121Z999": 100}  # not before approval
    approve(client, checker, moved)
    assert on_hand(reg_app) == {"4121Z005": 99, "4121Z999": 99}

    voided = propose(client, vaccinator, {"kind": "void_dose", "dose_id": second_dose,
                                          "reason": "recorded for the wrong child"})
    assert on_hand(reg_app) == {"4121Z005": 99, "4121Z999": 99}
    approve(client, checker, voided)
    assert on_hand(reg_app) == {"4121Z005": 100, "4121Z999": 99}
    with reg_app.app_context(), get_database(reg_app).session() as session:
        aside = session.scalars(select(SetAsideDose)).one()
        assert (aside.dose_id, aside.stock_returned) == (second_dose, 1)
        # the corrected dose's draws net to one dose of the lot it now names
        net = dict(session.execute(
            select(Lot.number, func.sum(Entry.quantity)).join(Lot, Lot.id == Entry.lot_id)
            .where(Entry.dose_id == first_dose).group_by(Lot.number)).all())
        assert net == {"4121Z005": 0, "4121Z999": -1}
        actions = [a for (a,) in session.execute(
            select(AuditEvent.action).where(AuditEvent.action.like("stock.draw_%"))
            .order_by(AuditEvent.id))]
    assert actions == ["stock.draw_reversed", "stock.draw_moved", "stock.draw_reversed"]


def test_a_correction_of_the_date_alone_leaves_the_stock(reg_app):
    client = reg_app.test_client()
    vaccinator, checker = stocked(reg_app, client)
    citizen = sign_in(reg_app, client)
    (ref,) = add_members(reg_app, client, citizen, 1)
    dose = vaccinate(client, vaccinator, ref)
    approve(client, checker, propose(client, vaccinator, {
        "kind": "dose", "dose_id": dose, "reason": "given yesterday, entered today",
        "changes": {"administered_on": (today() - timedelta(days=1)).isoformat()}}))
    assert on_hand(reg_app) == {"4121Z005": 99, "4121Z999": 100}


def test_a_merge_gives_back_the_second_copy_and_its_undoing_draws_it_again(reg_app):
    client = reg_app.test_client()
    vaccinator, checker = stocked(reg_app, client)
    citizen = sign_in(reg_app, client)
    kept, gone = add_members(reg_app, client, citizen, 2)
    vaccinate(client, vaccinator, kept)
    vaccinate(client, vaccinator, gone)   # the same dose, recorded on a second record
    assert on_hand(reg_app) == {"4121Z005": 98, "4121Z999": 100}
    merged = client.post(f"{STAFF}/merges", headers=auth(checker), json={
        "kept": kept, "merged": gone, "reason": "one person registered twice"})
    assert merged.status_code == 201, merged.get_json()
    assert on_hand(reg_app) == {"4121Z005": 99, "4121Z999": 100}
    undone = client.post(f"{STAFF}/merges/{merged.get_json()['id']}/undo",
                         headers=auth(checker), json={"reason": "two different people"})
    assert undone.status_code == 200, undone.get_json()
    assert on_hand(reg_app) == {"4121Z005": 98, "4121Z999": 100}
