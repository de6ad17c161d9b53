"""DCC JSON schema validation against the published ehn-dcc-schema files.

The kit ships no copy of the schema: point `DccSchema` at a `combined-<version>.json`
file, or at a folder of them (the newest is used — a current verifier checks every
certificate against the current schema, which is what also rejects a DCC holding more
than one of v/t/r). Compiled validators are cached per path."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator

_VERSION = re.compile(r"combined-(\d+)\.(\d+)\.(\d+)\.json$", re.IGNORECASE)


class DccSchema:
    """A compiled DCC schema. `validate(dcc)` returns the list of problems (empty: ok)."""

    def __init__(self, schema: dict, version: str | None = None) -> None:
        Draft202012Validator.check_schema(schema)
        self.version = version
        self._validator = Draft202012Validator(schema)

    @classmethod
    def load(cls, path: str | Path, version: str | None = None) -> "DccSchema":
        return _load(str(Path(path).resolve()), version)

    def validate(self, dcc: dict) -> list[str]:
        problems = []
        for error in self._validator.iter_errors(dcc):
            where = "/".join(str(part) for part in error.absolute_path) or "(root)"
            problems.append(f"{where}: {error.message}")
        return problems


def _versions(folder: Path) -> dict[tuple[int, ...], Path]:
    found = {}
    for candidate in folder.iterdir():
        match = _VERSION.search(candidate.name)
        if match:
            found[tuple(int(part) for part in match.groups())] = candidate
    return found


@lru_cache(maxsize=16)
def _load(path: str, version: str | None) -> DccSchema:
    target = Path(path)
    if target.is_dir():
        versions = _versions(target)
        if not versions:
            raise FileNotFoundError(f"no combined-<version>.json schema in {target}")
        if version:
            key = tuple(int(part) for part in version.split("."))
            if key not in versions:
                raise FileNotFoundError(f"no DCC schema {version} in {target}")
        else:
            key = max(versions)
        target = versions[key]
        version = ".".join(str(part) for part in key)
    schema = json.loads(target.read_text(encoding="utf-8"))
    return DccSchema(schema, version)
