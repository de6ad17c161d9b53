"""`cowin-kit due-list` through click's runner: the CSV columns and rows, the PDF, and the
one-line errors."""

from __future__ import annotations

import csv
import io

from click.testing import CliRunner

from cowin_kit.cli import main
from cowin_kit.testing.documents import pdf_text
from cowin_kit.testing.routine_area import seed_area


def cli_env(app, monkeypatch, tmp_path):
    settings = app.config["COWIN_KIT"]
    monkeypatch.setenv("COWIN_KIT_DATABASE_URL", settings["DATABASE_URL"])
    monkeypatch.setenv("COWIN_KIT_INSTANCE_PATH", settings["INSTANCE_PATH"])
    monkeypatch.setenv("COWIN_KIT_ENV", "test")


def test_due_list_csv_and_pdf(reg_app, monkeypatch, tmp_path):
    refs = seed_area(reg_app)
    cli_env(reg_app, monkeypatch, tmp_path)
    result = CliRunner().invoke(main, ["due-list", "--location", "IN-KL-TVM",
                                       "--status", "due,overdue", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["reference_id", "external_id", "name", "birth_date", "schedule", "dose",
                       "earliest", "due", "latest", "status"]
    assert {r[0] for r in rows[1:]} == {refs["A"], refs["B"], refs["D"]}
    assert {r[9] for r in rows[1:]} == {"due", "overdue"}
    defaulters = CliRunner().invoke(main, ["due-list", "--location", "IN-KL-TVM",
                                           "--list", "defaulters"])
    assert {r[0] for r in list(csv.reader(io.StringIO(defaulters.stdout)))[1:]} == {refs["B"]}
    target = tmp_path / "village.pdf"
    printed = CliRunner().invoke(main, ["due-list", "--location", "IN-KL-TVM", "--format",
                                        "pdf", "--locale", "hi", "--output", str(target)])
    assert printed.exit_code == 0, printed.output
    text = pdf_text(target.read_bytes())
    assert "Bala" in text and "Anu" in text and "तिरुवनंतपुरम" in text


def test_due_list_errors(reg_app, monkeypatch, tmp_path):
    seed_area(reg_app)
    cli_env(reg_app, monkeypatch, tmp_path)
    for args, message in ((["--location", "IN-NOWHERE"], "No location with code IN-NOWHERE"),
                          (["--location", "IN-KL", "--status", "late"], "Unknown status late"),
                          (["--location", "IN-KL", "--on", "31/12/2026"], "not a date"),
                          ([], "give --location")):
        result = CliRunner().invoke(main, ["due-list", *args])
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
