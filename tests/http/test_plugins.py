"""The plugin system through real installed distributions: each test writes a plugin package
and its ``*.dist-info`` (METADATA, entry_points.txt) into a folder put on sys.path, which is
exactly what importlib.metadata reads for a pip-installed distribution."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text

from cowin_kit import create_app, plugins
from cowin_kit.cli import main
from cowin_kit.provision.installer import install_pack
from cowin_kit.config.settings import SettingsError
from cowin_kit.core.db import get_database, make_engine
from cowin_kit.testing import (
    auth, close_reg_app, member, publish, record_first_dose, sign_in, staff_token,
)
from cowin_kit.testing import valid_aadhaar as _valid_aadhaar

RECORDER = '''
from cowin_kit.plugins import Plugin, Setting

CALLS = []


def register(context):
    label = context.settings["LABEL"]

    def on_any(hook):
        def receiver(**arguments):
            CALLS.append((label, hook, arguments))
        return receiver

    for hook in ("beneficiary_registered", "dose_recorded", "appointment_booked",
                 "appointment_cancelled", "aefi_reported", "certificate_issued"):
        context.connect(hook, on_any(hook))


plugin = Plugin(register=register, settings=[
    Setting("{prefix}LABEL", "str", "{name}", "Label of the calls recorded."),
])
'''


class Site:
    """A folder on sys.path into which tests 'install' plugin distributions."""

    def __init__(self, path: Path):
        self.path = path

    def install(self, name: str, source: str, files: dict[str, str] | None = None) -> str:
        module = f"cktest_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        package = self.path / module
        package.mkdir(parents=True)
        prefix = plugins.setting_prefix(name)
        (package / "__init__.py").write_text(
            textwrap.dedent(source).replace("{prefix}", prefix).replace("{name}", name))
        for relative, content in (files or {}).items():
            (package / relative).parent.mkdir(parents=True, exist_ok=True)
            (package / relative).write_text(textwrap.dedent(content))
        info = self.path / f"{module}-1.2.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: cowin-kit-test-{name}\nVersion: 1.2\n")
        (info / "entry_points.txt").write_text(f"[cowin_kit.plugins]\n{name} = {module}:plugin\n")
        return module


@pytest.fixture
def site(tmp_path, monkeypatch) -> Site:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return Site(folder)


def module_of(module_name: str):
    return sys.modules[module_name]


def base_overrides(tmp_path, **extra):
    return {"ENV": "test", "INSTANCE_PATH": str(tmp_path / "instance"), **extra}


@pytest.fixture
def make_app(database_url, tmp_path, india_pack):
    """make_app(**overrides): an app with the India pack and OTPs in a file (like reg_app)."""
    made = []

    def make(**overrides):
        outbox = tmp_path / "messages.jsonl"
        app = create_app(base_overrides(tmp_path, **{
            "DATABASE_URL": database_url, "NOTIFIER": f"file:{outbox}",
            "OTP_RESEND_COOLDOWN_SECONDS": 0, "OTP_LIMITS_PER_NUMBER": "1000/hour",
            "OTP_LIMITS_PER_IP": "1000/hour", **overrides}))
        app.outbox = outbox
        with app.app_context(), get_database(app).session() as session:
            install_pack(session, india_pack)
        made.append(app)
        return app

    yield make
    for app in made:
        close_reg_app(app)


# --- loading, order, settings -------------------------------------------------------------

def test_an_unknown_plugin_name_stops_the_start(site, tmp_path):
    site.install("alpha", RECORDER)
    with pytest.raises(SettingsError, match=r"no installed plugin is named 'nope' "
                                            r"\(installed: [^)]*\balpha\b"):
        create_app(base_overrides(tmp_path, PLUGINS=["alpha", "nope"]))
    result = CliRunner().invoke(main, ["db", "current"], env={
        "COWIN_KIT_ENV": "test", "COWIN_KIT_INSTANCE_PATH": str(tmp_path / "i"),
        "COWIN_KIT_PLUGINS": "nope"})
    assert result.exit_code == 1
    assert "no installed plugin is named 'nope'" in result.output


def test_plugins_load_from_entry_points_in_the_order_of_the_setting(site, tmp_path):
    alpha = site.install("alpha", RECORDER)
    beta = site.install("beta-two", RECORDER)
    site.install("gamma", RECORDER)  # installed, not enabled: never imported
    app = create_app(base_overrides(tmp_path, PLUGINS="beta-two,alpha"))
    with app.app_context():
        enabled = plugins.enabled_plugins()
        assert [(p.name, p.distribution, p.version) for p in enabled] == [
            ("beta-two", "cowin-kit-test-beta-two", "1.2"), ("alpha", "cowin-kit-test-alpha", "1.2")]
        plugins.fire("aefi_reported", report_id=1)
    assert not any(name.startswith("cktest_gamma") for name in sys.modules)
    # Both modules append to their own list; each saw the call once, beta-two first.
    assert [c[0] for c in module_of(beta).CALLS] == ["beta-two"]
    assert [c[0] for c in module_of(alpha).CALLS] == ["alpha"]


def test_plugin_settings_are_declared_prefixed_and_unknown_keys_stay_errors(site, tmp_path):
    alpha = site.install("alpha", RECORDER)
    app = create_app(base_overrides(tmp_path, PLUGINS=["alpha"], ALPHA_LABEL="from override"))
    assert app.config["COWIN_KIT"]["ALPHA_LABEL"] == "from override"
    with app.app_context():
        plugins.fire("dose_recorded", dose_id=5)
    assert module_of(alpha).CALLS[-1] == ("from override", "dose_recorded", {"dose_id": 5})
    with pytest.raises(SettingsError, match="ALPHA_LABLE: unknown setting"):
        create_app(base_overrides(tmp_path, PLUGINS=["alpha"], ALPHA_LABLE="typo"))
    with pytest.raises(SettingsError, match="ALPHA_LABEL: unknown setting"):  # not enabled
        create_app(base_overrides(tmp_path, ALPHA_LABEL="x"))
    site.install("rude", '''
        from cowin_kit.plugins import Plugin, Setting
        plugin = Plugin(register=lambda context: None,
                        settings=[Setting("DATABASE_URL", "str", "", "not mine")])
    ''')
    with pytest.raises(SettingsError, match="its settings must start with RUDE_"):
        create_app(base_overrides(tmp_path, PLUGINS=["rude"]))


def test_a_plain_function_is_a_plugin_and_a_broken_one_is_named(site, tmp_path):
    site.install("plain", '''
        def plugin(context):
            context.register_id_validator("even-digits", lambda number: number)
    ''')
    site.install("broken", "import a_module_that_does_not_exist\n")
    site.install("wrong-hook", "def plugin(context):\n    context.connect('dose_given', print)\n")
    app = create_app(base_overrides(tmp_path, PLUGINS=["plain"]))
    with app.app_context():
        assert plugins.id_validator("even-digits")("42") == "42"
    with pytest.raises(SettingsError, match="plugin 'broken' cannot be imported: "
                                            "ModuleNotFoundError"):
        create_app(base_overrides(tmp_path, PLUGINS=["broken"]))
    with pytest.raises(SettingsError, match="unknown hook 'dose_given'"):
        create_app(base_overrides(tmp_path, PLUGINS=["wrong-hook"]))


# --- hooks after commit -------------------------------------------------------------------

def test_hooks_fire_after_the_commit_and_never_for_a_rollback(site, make_app):
    probe = site.install("probe", '''
        from sqlalchemy import func, select
        from cowin_kit.core.db import get_database
        from cowin_kit.registration.models import Beneficiary

        SEEN = []

        def plugin(context):
            def receiver(*, reference_id, **arguments):
                # A fresh session (another connection on PostgreSQL) sees the committed row.
                with get_database().session() as session:
                    found = session.scalar(select(func.count()).select_from(Beneficiary)
                                           .where(Beneficiary.reference_id == reference_id))
                SEEN.append((reference_id, found, sorted(arguments)))
            context.connect("beneficiary_registered", receiver)
    ''')
    app = make_app(PLUGINS=["probe"])
    client = app.test_client()
    token = sign_in(app, client)
    number = _valid_aadhaar(1)[0]
    created = client.post("/api/v1/beneficiaries", json=member(number), headers=auth(token))
    assert created.status_code == 201, created.get_json()
    reference_id = created.get_json()["reference_id"]
    assert module_of(probe).SEEN == [
        (reference_id, 1, ["birth_year", "gender", "id_type", "locale"])]
    again = client.post("/api/v1/beneficiaries", json=member(number), headers=auth(token))
    assert again.status_code == 409  # rolled back: no hook
    with app.app_context(), get_database(app).session() as session:
        plugins.queue_hook(session, "beneficiary_registered", reference_id="x")
        session.rollback()
        plugins.queue_hook(session, "beneficiary_registered", reference_id="y")
        session.close()  # ended without a commit
        session.commit()  # a later commit of the same session does not revive them
    assert len(module_of(probe).SEEN) == 1


def test_a_failing_plugin_is_logged_and_the_request_still_succeeds(site, make_app, caplog):
    site.install("boom", '''
        def plugin(context):
            def receiver(**_):
                raise RuntimeError("gateway down")
            context.connect("beneficiary_registered", receiver)
            context.connect("dose_recorded", receiver)
    ''')
    after = site.install("after", RECORDER)
    app = make_app(PLUGINS=["boom", "after"])
    client = app.test_client()
    publish(app, code="F-TVM-1")
    vaccinator = staff_token(app, client, "vax.plugin", "vaccinator", facility_code="F-TVM-1")
    caplog.set_level(logging.ERROR, logger="cowin_kit.plugins")
    walk_in = client.post("/api/v1/vaccinator/walk-ins", headers=auth(vaccinator), json={
        "mobile": "9988776655", "name": "Lakshmi Amma", "birth_year": 1950, "gender": "F",
        "id_type": "aadhaar", "id_number": _valid_aadhaar(1)[0], "consent_version": "v1"})
    assert walk_in.status_code == 201, walk_in.get_json()
    ref = walk_in.get_json()["reference_id"]
    dose = client.post("/api/v1/vaccinator/doses", headers=auth(vaccinator), json={
        "reference_id": ref, "vaccine": "COVAXIN", "lot": "EL0001"})
    assert dose.status_code == 201, dose.get_json()
    failures = [r for r in caplog.records if "plugin boom: receiver of" in r.getMessage()]
    assert [r.getMessage() for r in failures] == [
        "plugin boom: receiver of beneficiary_registered failed",
        "plugin boom: receiver of dose_recorded failed"]
    assert all(r.exc_info and "gateway down" in str(r.exc_info[1]) for r in failures)
    calls = module_of(after).CALLS  # the next plugin still got both events
    assert [hook for _, hook, _ in calls] == ["beneficiary_registered", "dose_recorded"]
    recorded = calls[1][2]
    assert recorded["reference_id"] == ref and recorded["vaccine"] == "COVAXIN"
    assert recorded["dose_number"] == 1 and recorded["facility_code"] == "F-TVM-1"
    assert recorded["dose_id"] == dose.get_json()["dose_id"]
    assert all(ref not in r.getMessage() for r in caplog.records)


def test_booking_and_cancelling_fire_once_per_person(site, make_app):
    recorder = site.install("rec", RECORDER)
    app = make_app(PLUGINS=["rec"])
    client = app.test_client()
    session_id = publish(app, code="F-TVM-1")
    token = sign_in(app, client)
    refs = []
    for number in _valid_aadhaar(2):
        response = client.post("/api/v1/beneficiaries", json=member(number), headers=auth(token))
        refs.append(response.get_json()["reference_id"])
    booked = client.post("/api/v1/appointments", headers=auth(token), json={
        "session_id": session_id, "slot": "09:00-11:00", "beneficiaries": refs})
    assert booked.status_code == 201, booked.get_json()
    booking_id = booked.get_json()["booking_id"]
    cancelled = client.post(f"/api/v1/appointments/{booking_id}/cancel", headers=auth(token),
                            json={"beneficiaries": [refs[1]]})
    assert cancelled.status_code == 200, cancelled.get_json()
    calls = [(hook, args) for _, hook, args in module_of(recorder).CALLS]
    booked_calls = [args for hook, args in calls if hook == "appointment_booked"]
    assert sorted(a["reference_id"] for a in booked_calls) == sorted(refs)
    assert {a["booking_id"] for a in booked_calls} == {booking_id}
    assert {a["facility_code"] for a in booked_calls} == {"F-TVM-1"}
    assert [args for hook, args in calls if hook == "appointment_cancelled"] == [{
        "appointment_id": next(a["appointment_id"] for a in booked_calls
                               if a["reference_id"] == refs[1]),
        "booking_id": booking_id, "reference_id": refs[1], "dose_number": 1,
        "session_id": session_id, "reason": "citizen"}]
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.scheduling import sessions

    with app.app_context(), get_database(app).session() as session:
        sessions.cancel_session(session, active_pack(), session_id)
    last = module_of(recorder).CALLS[-1]
    assert last[1] == "appointment_cancelled"
    assert (last[2]["reference_id"], last[2]["reason"]) == (refs[0], "session_cancelled")


# --- what plugins register ----------------------------------------------------------------

KITCHEN_SINK = '''
import click
from flask import Blueprint, jsonify
from pathlib import Path

from cowin_kit.plugins import Plugin

SENT = []
HERE = Path(__file__).parent


class MemoryNotifier:
    def __init__(self, argument):
        self.argument = argument

    def send(self, message):
        SENT.append((self.argument, message.to, message.template, message.text))


@click.command("sink-hello")
@click.argument("who")
def hello(who):
    """Say hello."""
    click.echo(f"hello {who}")


def count_people(session, *, start, end):
    from sqlalchemy import func, select
    from cowin_kit.registration.models import Beneficiary
    return f"{session.scalar(select(func.count()).select_from(Beneficiary))} people, {start}..{end}"


def register(context):
    context.register_notifier("memory", MemoryNotifier)
    context.register_command(hello)
    context.register_exporter("people", count_people)
    blueprint = Blueprint("sink", __name__)

    @blueprint.get("/sink/hello")
    def hello_page():
        return jsonify(text=context.gettext("Hello"))

    context.register_blueprint(blueprint)


plugin = Plugin(register=register, migrations=HERE / "migrations", translations=HERE / "locales")
'''

SINK_MIGRATION = '''
"""sink table

Revision ID: sink0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "sink0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("sink_thing", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("beneficiary_id", sa.Integer, sa.ForeignKey("beneficiary.id")))


def downgrade():
    op.drop_table("sink_thing")
'''

SINK_PO = '''
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

msgid "Hello"
msgstr "नमस्ते"
'''


@pytest.fixture
def sink(site, tmp_path):
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    import io

    module = site.install("sink", KITCHEN_SINK, {"migrations/sink0001.py": SINK_MIGRATION})
    mo = site.path / module / "locales" / "hi" / "LC_MESSAGES" / "sink.mo"
    mo.parent.mkdir(parents=True)
    with mo.open("wb") as handle:
        write_mo(handle, read_po(io.StringIO(textwrap.dedent(SINK_PO)), locale="hi"))
    return module


def test_notifier_blueprint_and_translation_domain(sink, make_app):
    app = make_app(PLUGINS=["sink"], NOTIFIER="memory:sms-gw-1")
    client = app.test_client()
    client.post("/api/v1/auth/otp", json={"mobile": "9876543210"})
    (argument, to, template, text_) = module_of(sink).SENT[-1]
    assert (argument, to, template) == ("sms-gw-1", "+919876543210", "otp")
    assert "one-time password" in text_
    assert client.get("/sink/hello", headers={"Accept-Language": "hi"}).get_json() == {
        "text": "नमस्ते"}
    assert client.get("/sink/hello", headers={"Accept-Language": "en"}).get_json() == {
        "text": "Hello"}


def test_an_unknown_notifier_is_still_an_error(sink, tmp_path):
    with pytest.raises(SettingsError, match="unknown notifier 'memory'"):
        create_app(base_overrides(tmp_path, NOTIFIER="memory"))  # plugin not enabled


def cli_env(tmp_path, database_url, **extra):
    return {"COWIN_KIT_ENV": "test", "COWIN_KIT_INSTANCE_PATH": str(tmp_path / "cli"),
            "COWIN_KIT_DATABASE_URL": database_url, **extra}


def test_commands_exporters_and_migrations_from_the_cli(sink, make_app, database_url, tmp_path):
    app = make_app(PLUGINS=["sink"])
    env = cli_env(tmp_path, database_url, COWIN_KIT_PLUGINS="sink")
    runner = CliRunner()
    listing = runner.invoke(main, ["--help"], env=env)
    assert "sink-hello" in listing.output
    assert "sink-hello" not in runner.invoke(main, ["--help"], env=cli_env(
        tmp_path, database_url)).output
    hello = runner.invoke(main, ["sink-hello", "world"], env=env)
    assert (hello.exit_code, hello.output) == (0, "hello world\n")

    exported = runner.invoke(main, ["export", "people", "--from", "2026-01-01",
                                    "--to", "2026-01-31"], env=env)
    assert (exported.exit_code, exported.output) == (0, "0 people, 2026-01-01..2026-01-31\n")
    unknown = runner.invoke(main, ["export", "fhir", "--from", "2026-01-01"], env=env)
    assert unknown.exit_code == 1
    assert "no enabled plugin provides the exporter 'fhir' (enabled exporters: people)" in \
        unknown.output

    engine = make_engine(database_url)
    try:
        upgraded = runner.invoke(main, ["db", "upgrade"], env=env)
        assert upgraded.exit_code == 0, upgraded.output
        assert "plugin sink at sink0001" in upgraded.output
        tables = inspect(engine).get_table_names()
        assert "sink_thing" in tables and "alembic_version_sink" in tables
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT version_num FROM alembic_version_sink")) == \
                "sink0001"
            kit = connection.scalar(text("SELECT version_num FROM alembic_version"))
        from cowin_kit.core import migrate
        assert (kit,) == migrate.head_revisions()
        again = runner.invoke(main, ["db", "upgrade"], env=env)
        assert again.exit_code == 0 and "plugin sink at sink0001" in again.output
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS sink_thing"))
            connection.execute(text("DROP TABLE IF EXISTS alembic_version_sink"))
        engine.dispose()
    del app


def test_a_plugin_command_may_not_shadow_a_kit_command(site, tmp_path, database_url):
    site.install("shadow", '''
        import click

        @click.command("db")
        def db():
            """Not the real one."""

        def plugin(context):
            context.register_command(db)
    ''')
    result = CliRunner().invoke(main, ["shadow-anything"], env=cli_env(
        tmp_path, database_url, COWIN_KIT_PLUGINS="shadow"))
    assert result.exit_code == 1
    assert "plugin 'shadow' registers the command 'db', which cowin-kit already has" in \
        result.output


def test_two_plugins_cannot_claim_the_same_name(site, tmp_path):
    for name in ("one", "two"):
        site.install(name, '''
            def plugin(context):
                context.register_exporter("shared", lambda session, start, end: "")
        ''')
    with pytest.raises(SettingsError, match="plugin 'two' registers the exporter 'shared', "
                                            "already registered by 'one'"):
        create_app(base_overrides(tmp_path, PLUGINS=["one", "two"]))


def test_identity_providers_are_asked_in_order(site, tmp_path):
    site.install("registry-a", '''
        from cowin_kit.plugins import IdentityRecord

        class Provider:
            def lookup(self, id_type, id_number):
                if id_number == "111":
                    return IdentityRecord(id_number, name="From A", birth_year=1970)
                return None

        def plugin(context):
            context.register_identity_provider("a", Provider())
    ''')
    site.install("registry-b", '''
        from cowin_kit.plugins import IdentityRecord

        class Provider:
            def lookup(self, id_type, id_number):
                return IdentityRecord(id_number, name="From B " + id_type)

        def plugin(context):
            context.register_identity_provider("b", Provider())
    ''')
    app = create_app(base_overrides(tmp_path, PLUGINS=["registry-a", "registry-b"]))
    with app.app_context():
        assert plugins.identity_lookup("aadhaar", "111").name == "From A"
        assert plugins.identity_lookup("aadhaar", "222").name == "From B aadhaar"
    with create_app(base_overrides(tmp_path)).app_context():
        assert plugins.identity_lookup("aadhaar", "111") is None


# --- certificates: extra formats and the PDF template ------------------------------------

def test_certificate_formats_and_pdf_template(site, make_app):
    from cowin_kit.certificates.signing import keystore as keystore_module
    from cowin_kit.certificates import services as certificates
    from cowin_kit.config.runtime import active_pack

    module = site.install("certs", '''
        ISSUED = []

        def plugin(context):
            context.register_certificate_format(
                "summary", lambda record, certificate_id: f"{certificate_id}:{record.vaccination.dose}")
            context.register_certificate_format("broken", lambda record, certificate_id: 1 / 0)
            context.register_pdf_template(lambda view: b"%PDF-1.4 template for " +
                                          view.title.encode())
            context.connect("certificate_issued", lambda **arguments: ISSUED.append(arguments))
    ''')
    app = make_app(PLUGINS=["certs"])
    client = app.test_client()
    with app.app_context():
        keystore_module.generate(certificates.keystore().keys_dir, "IN", "MoHFW")
    citizen, ref, dose = record_first_dose(app, client)
    with app.app_context():
        issued = certificates.process_outbox(get_database(app).session_factory, active_pack(),
                                             certificates.keystore().current())
    assert issued == 1
    (event,) = module_of(module).ISSUED
    assert event["reference_id"] == ref and event["dose_id"] == dose.get_json()["dose_id"]
    assert event["documents"] == {"summary": f"{event['certificate_id']}:1"}  # broken: left out
    assert event["provisional"] is True and event["formats"]
    pdf = client.get(f"/api/v1/beneficiaries/{ref}/certificate.pdf", headers=auth(citizen))
    assert pdf.status_code == 200, pdf.data[:200]
    assert pdf.data.startswith(b"%PDF-1.4 template for ")


# --- the plugin command -------------------------------------------------------------------

def test_plugin_list_shows_installed_and_enabled(site, tmp_path):
    site.install("alpha", RECORDER)
    site.install("beta", RECORDER)
    env = {"COWIN_KIT_ENV": "test", "COWIN_KIT_INSTANCE_PATH": str(tmp_path / "i"),
           "COWIN_KIT_PLUGINS": "beta"}
    result = CliRunner().invoke(main, ["plugin", "list"], env=env)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines()
             if line.startswith(("alpha ", "beta "))]
    assert lines == ["alpha  cowin-kit-test-alpha 1.2  [installed]",
                     "beta  cowin-kit-test-beta 1.2  [enabled #1]"]
    bad = CliRunner().invoke(main, ["plugin", "list"], env={**env, "COWIN_KIT_PLUGINS": "zeta"})
    assert bad.exit_code == 1
    assert "beta  cowin-kit-test-beta 1.2  [installed]" in bad.output
    assert "no installed plugin is named 'zeta'" in bad.output


def test_plugin_list_needs_no_instance_or_production_secrets(site, tmp_path):
    """A read-only local command: ENV production (the default) without SECRET_KEY and the
    other instance keys, and no instance folder, still lists what is installed and enabled."""
    site.install("alpha", RECORDER)
    env = {"COWIN_KIT_ENV": "production", "COWIN_KIT_INSTANCE_PATH": str(tmp_path / "none"),
           "COWIN_KIT_PLUGINS": "alpha", "COWIN_KIT_SECRET_KEY": None,
           "COWIN_KIT_ENCRYPTION_KEYS": None, "COWIN_KIT_ID_HASH_KEY": None}
    result = CliRunner().invoke(main, ["plugin", "list"], env=env)
    assert result.exit_code == 0, result.output
    assert "alpha  cowin-kit-test-alpha 1.2  [enabled #1]" in result.output.splitlines()
    assert not (tmp_path / "none").exists()
    # a command that needs the instance still refuses to run without its keys
    refused = CliRunner().invoke(main, ["config", "show"], env=env)
    assert refused.exit_code == 1 and "SECRET_KEY: required" in refused.output


def test_plugin_new_scaffolds_an_installable_plugin_with_a_real_flow_test(tmp_path):
    """The scaffold's files (its build, install and test in a fresh venv from wheels:
    tests/deploy/test_wheels.py)."""
    runner = CliRunner()
    result = runner.invoke(main, ["plugin", "new", "thank-you", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    project = tmp_path / "cowin-kit-thank-you"
    pyproject = (project / "pyproject.toml").read_text()
    assert 'thank-you = "cowin_kit_thank_you:plugin"' in pyproject
    assert (project / "tests" / "conftest.py").read_text().count("cowin_kit.testing") == 1
    test = (project / "tests" / "test_plugin.py").read_text()
    assert "record_first_dose" in test and "plugins.fire" not in test
    assert runner.invoke(main, ["plugin", "new", "Bad_Name", "-o", str(tmp_path)]).exit_code == 1
    assert runner.invoke(main, ["plugin", "new", "thank-you", "-o", str(tmp_path)]).exit_code == 1


def test_every_hook_is_documented_with_its_arguments():
    for hook, doc in plugins.HOOKS.items():
        assert ":param" in doc, hook
    docs = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    for hook, doc in plugins.HOOKS.items():
        assert f"`{hook}`" in docs, hook
        for line in doc.splitlines():
            line = line.strip()
            if line.startswith(":param "):
                assert f"`{line.split()[1].rstrip(':')}`" in docs, (hook, line)
    for name in plugins.__all__:
        assert hasattr(plugins, name), name


def test_a_pack_may_use_an_enabled_plugins_id_validator(site, tmp_path):
    import shutil

    site.install("passport-check", '''
        def check(number):
            number = number.strip().upper()
            if not (len(number) == 8 and number[0].isalpha() and number[1:].isdigit()):
                raise ValueError("not a passport number")
            return number

        def plugin(context):
            context.register_id_validator("passport-check-v1", check)
    ''')
    pack = tmp_path / "pack"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "countries" / "in", pack)
    yaml = (pack / "pack.yaml").read_text()
    assert 'validator: "regex:^[A-Z][0-9]{7}$"' in yaml
    (pack / "pack.yaml").write_text(yaml.replace('validator: "regex:^[A-Z][0-9]{7}$"',
                                                 "validator: plugin:passport-check-v1"))
    env = {"COWIN_KIT_ENV": "test", "COWIN_KIT_INSTANCE_PATH": str(tmp_path / "i")}
    without = CliRunner().invoke(main, ["pack", "validate", str(pack)], env=env)
    assert without.exit_code == 1
    assert "no enabled plugin provides the ID validator 'passport-check-v1'" in without.output
    enabled = CliRunner().invoke(main, ["pack", "validate", str(pack)],
                                 env={**env, "COWIN_KIT_PLUGINS": "passport-check"})
    assert enabled.exit_code == 0, enabled.output
    app = create_app(base_overrides(tmp_path, PLUGINS=["passport-check"]))
    with app.app_context():
        from cowin_kit.idnumbers import InvalidIdNumber, normalize_id_number

        assert normalize_id_number("plugin:passport-check-v1", " k1234567 ") == "K1234567"
        with pytest.raises(InvalidIdNumber):
            normalize_id_number("plugin:passport-check-v1", "123")


def test_registration_checks_the_number_with_the_identity_providers(site, make_app, caplog):
    site.install("registry", '''
        from cowin_kit.plugins import IdentityRecord

        class Provider:
            def lookup(self, id_type, id_number):
                if id_number.endswith("1"):
                    raise ConnectionError("the national ID system is down")
                if id_type == "aadhaar" and id_number.startswith("2"):
                    return IdentityRecord(id_number, name="Asha Devi", birth_year=1980)
                return None

        def plugin(context):
            context.register_identity_provider("registry", Provider())
    ''')
    from stdnum import verhoeff

    def aadhaar(base: str) -> str:
        while True:
            number = base + verhoeff.calc_check_digit(base)
            if not number.endswith("1"):
                return number
            base = str(int(base) + 1)

    def down(base: str) -> str:
        while True:
            number = base + verhoeff.calc_check_digit(base)
            if number.endswith("1"):
                return number
            base = str(int(base) + 1)

    app = make_app(PLUGINS=["registry"])
    client = app.test_client()
    token = sign_in(app, client)
    unknown = client.post("/api/v1/beneficiaries", headers=auth(token),
                          json=member(aadhaar("34567890123")))
    assert unknown.status_code == 422 and unknown.get_json()["code"] == "id_number_unknown"
    assert "id_number" in unknown.get_json()["errors"]
    wrong_year = client.post("/api/v1/beneficiaries", headers=auth(token),
                             json=member(aadhaar("24567890123"), birth_year=1990))
    assert wrong_year.status_code == 422
    assert wrong_year.get_json()["code"] == "identity_mismatch"
    known = client.post("/api/v1/beneficiaries", headers=auth(token),
                        json=member(aadhaar("24567890123")))
    assert known.status_code == 201, known.get_json()
    number = down("44567890123")
    with caplog.at_level("WARNING", logger="cowin_kit.registration"):
        unchecked = client.post("/api/v1/beneficiaries", headers=auth(token),
                                json=member(number))
    assert unchecked.status_code == 201, unchecked.get_json()
    assert "registered unchecked" in caplog.text and number not in caplog.text
    listed = client.get("/api/v1/beneficiaries", headers=auth(token)).get_json()
    assert len(listed["beneficiaries"]) == 2
