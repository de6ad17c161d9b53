"""The stock dashboard page: plots (SVG with title), the table and CSV per area and
product, the alerts, limited to the user's part of the hierarchy."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import timedelta

from cowin_kit.config.runtime import active_pack
from cowin_kit.core.db import get_database
from cowin_kit.stock import services as stock
from cowin_kit.testing import create_staff, publish, text, today, web_staff_sign_in


def signed_in(app, username, role, **scope):
    client = app.test_client()
    create_staff(app, username, role, **scope)
    web_staff_sign_in(client, username)
    return client


def test_stock_dashboard_plots_table_csv_and_alerts(reg_app):
    publish(reg_app, code="F-TVM-1")
    with reg_app.app_context(), get_database(reg_app).session() as session:
        pack = active_pack()
        stock.register_lot(session, pack, None, stock.LotFacts(
            product="PENTA", number="PN-1", expires_on=today() + timedelta(days=10)))
        stock.receive(session, pack, None, store="national", product_code="PENTA",
                      number="PN-1", quantity=300)
        stock.transfer(session, pack, None, from_store="national", to_store="facility:F-TVM-1",
                       product_code="PENTA", number="PN-1", quantity=100)
        stock.adjust(session, pack, None, store="facility:F-TVM-1", product_code="PENTA",
                     number="PN-1", quantity=-5, reason="damaged")
        stock.raise_alerts(session, pack, today())
    client = signed_in(reg_app, "nat.stockweb", "national_admin")
    assert "/admin/stock" in text(client.get("/staff"))
    page = client.get("/admin/stock?level=2")
    body = text(page)
    assert page.status_code == 200
    svgs = re.findall(r"<svg .*?</svg>", body, re.S)
    assert len(svgs) == 3
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.get("role") == "img"
    assert "Thiruvananthapuram" in body and "Near expiry" in body
    rows = list(csv.DictReader(io.StringIO(text(client.get("/admin/stock.csv?level=2")))))
    tvm = next(r for r in rows if r["area"] == "IN-KL-TVM")
    assert (tvm["product"], tvm["on_hand"], tvm["wasted"], tvm["wastage_rate_percent"]) == (
        "PENTA", "95", "5", "100.0")
    assert next(r for r in rows if r["area"] == "national")["on_hand"] == "200"
    # in Hindi, and for another district's administrator nothing of this district
    assert 'lang="hi"' in text(client.get("/admin/stock?lang=hi"))
    other = signed_in(reg_app, "ekm.stock", "district_admin", location_code="IN-KL-EKM")
    rows = list(csv.DictReader(io.StringIO(text(other.get("/admin/stock.csv?level=2")))))
    assert rows == []
    verifier = signed_in(reg_app, "ver.stock", "verifier")
    assert verifier.get("/admin/stock").status_code == 403
