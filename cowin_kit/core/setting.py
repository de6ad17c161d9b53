"""What a setting is: its declaration (:class:`Setting`), how a raw value is parsed, and the
error a wrong one raises. The kit's own settings are declared in cowin_kit.config.settings,
a plugin's in its ``Plugin.settings``; both use this type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

ENV_PREFIX = "COWIN_KIT_"


class SettingsError(Exception):
    """A setting is unknown, missing or has a value of the wrong type."""


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _parse_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("expected a whole number")
    if isinstance(raw, int):
        return raw
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ValueError("expected a whole number") from None


def _parse_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("expected a number")
    if isinstance(raw, (int, float)):
        return float(raw)
    try:
        return float(str(raw).strip())
    except ValueError:
        raise ValueError("expected a number") from None


def _parse_str(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    raise ValueError("expected text")


def _parse_list(raw: Any) -> list[str]:
    if isinstance(raw, list):
        if not all(isinstance(item, str) for item in raw):
            raise ValueError("expected a list of text items")
        return [item.strip() for item in raw if item.strip()]
    if isinstance(raw, str):
        return [item.strip() for item in raw.split(",") if item.strip()]
    raise ValueError("expected a comma-separated list")


PARSERS: dict[str, Callable[[Any], Any]] = {
    "str": _parse_str,
    "int": _parse_int,
    "float": _parse_float,
    "bool": _parse_bool,
    "list": _parse_list,
}


@dataclass(frozen=True)
class Setting:
    key: str
    type: str
    default: Any
    description: str
    secret: bool = False
    choices: tuple[str, ...] = ()

    @property
    def env_name(self) -> str:
        return ENV_PREFIX + self.key

    def parse(self, raw: Any) -> Any:
        try:
            value = PARSERS[self.type](raw)
        except ValueError as exc:
            raise SettingsError(f"{self.key}: {exc} (got {self.display(raw)!s})") from None
        if self.choices and value not in self.choices:
            raise SettingsError(
                f"{self.key}: must be one of {', '.join(self.choices)} (got {value!r})"
            )
        return value

    def display(self, value: Any) -> str:
        if self.secret and value:
            return "********"
        return repr(value)
