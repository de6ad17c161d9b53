"""cowin-kit: a national vaccination platform kit (registration, scheduling, certificates)."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask

__version__ = "0.1.0"


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the WSGI app. Runs no database query: connecting happens on first use."""
    import cowin_kit.models  # noqa: F401  (every model mapped before the first query)
    from cowin_kit import api, cache, db, i18n, jsonio, notifications, ratelimit, security, web
    from cowin_kit import logging_setup, metrics
    from cowin_kit import plugins
    from cowin_kit.config.settings import load_settings
    from cowin_kit.health import bp as health_bp
    from cowin_kit.problems import register_error_handlers

    settings = load_settings(overrides)
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"])
    app.config["SECRET_KEY"] = settings["SECRET_KEY"]
    app.config["COWIN_KIT"] = settings
    jsonio.init_app(app)
    logging.getLogger("cowin_kit").setLevel(settings["LOG_LEVEL"])

    if settings["TRUSTED_PROXIES"]:
        # Behind N load balancers/ingresses, the client IP (limits, audit) is the one they
        # report in X-Forwarded-For; never trust the header without them.
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    logging_setup.init_app(app)  # first: the request id every later hook and log line uses
    metrics.init_app(app)  # early too: rate-limited answers are timed as well
    db.init_app(app, settings["DATABASE_URL"], settings["DATABASE_POOL_SIZE"],
                settings["DATABASE_PING_AFTER_IDLE_SECONDS"])
    i18n.init_app(app)
    plugins.init_app(app)  # enabled plugins, before the notifier they may provide
    security.init_app(app)
    cache.init_app(app)
    notifications.init_app(app)
    ratelimit.init_app(app)
    register_error_handlers(app)
    app.register_blueprint(health_bp)
    api.init_app(app)
    web.init_app(app)
    return app
