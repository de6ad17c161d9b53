"""Every setting of cowin-kit, declared once.

A setting is read, in order of precedence, from ``create_app(overrides=...)``, from a
``COWIN_KIT_<KEY>`` environment variable, from the instance config file
(``<INSTANCE_PATH>/config.toml``), and finally from its default. Unknown keys and values of
the wrong type stop the start with a message naming the key: a typo in a deployment must
not silently fall back to a default.

``cowin-kit config doc`` turns this table into docs/configuration.md.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Iterator, Mapping

from cowin_kit.core.setting import ENV_PREFIX, Setting, SettingsError
from cowin_kit.plugins import plugin_settings

CONFIG_FILE_NAME = "config.toml"
# Keys generated into the instance folder by `init` (and `demo`): setting -> file name.
INSTANCE_KEY_FILES = {"SECRET_KEY": "secret_key", "ENCRYPTION_KEYS": "encryption_key",
                      "ID_HASH_KEY": "id_hash_key"}
DEVELOPMENT_ENVIRONMENTS = frozenset({"dev", "demo", "test"})


DECLARATIONS: tuple[Setting, ...] = (
    Setting("ENV", "str", "production",
            "Where this instance runs. `dev`, `demo` and `test` relax start-up checks "
            "(a missing SECRET_KEY is generated); `production` enforces them. With `test`, "
            "queued messages are sent as soon as their transaction commits (tests read them "
            "at once) instead of by the background senders.",
            choices=("production", "dev", "demo", "test")),
    Setting("INSTANCE_PATH", "str", "instance",
            "Folder for this instance's files: config.toml, the generated secret key, "
            "the default SQLite database. Relative paths are taken from the working folder. "
            "Only read from the environment."),
    Setting("DATABASE_URL", "str", "",
            "SQLAlchemy database URL, e.g. `postgresql+psycopg://user:pw@host/cowin`. "
            "Empty means a SQLite file `cowin-kit.db` in the instance folder.", secret=True),
    Setting("DATABASE_POOL_SIZE", "int", 10,
            "Connections each process keeps open to PostgreSQL."),
    Setting("DATABASE_PING_AFTER_IDLE_SECONDS", "int", 5,
            "A pooled PostgreSQL connection idle for longer than this is checked (one round "
            "trip) before a request uses it, and replaced if the server closed it; 0 checks "
            "it every time."),
    Setting("DATABASE_REPLICA_URL", "str", "",
            "Optional PostgreSQL streaming replica (a hot standby) that serves the public "
            "availability searches, which may be a little stale; everything else reads and "
            "writes on DATABASE_URL. Empty means none. See docs/reliability.md.",
            secret=True),
    Setting("REPLICA_MAX_LAG_SECONDS", "int", 30,
            "Staleness bound of DATABASE_REPLICA_URL: when the replica is further behind the "
            "primary than this (or unreachable, or no longer streaming), searches read from "
            "the primary. Checked at most once a second per process."),
    Setting("SECRET_KEY", "str", "",
            "Key that signs sessions and tokens. Required in production; `cowin-kit init` "
            "writes one into the instance folder.", secret=True),
    Setting("ENCRYPTION_KEYS", "list", [],
            "Fernet keys (comma-separated) that encrypt ID numbers and secret codes at rest; "
            "the first encrypts, all decrypt, so keys can be rotated. Required in production; "
            "`cowin-kit init` writes one into the instance folder.", secret=True),
    Setting("ID_HASH_KEY", "str", "",
            "Key of the HMAC under which ID numbers are looked up for uniqueness. Never "
            "rotate it (existing registrations could not be found). Required in production; "
            "`cowin-kit init` writes one into the instance folder.", secret=True),
    Setting("OTP_TTL_SECONDS", "int", 180, "How long a one-time password is valid."),
    Setting("OTP_MAX_ATTEMPTS", "int", 3, "Verification attempts per OTP transaction."),
    Setting("OTP_RESEND_COOLDOWN_SECONDS", "int", 60,
            "Minimum time between two OTPs sent to the same number."),
    Setting("OTP_LIMITS_PER_NUMBER", "str", "5/hour;20/day",
            "OTP requests allowed per mobile number: limits such as `5/hour` or "
            "`100/5minute`, `;`-separated (each a fixed window, see docs/api.md)."),
    Setting("OTP_LIMITS_PER_IP", "str", "100/hour;1000/day",
            "OTP requests allowed per client IP address."),
    Setting("TOKEN_TTL_SECONDS", "int", 900, "Lifetime of a citizen's bearer token."),
    Setting("STAFF_TOKEN_TTL_SECONDS", "int", 3600,
            "Lifetime of a staff member's bearer token (sign in again after it)."),
    Setting("BOOKING_CUTOFF_TIME", "str", "15:00",
            "Local time (HH:MM, pack timezone) after which sessions of the same day can no "
            "longer be booked (CoWIN used 15:00)."),
    Setting("MAX_RESCHEDULES", "int", 3, "How often one appointment may be moved."),
    Setting("AVAILABILITY_CACHE_SECONDS", "int", 300,
            "How long public availability answers may be cached by clients and proxies "
            "(CoWIN allowed up to 30 minutes of staleness)."),
    Setting("PUBLIC_DATA_CACHE_SECONDS", "int", 60,
            "How long the public dashboard and open data answers may be cached by the kit, "
            "clients and proxies (the figures are at most this old)."),
    Setting("SEARCH_LIMITS_PER_IP", "str", "100/5minute",
            "Public availability searches allowed per client IP (CoWIN: 100 per 5 minutes)."),
    Setting("BOOKING_LIMITS_PER_ACCOUNT", "str", "60/hour",
            "Bookings, reschedules and cancellations allowed per citizen account."),
    Setting("SLOT_ALERT_PERIOD_SECONDS", "int", 21600,
            "A citizen account gets at most one slot alert in this period, however many "
            "subscriptions it holds."),
    Setting("SLOT_ALERT_POLL_SECONDS", "int", 60,
            "How often the worker looks for free seats matching slot-alert subscriptions."),
    Setting("SLOT_ALERTS_PER_ACCOUNT", "int", 5,
            "Active slot-alert subscriptions one citizen account may hold."),
    Setting("SLOT_ALERT_LIMITS_PER_ACCOUNT", "str", "10/hour;30/day",
            "Slot-alert subscriptions a citizen account may ask for (API and pages together)."),
    Setting("API_LIMITS_PER_IP", "str", "",
            "Default limit on the calls of each client IP to each route (API, pages and "
            "/healthz alike, besides the route's own limits), e.g. `100/5minute` as CoWIN's "
            "public API; empty means none."),
    Setting("TRUSTED_PROXIES", "int", 0,
            "Reverse proxies in front of the app whose X-Forwarded-For is trusted (for the "
            "client IP used in limits and audit)."),
    Setting("MAX_REQUEST_BYTES", "int", 17 * 1024 * 1024,
            "Largest request body read, in bytes; a larger one is answered 413 before it is "
            "read. The default leaves room for the 16 MB CSV files the imports take."),
    Setting("CERT_KEYS_DIR", "str", "",
            "Folder of the certificate signing keys (one sub-folder per key generation; "
            "mount a Kubernetes Secret here). Empty means `<INSTANCE_PATH>/keys`. Keys are "
            "never stored in the database.", secret=False),
    Setting("PUBLIC_URL", "str", "http://127.0.0.1:5000",
            "The instance's public base URL: the issuer of SMART Health Cards and W3C "
            "credentials (its /.well-known/jwks.json publishes the keys)."),
    Setting("CERTIFICATE_VALIDITY_DAYS", "int", 365,
            "How long a signed certificate (DCC/SHC exp) is valid after issue."),
    Setting("PACK", "str", "",
            "Code of the installed country pack to serve (e.g. `IN`). Empty means the only "
            "installed pack."),
    Setting("DEFAULT_LOCALE", "str", "",
            "Language used when a request asks for none the pack offers. Empty means the "
            "pack's default_locale."),
    Setting("REDIS_URL", "str", "",
            "Redis URL (e.g. `redis://127.0.0.1:6379/0`) shared by all processes for rate "
            "limits and caches. Empty keeps them in each process's memory.", secret=True),
    Setting("NOTIFIER", "str", "log",
            "Where outgoing messages (OTP SMS, alerts) go: `log`, `file:PATH` (one JSON line "
            "per message) or the name of a notifier plugin. Messages are written to the "
            "message outbox in the request's transaction and sent afterwards (OTPs by the web "
            "process's sender thread, everything by `cowin-kit worker`). `log` writes the "
            "message text (OTPs, secret codes) only when ENV is `dev`, `demo` or `test`; in "
            "production it logs recipient and template with the text masked."),
    Setting("MESSAGE_SEND_TIMEOUT_SECONDS", "int", 15,
            "Time budget of one message's delivery through the notifier; a slower send counts "
            "as a failed attempt (retried with backoff, so a gateway that accepts after the "
            "budget may deliver twice)."),
    Setting("MESSAGE_MAX_ATTEMPTS", "int", 8,
            "Delivery attempts per message before it is marked failed (its text is then "
            "erased)."),
    Setting("MESSAGE_RETRY_BASE_SECONDS", "int", 10,
            "Wait before a message's second attempt; doubled after each failed attempt, at "
            "most one hour."),
    Setting("MESSAGE_SEND_CONCURRENCY", "int", 8,
            "Messages one sender (the worker, or a web process's OTP sender) has in flight at "
            "once."),
    Setting("NOTIFIER_BREAKER_FAILURES", "int", 5,
            "After this many consecutive failed sends a process stops calling the notifier "
            "for NOTIFIER_BREAKER_COOLDOWN_SECONDS (messages stay pending), then tries one."),
    Setting("NOTIFIER_BREAKER_COOLDOWN_SECONDS", "int", 60,
            "How long the notifier's circuit breaker stays open."),
    Setting("OTP_SENDER_IN_WEB", "bool", True,
            "Each web process sends OTPs itself, from a background thread woken when an OTP "
            "is committed, so that an OTP leaves within seconds whatever the worker's backlog "
            "(the page never waits for the gateway). Off: only `cowin-kit worker` sends them "
            "(it sends OTPs before any other message in every round)."),
    Setting("CHANNELS_SECRET", "str", "",
            "Shared secret of the USSD/SMS gateway callbacks (/api/v1/channels/...): the "
            "adapter checks the callback's HMAC signature or key with it. Empty: every "
            "callback is refused (the channels are off). See docs/channels.md.", secret=True),
    Setting("CHANNELS_ALLOWED_NETWORKS", "list", [],
            "Mobile network codes (the gateway's networkCode, comma-separated) whose "
            "callbacks are served; empty means any network."),
    Setting("USSD_SESSION_TTL_SECONDS", "int", 300,
            "How long a USSD session's state is kept after its last step (networks end a "
            "session after 20 to 180 s; a later step of it is answered as stale)."),
    Setting("RETENTION_OTP_DAYS", "int", 30,
            "Days an OTP transaction row (a keyed hash of the code, the number, the attempts) "
            "is kept after it was sent; the worker deletes older ones (docs/privacy.md)."),
    Setting("RETENTION_MESSAGE_DAYS", "int", 90,
            "Days a message of the outbox (SMS sent, failed or handled: recipient, template, "
            "delivery report) is kept after it was queued; the worker deletes older ones. "
            "Messages still waiting to be sent are kept."),
    Setting("RETENTION_AUDIT_DETAIL_DAYS", "int", 730,
            "Days the details of an audit event (the fields changed, counts, reasons) are "
            "kept; then only who did what to which record, when and through which channel "
            "remain. 0 keeps details for ever."),
    Setting("RETENTION_ABANDONED_ACCOUNT_DAYS", "int", 365,
            "Days after which a citizen account with nobody registered on it and no sign-in "
            "or other activity is deleted by the worker (with its OTPs, PIN and alerts). "
            "0 keeps them."),
    Setting("PARTITION_MONTHS_AHEAD", "int", 3,
            "Months ahead of the current one for which the worker keeps monthly partitions "
            "of the audit trail, the outbox, the OTPs, the doses and the appointments "
            "(PostgreSQL; docs/partitioning.md). "
            "Rows of a month without one land in the default partition; nothing fails."),
    Setting("ERASURE_ALLOWED", "bool", False,
            "Whether `cowin-kit privacy erase` may pseudonymize a person (name, ID, contact "
            "and exact birth date removed; doses kept, counted without identity). Turn on "
            "only where the country's law allows erasure of immunization records."),
    Setting("PLUGINS", "list", [],
            "Installed plugins to enable, comma-separated, in order (entry points of the "
            "group `cowin_kit.plugins`; see docs/plugins.md and `cowin-kit plugin list`). "
            "A name no installed plugin has stops the start. Enabled plugins may declare "
            "settings of their own, prefixed with the plugin's name (`SMS_HTTP_URL`)."),
    Setting("FONT_DIRS", "list",
            ["/usr/share/fonts/truetype/noto", "/usr/share/fonts/truetype/dejavu"],
            "Folders (comma-separated, searched in order) holding the TrueType fonts of PDF "
            "slips and certificates: Noto (Debian `fonts-noto-core`) per script, DejaVu as "
            "the Latin/Cyrillic fallback. A missing font for a needed script is an error."),
    Setting("LOG_LEVEL", "str", "INFO", "Python logging level.",
            choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    Setting("LOG_FORMAT", "str", "text",
            "Log lines on standard output: `text` (readable, the demo's) or `json` (one JSON "
            "object a line, for log collectors; use it in containers). Every line of a "
            "request carries its request id (the X-Request-ID header from the ingress, or "
            "a new one, echoed in the answer).", choices=("text", "json")),
    Setting("METRICS_ENABLED", "bool", True,
            "Serve Prometheus metrics at /metrics (request latency, bookings, doses, "
            "certificates, OTPs, certificate outbox backlog)."),
    Setting("METRICS_ALLOWED_NETWORKS", "list",
            ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
             "fc00::/7"],
            "Client networks (CIDR, comma-separated) that may read /metrics; others get 404. "
            "The default allows loopback and private (cluster) addresses: behind an ingress "
            "set TRUSTED_PROXIES so that a public client is seen with its own address."),
    Setting("WORKER_METRICS_PORT", "int", 0,
            "Port on which `cowin-kit worker` serves its own /metrics (certificates "
            "issued, outbox backlog); 0 means none."),
    Setting("WEB_BIND", "str", "",
            "Address gunicorn listens on (gunicorn.conf.py). Empty means `0.0.0.0:$PORT`, "
            "with the PORT environment variable defaulting to 8000."),
    Setting("WEB_WORKERS", "int", 0,
            "Gunicorn worker processes. 0 means 2 per CPU available to the container (its "
            "cgroup CPU limit, else the CPUs it may run on) plus 1."),
    Setting("WEB_THREADS", "int", 4,
            "Threads per gunicorn worker (gthread): requests one process serves at once "
            "while others wait on the database."),
    Setting("WEB_TIMEOUT", "int", 30,
            "Seconds a request may take before gunicorn restarts its worker."),
    Setting("WEB_GRACEFUL_TIMEOUT", "int", 25,
            "Seconds workers get to finish their requests on shutdown (keep it below the "
            "pod's terminationGracePeriodSeconds)."),
    Setting("WEB_KEEPALIVE", "int", 75,
            "Seconds an idle keep-alive connection stays open; keep it above the idle timeout "
            "of the load balancer or ingress in front (60 s for most)."),
    Setting("WEB_MAX_REQUESTS", "int", 0,
            "Restart a worker after this many requests (with up to 10% jitter), a guard "
            "against slow memory growth; 0 means never."),
    Setting("WEB_PRELOAD", "bool", True,
            "Build the app once in the gunicorn master before forking workers (faster start, "
            "shared memory); no database connection is opened before the fork."),
    Setting("TEST_DATABASE_URL", "str", "",
            "Test suite only: a PostgreSQL server URL on which `make test` also runs the "
            "suite (a database is created and dropped per run).", secret=True),
    Setting("VECTORS", "str", "",
            "Test suite only: folder of the certificate conformance vectors "
            "(default `../shared/vectors`)."),
    Setting("TEST_CACHE", "str", "",
            "Test suite only: folder where the interoperability tests install the "
            "independent implementations they check certificates with (default "
            "`~/.cache/cowin-kit-tests`)."),
    Setting("EXAMPLES_DIR", "str", "",
            "Folder of the example country packs (`cowin-kit demo`, `init`, the test "
            "fixtures); default `examples/countries` of the working folder or of the kit's "
            "checkout. Set it where the kit is installed from a wheel."),
)

BY_KEY: dict[str, Setting] = {setting.key: setting for setting in DECLARATIONS}


class Settings(Mapping[str, Any]):
    """The resolved settings of one instance (read-only)."""

    def __init__(self, values: dict[str, Any], sources: dict[str, str],
                 declarations: Mapping[str, Setting] | None = None):
        self._values = values
        self.sources = sources
        self.declarations = dict(declarations or BY_KEY)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key.upper()]
        except KeyError:
            raise AttributeError(key) from None

    @property
    def instance_path(self) -> Path:
        return Path(self._values["INSTANCE_PATH"])

    @property
    def is_development(self) -> bool:
        return self._values["ENV"] in DEVELOPMENT_ENVIRONMENTS

    def masked(self) -> list[tuple[str, str, str]]:
        """(key, shown value, source) for every setting, secrets masked."""
        return [
            (key, self.declarations[key].display(self._values[key]), self.sources[key])
            for key in self._values
        ]


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    require_secrets: bool = True,
) -> Settings:
    """The settings in force. ``require_secrets=False`` is for read-only local commands
    (`cowin-kit plugin list`, `pack validate`, the plugins' command names): a production
    instance key that is missing stays empty instead of being an error."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    problems: list[str] = []

    env_values: dict[str, str] = {
        name[len(ENV_PREFIX):]: raw for name, raw in environ.items()
        if name.startswith(ENV_PREFIX)}
    instance_raw = overrides.get("INSTANCE_PATH", env_values.get("INSTANCE_PATH", "instance"))
    instance_path = Path(str(instance_raw)).expanduser().resolve()
    config_path = instance_path / CONFIG_FILE_NAME
    file_values = _read_config_file(config_path, problems)

    # Enabled plugins declare settings of their own: which keys are known depends on PLUGINS.
    declarations: dict[str, Setting] = dict(BY_KEY)
    for raw_plugins in (overrides.get("PLUGINS"), env_values.get("PLUGINS"),
                        file_values.get("PLUGINS")):
        if raw_plugins is None:
            continue
        try:
            names = BY_KEY["PLUGINS"].parse(raw_plugins)
        except SettingsError:
            break  # reported with the other values below
        if names:
            for setting in plugin_settings(names):
                declarations[setting.key] = setting
        break

    for key in overrides:
        if key not in declarations:
            problems.append(f"{key}: unknown setting")
    for key in list(env_values):
        if key not in declarations:
            problems.append(f"{ENV_PREFIX}{key}: unknown setting (environment variable)")
            del env_values[key]
    for key in list(file_values):
        if key not in declarations:
            problems.append(f"{key}: unknown setting (in {config_path})")
            del file_values[key]

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in declarations.values():
        if setting.key in overrides:
            raw, source = overrides[setting.key], "override"
        elif setting.key in env_values:
            raw, source = env_values[setting.key], "environment"
        elif setting.key in file_values:
            raw, source = file_values[setting.key], "config file"
        else:
            values[setting.key], sources[setting.key] = setting.default, "default"
            continue
        try:
            values[setting.key] = setting.parse(raw)
        except SettingsError as exc:
            problems.append(f"{exc} [{source}]")
            continue
        sources[setting.key] = source

    if problems:
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems))

    values["INSTANCE_PATH"] = str(instance_path)
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = f"sqlite:///{instance_path / 'cowin-kit.db'}"
    for key, file_name in INSTANCE_KEY_FILES.items():
        if values[key]:
            continue
        key_file = instance_path / file_name
        if key_file.is_file():
            values[key] = BY_KEY[key].parse(key_file.read_text().strip())
            sources[key] = f"instance {file_name} file"
        elif values["ENV"] in DEVELOPMENT_ENVIRONMENTS:
            # Development only: what these keys protect lasts as long as this process.
            values[key] = BY_KEY[key].parse(_new_key(key))
            sources[key] = "generated for this process"
        elif not require_secrets:
            sources[key] = "missing (not needed here)"
        else:
            raise SettingsError(
                f"invalid settings:\n  {key}: required when ENV is production "
                f"(set {ENV_PREFIX}{key} or run `cowin-kit init`)"
            )
    return Settings(values, sources, declarations)


def _read_config_file(path: Path, problems: list[str]) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: not valid TOML ({exc})")
        return {}
    if "INSTANCE_PATH" in data:
        problems.append(f"INSTANCE_PATH: cannot be set in the config file it locates (in {path})")
    return {k: v for k, v in data.items() if k != "INSTANCE_PATH"}


def _new_key(key: str) -> str:
    if key == "ENCRYPTION_KEYS":
        from cryptography.fernet import Fernet

        return Fernet.generate_key().decode()
    return secrets.token_urlsafe(48)


def write_instance_keys(instance_path: Path) -> list[Path]:
    """Create the instance's missing key files (owner-readable only); returns those created."""
    instance_path.mkdir(parents=True, exist_ok=True)
    created = []
    for key, file_name in INSTANCE_KEY_FILES.items():
        key_file = instance_path / file_name
        if key_file.exists():
            continue
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(_new_key(key) + "\n")
        created.append(key_file)
    return created


def render_config_file(values: Mapping[str, Any]) -> str:
    """TOML text for an instance config file holding ``values``."""
    lines = ["# cowin-kit instance settings; see docs/configuration.md"]
    for key, value in values.items():
        if key not in BY_KEY:
            raise SettingsError(f"{key}: unknown setting")
        BY_KEY[key].parse(value)
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, (int, float)):
            rendered = str(value)
        elif isinstance(value, list):
            rendered = "[" + ", ".join(_toml_string(v) for v in value) + "]"
        else:
            rendered = _toml_string(str(value))
        lines.append(f"{key} = {rendered}")
    return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def configuration_markdown() -> str:
    """docs/configuration.md, generated from DECLARATIONS."""
    out = [
        "# Configuration",
        "",
        "Generated by `cowin-kit config doc` from `cowin_kit/config/settings.py`; do not edit.",
        "",
        "Each setting is read from `create_app(overrides)`, then the environment variable "
        f"`{ENV_PREFIX}<KEY>`, then `<INSTANCE_PATH>/{CONFIG_FILE_NAME}` (TOML, `KEY = value`), "
        "then its default. Unknown keys and wrong types stop the start with a message naming "
        "the key. `cowin-kit config show` prints the values in force, secrets masked.",
        "",
        "| key | environment variable | type | default | secret | description |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in DECLARATIONS:
        default = "" if s.default in ("", None) else f"`{s.default}`"
        choices = f" One of: {', '.join(f'`{c}`' for c in s.choices)}." if s.choices else ""
        out.append(
            f"| `{s.key}` | `{s.env_name}` | {s.type} | {default} | "
            f"{'yes' if s.secret else 'no'} | {s.description}{choices} |"
        )
    return "\n".join(out) + "\n"
