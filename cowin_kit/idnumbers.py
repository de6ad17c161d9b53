"""Pure rules about identity documents: how a pack's validator spec (``stdnum:...``,
``regex:...``, ``plugin:...``) checks and normalises a number, and how a number is shown
masked. Below the pack validator (cowin_kit.config.packs) and every domain that takes IDs."""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from types import ModuleType

from cowin_kit import plugins
from cowin_kit.core.i18n import gettext as _

VALIDATOR_KINDS = ("stdnum", "regex", "plugin")
_SEPARATORS = re.compile(r"[\s\-./]")


class InvalidIdNumber(ValueError):
    """The number does not satisfy the document type's validator."""


def split_validator_spec(spec: str) -> tuple[str, str]:
    kind, _, argument = spec.partition(":")
    if kind not in VALIDATOR_KINDS or not argument:
        raise ValueError(
            f"validator must be one of {', '.join(k + ':...' for k in VALIDATOR_KINDS)}"
        )
    return kind, argument


@lru_cache(maxsize=256)
def _stdnum_module(name: str) -> ModuleType:
    if not re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*", name):
        raise ValueError(f"{name!r} is not a python-stdnum module name")
    try:
        module = importlib.import_module(f"stdnum.{name}")
    except ImportError:
        raise ValueError(f"python-stdnum has no module {name!r}") from None
    if not callable(getattr(module, "validate", None)):
        raise ValueError(f"stdnum.{name} has no validate()")
    return module


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"regular expression does not compile: {exc}") from None


def validator_problem(spec: str) -> str | None:
    """Why ``spec`` cannot be used as a validator, or None when it can."""
    try:
        kind, argument = split_validator_spec(spec)
        if kind == "stdnum":
            _stdnum_module(argument)
        elif kind == "regex":
            _compiled(argument)
        elif plugins.id_validator(argument) is None:
            return f"no enabled plugin provides the ID validator {argument!r}"
    except ValueError as exc:
        return str(exc)
    return None


def normalize_id_number(spec: str, number: str) -> str:
    """The number in its canonical form, or InvalidIdNumber explaining why it is wrong."""
    kind, argument = split_validator_spec(spec)
    if kind == "stdnum":
        module = _stdnum_module(argument)
        try:
            compact = module.compact(number) if hasattr(module, "compact") else number
            return str(module.validate(compact))
        except Exception as exc:  # stdnum raises its own ValidationError subclasses
            raise InvalidIdNumber(getattr(exc, "message", None) or str(exc)) from None
    if kind == "regex":
        candidate = _SEPARATORS.sub("", number).upper()
        if not _compiled(argument).fullmatch(candidate):
            raise InvalidIdNumber(_("does not have the format of this document"))
        return candidate
    validator = plugins.id_validator(argument)
    if validator is None:
        raise InvalidIdNumber(f"no enabled plugin provides the ID validator {argument!r}")
    try:
        return validator(number)
    except ValueError as exc:  # the plugin API's contract: ValueError with a human message
        raise InvalidIdNumber(str(exc)) from None


def mask_id_number(number: str) -> str:
    """Only the last four characters are ever shown after registration."""
    visible = number[-4:] if len(number) > 4 else ""
    return "X" * max(len(number) - len(visible), 4) + visible
