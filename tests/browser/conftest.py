"""Browser-test infrastructure: a live server on a demo-like instance and Playwright
driving Debian's Chromium (/usr/bin/chromium, headless).

Fixtures (reuse them for other parts' browser tests):

* ``live_instance(pack_code)`` — a factory (session scope): a fresh SQLite instance with
  the example pack installed, the demo data of ``cowin_kit.provision.demo.seed_demo`` (facilities,
  14 days of sessions, the five demo staff accounts), certificate signing keys, messages
  written to a file, served by werkzeug on 127.0.0.1 in a thread. Returns a
  ``LiveInstance`` (``url``, ``app``, ``staff_passwords``, ``last_otp(mobile)``,
  ``session()`` for set-up and checks).
* ``live_server`` — ``live_instance("IN")``.
* ``playwright_driver`` — the Playwright driver (persistent contexts: the field app);
  ``browser`` — one headless Chromium for the run; ``page`` — a fresh context (360 px
  wide phone viewport, downloads accepted) and page per test; ``new_page(**options)`` — a
  factory for more contexts (e.g. ``java_script_enabled=False``, ``locale="ar"``).
* ``artifacts_dir`` — ``test-artifacts/`` at the repository root (gitignored; CI keeps it).
* ``check_accessibility(page)`` — runs axe-core and fails on serious/critical violations.

Without /usr/bin/chromium (or the file named by CHROMIUM_EXECUTABLE) the tests are
skipped on a developer's machine and fail under CI=true (`.ci/run` installs Debian's
chromium). Screenshots and other artifacts go to test-artifacts/.
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM_EXECUTABLE", "/usr/bin/chromium"))
# GUIDE section 5: what Debian's Chromium needs headless in a container without network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
REPO = Path(__file__).resolve().parents[2]
PHONE = {"width": 360, "height": 740}


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _chromium_present() -> None:
    """Checked before any instance is set up, so a skip costs nothing."""
    _require_chromium()


@dataclass
class LiveInstance:
    url: str
    app: Any
    outbox: Path
    staff_passwords: dict[str, str] = field(default_factory=dict)

    def messages(self) -> list[dict]:
        if not self.outbox.exists():
            return []
        return [json.loads(line) for line in self.outbox.read_text(encoding="utf-8").splitlines()]

    def last_otp(self, mobile_suffix: str) -> str:
        found = [m for m in self.messages() if m["to"].endswith(mobile_suffix)
                 and m["template"].startswith("otp")]
        assert found, f"no OTP sent to ...{mobile_suffix}"
        return found[-1]["text"].split()[0]

    @contextmanager
    def session(self) -> Iterator[Any]:
        """A database session inside the app context, for set-up and checks."""
        from cowin_kit.core.db import get_database

        with self.app.app_context(), get_database(self.app).session() as session:
            yield session


def _serve(app) -> tuple[Any, threading.Thread]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(scope="session")
def live_instance(tmp_path_factory, fresh_database_url) -> Iterator[Callable[[str], LiveInstance]]:
    from cowin_kit import create_app
    from cowin_kit.core import migrate
    from cowin_kit.certificates.signing import keystore as keystore_module
    from cowin_kit.certificates.services import keystore
    from cowin_kit.config.examples import example_packs
    from cowin_kit.provision.installer import install_pack
    from cowin_kit.config.packs import load_pack
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.config.settings import write_instance_keys
    from cowin_kit.core.db import get_database
    from cowin_kit.provision.demo import seed_demo

    made: dict[str, LiveInstance] = {}
    servers = []

    def make(pack_code: str) -> LiveInstance:
        pack_code = pack_code.upper()
        if pack_code in made:
            return made[pack_code]
        folder = tmp_path_factory.mktemp(f"live-{pack_code.lower()}")
        write_instance_keys(folder)
        outbox = folder / "messages.jsonl"
        app = create_app({
            "ENV": "test", "INSTANCE_PATH": str(folder),
            "DATABASE_URL": fresh_database_url("sqlite"), "NOTIFIER": f"file:{outbox}",
            "PACK": pack_code, "OTP_RESEND_COOLDOWN_SECONDS": 0,
            "OTP_LIMITS_PER_NUMBER": "1000/hour", "OTP_LIMITS_PER_IP": "10000/hour",
            "BOOKING_LIMITS_PER_ACCOUNT": "1000/hour", "SEARCH_LIMITS_PER_IP": "10000/hour",
        })
        passwords: dict[str, str] = {}
        with app.app_context():
            database = get_database()
            migrate.upgrade(database.engine)
            with database.session() as session:
                install_pack(session, load_pack(example_packs()[pack_code]))
            with database.session() as session:
                report = seed_demo(session, active_pack())
            passwords = {user: password for user, _role, password in report.new_accounts}
            keystore_module.generate(keystore().keys_dir, pack_code, "Test issuer")
        server, _thread = _serve(app)
        servers.append(server)
        made[pack_code] = LiveInstance(f"http://127.0.0.1:{server.server_port}", app, outbox,
                                       passwords)
        return made[pack_code]

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()
    for instance in made.values():
        get_database(instance.app).dispose()


@pytest.fixture(scope="session")
def live_server(live_instance) -> LiveInstance:
    return live_instance("IN")


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    """The Playwright driver (for ``chromium.launch_persistent_context``: service workers
    and IndexedDB that outlive a context need a user data folder)."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_driver) -> Iterator[Any]:
    chromium = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                 args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def new_page(browser) -> Iterator[Callable[..., Any]]:
    contexts = []

    def make(**options: Any) -> Any:
        settings = {"viewport": PHONE, "accept_downloads": True, "locale": "en-GB", **options}
        context = browser.new_context(**settings)
        context.set_default_timeout(15000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page) -> Any:
    return new_page()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    folder = REPO / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def check_accessibility() -> Callable[[Any], None]:
    """axe-core on the page: no serious or critical violation (all listed on failure)."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check(page: Any) -> None:
        results = axe.run(page)
        bad = [v for v in results.response["violations"]
               if v.get("impact") in ("serious", "critical")]
        assert not bad, page.url + "\n" + "\n".join(
            f"{v['impact']}: {v['id']}: {v['help']} — "
            + "; ".join(node["target"][0] if isinstance(node["target"][0], str)
                        else str(node["target"]) for node in v["nodes"][:5])
            for v in bad)

    return check
