"""Input validated through marshmallow schemas (:func:`load`: validated data, or
InvalidInput with every field's messages in the request's language), and marshmallow's own
English field messages, translated.

Marshmallow formats its messages before we see them ("Shorter than minimum length 4."),
so each default message of the fields and validators our schemas use is listed here as
marshmallow writes it (``{min}`` style placeholders, from marshmallow 4's source) with
the translatable text that replaces it (``%(min)s`` style, as everywhere in the
catalogs). ``translate`` recognises a formatted message, and returns the translation in
the current request's language with the same values filled in; any other message (ours
are already translated when raised) passes through unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from cowin_kit.core.errors import InvalidInput
from cowin_kit.core.i18n import gettext as _, lazy_gettext

_GTE = "greater than or equal to"
_GT = "greater than"
_LTE = "less than or equal to"
_LT = "less than"

MESSAGES: dict[str, Any] = {
    # Field and Schema
    "Missing data for required field.": lazy_gettext("Missing data for required field."),
    "Field may not be null.": lazy_gettext("Field may not be null."),
    "Invalid value.": lazy_gettext("Invalid value."),
    "Unknown field.": lazy_gettext("Unknown field."),
    "Invalid input type.": lazy_gettext("Invalid input type."),
    "Invalid type.": lazy_gettext("Invalid type."),
    # Types
    "Not a valid string.": lazy_gettext("Not a valid string."),
    "Not a valid utf-8 string.": lazy_gettext("Not a valid utf-8 string."),
    "Not a valid number.": lazy_gettext("Not a valid number."),
    "Number too large.": lazy_gettext("Number too large."),
    "Not a valid integer.": lazy_gettext("Not a valid integer."),
    "Special numeric values (nan or infinity) are not permitted.":
        lazy_gettext("Special numeric values (nan or infinity) are not permitted."),
    "Not a valid boolean.": lazy_gettext("Not a valid boolean."),
    "Not a valid date.": lazy_gettext("Not a valid date."),
    "Not a valid datetime.": lazy_gettext("Not a valid date and time."),
    "Not a valid aware datetime.":
        lazy_gettext("Not a valid date and time with a time zone."),
    "Not a valid naive datetime.":
        lazy_gettext("Not a valid date and time without a time zone."),
    "Not a valid time.": lazy_gettext("Not a valid time."),
    "Not a valid UUID.": lazy_gettext("Not a valid UUID."),
    "Not a valid list.": lazy_gettext("Not a valid list."),
    "Not a valid tuple.": lazy_gettext("Not a valid tuple."),
    "Not a valid mapping type.": lazy_gettext("Not a valid mapping type."),
    "Not a valid email address.": lazy_gettext("Not a valid email address."),
    "Not a valid URL.": lazy_gettext("Not a valid URL."),
    # Validators
    "Shorter than minimum length {min}.": lazy_gettext("Shorter than minimum length %(min)s."),
    "Longer than maximum length {max}.": lazy_gettext("Longer than maximum length %(max)s."),
    "Length must be between {min} and {max}.":
        lazy_gettext("Length must be between %(min)s and %(max)s."),
    "Length must be {equal}.": lazy_gettext("Length must be %(equal)s."),
    f"Must be {_GTE} {{min}}.": lazy_gettext("Must be greater than or equal to %(min)s."),
    f"Must be {_GT} {{min}}.": lazy_gettext("Must be greater than %(min)s."),
    f"Must be {_LTE} {{max}}.": lazy_gettext("Must be less than or equal to %(max)s."),
    f"Must be {_LT} {{max}}.": lazy_gettext("Must be less than %(max)s."),
    f"Must be {_GTE} {{min}} and {_LTE} {{max}}.":
        lazy_gettext("Must be greater than or equal to %(min)s and less than or equal to "
                     "%(max)s."),
    f"Must be {_GT} {{min}} and {_LTE} {{max}}.":
        lazy_gettext("Must be greater than %(min)s and less than or equal to %(max)s."),
    f"Must be {_GTE} {{min}} and {_LT} {{max}}.":
        lazy_gettext("Must be greater than or equal to %(min)s and less than %(max)s."),
    f"Must be {_GT} {{min}} and {_LT} {{max}}.":
        lazy_gettext("Must be greater than %(min)s and less than %(max)s."),
    "Must be one of: {choices}.": lazy_gettext("Must be one of: %(choices)s."),
    "String does not match expected pattern.":
        lazy_gettext("String does not match expected pattern."),
    "Invalid input.": lazy_gettext("Invalid input."),
    "Must be equal to {other}.": lazy_gettext("Must be equal to %(other)s."),
}

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _pattern(template: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(template)  # literal, name, literal, name, ..., literal
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)"
                    for i, part in enumerate(parts))
    return re.compile(regex + r"\Z", re.DOTALL)


_EXACT = {template: text for template, text in MESSAGES.items()
          if not _PLACEHOLDER.search(template)}
# Longest literal text first, so that "Must be greater than {min}." cannot swallow
# "Must be greater than or equal to 1 and less than 9." with min = "or equal to 1 and...".
_PATTERNS = [(_pattern(template), text) for template, text in sorted(
    MESSAGES.items(), key=lambda item: -len(_PLACEHOLDER.sub("", item[0])))
    if _PLACEHOLDER.search(template)]


def translate(message: Any) -> Any:
    """The translation of one of marshmallow's messages; anything else unchanged."""
    if not isinstance(message, str):
        return message
    if message in _EXACT:
        return str(_EXACT[message])
    for pattern, text in _PATTERNS:
        match = pattern.match(message)
        if match:
            return str(text) % match.groupdict()
    return message


def translate_messages(messages: Any) -> Any:
    """``translate`` applied to every message of marshmallow's (nested) error structure."""
    if isinstance(messages, dict):
        return {key: translate_messages(value) for key, value in messages.items()}
    if isinstance(messages, (list, tuple)):
        return [translate_messages(value) for value in messages]
    return translate(messages)


def load(schema: Schema, data: Any | None = None) -> dict[str, Any]:
    """Validated input or InvalidInput with the field errors (nothing gets written)."""
    if data is None:
        data = request.get_json(silent=True)
        if data is None:
            raise InvalidInput(_("The request body must be a JSON object."), code="invalid_json")
    if _has_nul(data):
        # PostgreSQL cannot store NUL characters; no real input contains them.
        raise InvalidInput(_("Text must not contain NUL characters."), code="invalid_input")
    try:
        return schema.load(data)
    except ValidationError as exc:
        # marshmallow's own messages are English: translate them (ours already are).
        fields: dict[str, list[str]] = {}

        def collect(path: str, messages: Any) -> None:  # nested errors -> "items.0.name"
            if isinstance(messages, dict):
                for key, inner in messages.items():
                    collect(f"{path}.{key}" if path else str(key), inner)
                return
            for message in messages if isinstance(messages, list) else [messages]:
                if isinstance(message, dict):
                    collect(path, message)
                else:
                    fields.setdefault(path or "_schema", []).append(str(message))

        collect("", translate_messages(exc.normalized_messages()))
        raise InvalidInput(_("Some fields are missing or not valid."), fields=fields) from None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False
