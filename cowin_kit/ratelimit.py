"""Rate limits (flask-limiter): in process memory by default, in Redis when
COWIN_KIT_REDIS_URL is set so that limits hold across workers and pods."""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, headers_enabled=True)


def init_app(app: Flask) -> None:
    settings = app.config["COWIN_KIT"]
    app.config["RATELIMIT_STORAGE_URI"] = settings["REDIS_URL"] or "memory://"
    app.config["RATELIMIT_STRATEGY"] = "moving-window"
    if settings["API_LIMITS_PER_IP"]:
        app.config["RATELIMIT_DEFAULT"] = settings["API_LIMITS_PER_IP"]
    limiter.init_app(app)


def mobile_key() -> str:
    """Limit key of OTP requests: the number asked for, as sent (normalised digits)."""
    data = request.get_json(silent=True) or {}
    digits = "".join(ch for ch in str(data.get("mobile", "")) if ch.isdigit())
    return "mobile:" + digits[-10:]
