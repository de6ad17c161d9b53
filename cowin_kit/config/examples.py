"""Finding the example country packs shipped in the repository (examples/countries/)."""

from __future__ import annotations

import os
from pathlib import Path

import cowin_kit


def examples_dir() -> Path | None:
    candidates = []
    if os.environ.get("COWIN_KIT_EXAMPLES_DIR"):
        candidates.append(Path(os.environ["COWIN_KIT_EXAMPLES_DIR"]))
    candidates += [Path.cwd() / "examples" / "countries",
                   Path(cowin_kit.__file__).resolve().parents[1] / "examples" / "countries"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


def example_packs() -> dict[str, Path]:
    """Country code (upper case) -> pack folder."""
    root = examples_dir()
    if root is None:
        return {}
    return {p.name.upper(): p for p in sorted(root.iterdir()) if (p / "pack.yaml").is_file()}
