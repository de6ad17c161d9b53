"""cowin-kit: a national vaccination platform kit (registration, scheduling, certificates).

The WSGI app is built by :func:`cowin_kit.app.create_app` (also reachable as
``cowin_kit.create_app``, loaded on first use so that importing any part of the kit does not
import all of it)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("create_app", "CowinKitFlask"):
        from importlib import import_module

        return getattr(import_module("cowin_kit.app"), name)
    raise AttributeError(f"module 'cowin_kit' has no attribute {name!r}")
