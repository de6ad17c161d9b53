"""What a test needs from the machine: a command-line tool, the kit's example packs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

__all__ = ["example_pack", "need_tool", "skip_or_fail"]


def skip_or_fail(message: str) -> None:
    """Skip the test; under CI=true fail it instead (a CI run must not pass by skipping)."""
    (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(message)


def need_tool(command: str, package: str) -> None:
    """Skip the test when ``command`` (from Debian's ``package``) is missing; under CI=true
    fail instead (.ci/run installs it)."""
    if shutil.which(command) is None:
        skip_or_fail(f"{command} ({package}) is not installed")


def example_pack(code: str) -> Path:
    """The folder of the kit's example pack ``code`` (e.g. "IN"); skips the test where the
    example packs are not installed, fails it under CI=true."""
    from cowin_kit.config.examples import example_packs

    packs = example_packs()
    if code not in packs:
        skip_or_fail(f"the example country pack {code} of the cowin-kit repository is needed")
    return packs[code]
