"""The public plugin API (registries plugins add to).

Only the ID-validator registry exists so far; the rest of the plugin API grows here so
that integrators import one module.
"""

from __future__ import annotations

from typing import Callable

#: name -> function taking the raw number and returning it normalised, raising
#: ValueError with a human message when the number is not valid.
IdValidator = Callable[[str], str]

_id_validators: dict[str, IdValidator] = {}


def register_id_validator(name: str, validator: IdValidator) -> None:
    """Make ``validator`` usable in packs as ``validator: plugin:<name>``."""
    if name in _id_validators and _id_validators[name] is not validator:
        raise ValueError(f"an ID validator named {name!r} is already registered")
    _id_validators[name] = validator


def id_validator(name: str) -> IdValidator | None:
    return _id_validators.get(name)
