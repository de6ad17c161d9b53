"""The app factory: builds the WSGI app from the settings, wiring every part of the kit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Mapping

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import cowin_kit.models  # noqa: F401  (every model mapped before the first query)
from cowin_kit import api, notifications, plugins, web
from cowin_kit.core import cache, db, i18n, jsonio, logging_setup, metrics, ratelimit, security
from cowin_kit.config import runtime
from cowin_kit.config.settings import load_settings
from cowin_kit.core.dbstats import DatabaseConnectionsCollector
from cowin_kit.core.health import bp as health_bp
from cowin_kit.core.problems import register_error_handlers
from cowin_kit.notifications.metrics import MessageOutboxCollector
from cowin_kit.vaccination.outbox import OutboxBacklogCollector


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the WSGI app. Runs no database query: connecting happens on first use."""
    settings = load_settings(overrides)
    app = CowinKitFlask("cowin_kit", instance_path=settings["INSTANCE_PATH"])
    app.config["SECRET_KEY"] = settings["SECRET_KEY"]
    app.config["COWIN_KIT"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings["MAX_REQUEST_BYTES"]
    jsonio.init_app(app)
    logging.getLogger("cowin_kit").setLevel(settings["LOG_LEVEL"])

    if settings["TRUSTED_PROXIES"]:
        # Behind N load balancers/ingresses, the client IP (limits, audit) is the one they
        # report in X-Forwarded-For; never trust the header without them.
        n = settings["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    logging_setup.init_app(app)  # first: the request id every later hook and log line uses
    metrics.init_app(app)  # early too: rate-limited answers are timed as well
    metrics.add_scrape_collector(app, OutboxBacklogCollector)
    metrics.add_scrape_collector(app, MessageOutboxCollector)
    metrics.add_scrape_collector(app, DatabaseConnectionsCollector)
    db.init_app(app, settings["DATABASE_URL"], settings["DATABASE_POOL_SIZE"],
                settings["DATABASE_PING_AFTER_IDLE_SECONDS"], settings["DATABASE_REPLICA_URL"],
                settings["REPLICA_MAX_LAG_SECONDS"])
    i18n.init_app(app, runtime)
    plugins.init_app(app)  # enabled plugins, before the notifier they may provide
    security.init_app(app)
    cache.init_app(app)
    notifications.init_app(app)
    ratelimit.init_app(app)
    register_error_handlers(app)
    app.register_blueprint(health_bp)
    api.init_app(app)
    web.init_app(app)
    app.remember_plain_functions()
    return app


class CowinKitFlask(Flask):
    """Flask that knows which of its hooks and views are plain functions.

    Flask passes every hook and view through ``ensure_sync`` on every request (13 times
    for /healthz), and each time asks ``inspect`` whether it is a coroutine function: a
    few per cent of a small request's CPU, for an answer that never changes. The answers
    for everything registered while the app is built are kept; anything else (registered
    later, ``after_this_request`` functions) is checked as Flask checks it."""

    _plain_functions: frozenset[Any] = frozenset()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            if func in self._plain_functions:
                return func
        except TypeError:  # an unhashable callable: never among them
            pass
        return super().ensure_sync(func)

    def remember_plain_functions(self) -> None:
        """Called once the app is built: its hooks, views and error handlers that are not
        coroutine functions (all of them: cowin-kit has no async code)."""
        self._plain_functions = frozenset(
            func for func in self._registered_functions()
            if isinstance(func, Hashable) and Flask.ensure_sync(self, func) is func)

    def _registered_functions(self) -> Iterator[Any]:
        """What Flask passes through ensure_sync while it handles a request."""
        for hooks in (self.before_request_funcs, self.after_request_funcs,
                      self.teardown_request_funcs):
            for funcs in hooks.values():
                yield from funcs
        yield from self.teardown_appcontext_funcs
        yield from self.view_functions.values()
        for by_code in self.error_handler_spec.values():
            for by_class in by_code.values():
                yield from by_class.values()
