"""Seeds of randomly sampled tests: the same in every process of one run (pytest-xdist's
workers must collect the same tests), new on every run, and given back by name."""

from __future__ import annotations

import os
import random

__all__ = ["run_seed"]


def run_seed(variable: str) -> int:
    """The seed named by the environment variable ``variable`` if set (to re-run a failing
    sample); else one derived from pytest-xdist's run id, which every worker of a run
    shares; else a new random one."""
    given = os.environ.get(variable)
    if given:
        return int(given)
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run_id:
        return int(run_id, 16) % 2**32
    return random.randrange(2**32)
