"""A lock held across processes: tests on a server of the machine's that they change (the
machine's Redis, whose databases they empty) hold it, so that pytest-xdist workers (and
another test run on the same machine) take turns."""

from __future__ import annotations

import fcntl
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["machine_lock"]


@contextmanager
def machine_lock(name: str) -> Iterator[None]:
    """Hold the lock ``name`` (a file in the system's temporary folder) until the block
    ends; waits while another process holds it."""
    path = Path(tempfile.gettempdir()) / f"cowin-kit-tests-{name}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
