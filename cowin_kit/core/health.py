"""Liveness and readiness probes for load balancers and Kubernetes."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from cowin_kit.core import migrate
from cowin_kit.core.db import get_database

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is alive; touches nothing else so a slow database never restarts pods."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready for traffic: the database answers and its schema is at the newest migration."""
    engine = get_database().engine
    try:
        current = migrate.current_revisions(engine)
    except SQLAlchemyError as exc:
        reason = f"database unreachable: {type(exc).__name__}"
        return jsonify(status="unavailable", reason=reason), 503
    heads = migrate.head_revisions()
    if current and not set(current) & set(migrate.all_revisions()):
        # A newer release's migration ran (its pre-upgrade hook) while this pod, of the
        # previous release, still serves during the rolling update: stay in service until
        # replaced (migrations keep the previous release's code working).
        return jsonify(status="ready", revision=", ".join(current),
                       note="database schema is newer than this code")
    if set(current) != set(heads):
        reason = (f"database schema at {', '.join(current) or 'no revision'}, "
                  f"expected {', '.join(heads)}: run `cowin-kit db upgrade`")
        return jsonify(status="unavailable", reason=reason), 503
    return jsonify(status="ready", revision=", ".join(current))
