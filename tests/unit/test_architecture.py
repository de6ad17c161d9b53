"""The architecture's import rules (docs/architecture.md): layers that import only downward,
no circles between sibling modules, and no module using another package's private names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "cowin_kit"


def test_import_contracts_hold():
    """import-linter's contracts in setup.cfg: the layers and acyclic siblings."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), str(ROOT / "setup.cfg"), "--no-cache"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _owner(module: str) -> str:
    """The package a name belongs to: cowin_kit.<first level>, or a module of core (each
    core module is its own owner)."""
    parts = module.split(".")
    return ".".join(parts[:3] if parts[1:2] == ["core"] else parts[:2])


def private_uses(source: str, module: str, is_package: bool = False) -> list[str]:
    """Underscore names this module takes from another cowin_kit package: imported
    (``from x import _y``) or reached through an imported module (``x._y``)."""
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    found: list[str] = []
    imported_modules: dict[str, str] = {}  # local name -> module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("cowin_kit"):
                continue
            for alias in node.names:
                local = alias.asname or alias.name
                imported_modules[local] = f"{target}.{alias.name}"
                if (alias.name.startswith("_") and not alias.name.startswith("__")
                        and alias.name != "_"  # not private: gettext's conventional name
                        and _owner(target) != _owner(module)):
                    found.append(f"{module} imports {target}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cowin_kit"):
                    imported_modules[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            target = imported_modules.get(node.value.id)
            if target and _owner(target) != _owner(module):
                found.append(f"{module} uses {target}.{node.attr}")
    return found


@pytest.mark.parametrize(("source", "module", "expected"), [
    ("from cowin_kit.audit.services import _current_actor", "cowin_kit.api.staff", 1),
    ("from cowin_kit.audit.services import current_actor", "cowin_kit.api.staff", 0),
    ("from cowin_kit.scheduling import booking\nbooking._live(1)", "cowin_kit.web.x", 1),
    ("from cowin_kit.scheduling import booking\nbooking._live(1)",
     "cowin_kit.scheduling.sessions", 0),
    ("from .rules import _x", "cowin_kit.scheduling.booking", 0),
    ("from cowin_kit.core.i18n import gettext as _", "cowin_kit.identity.rules", 0),
    ("import cowin_kit.core.db as db\ndb._engine", "cowin_kit.cli.x", 1),
])
def test_private_use_detection(source, module, expected):
    assert len(private_uses(source, module)) == expected


# Being removed (issue 20): each entry is a private name still used across packages.
KNOWN: set[str] = set()


def test_no_private_names_across_packages():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        found += private_uses(path.read_text(encoding="utf-8"), _module_name(path),
                              path.name == "__init__.py")
    assert sorted(set(found) - KNOWN) == []
    assert sorted(KNOWN - set(found)) == []  # a fixed one leaves the list
