"""The kit's suite: fixtures come from the cowin_kit.testing plugin (also there for plugin
authors); what is about this repository's checkout is here. Tests are by layer: unit/ (pure
functions), services/, http/, web/, browser/, deploy/, conformance/; `-m "not slow"` skips
the slow ones (`make test-fast`, docs/testing.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["cowin_kit.testing"]

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "countries"


# Whole folders of slow tests: a real browser, Helm/container/demo/migrations, and the
# shared certificate vectors. Single slow tests elsewhere carry @pytest.mark.slow.
SLOW_FOLDERS = ("browser", "deploy", "conformance")


def pytest_collection_modifyitems(items) -> None:
    # Tests marked `postgres` skip on a developer's machine without a server; under CI a
    # missing server is a failure, not a quiet skip of every PostgreSQL guarantee.
    if os.environ.get("CI") == "true" and not os.environ.get("COWIN_KIT_TEST_DATABASE_URL") \
            and any(item.get_closest_marker("postgres") for item in items):
        raise pytest.UsageError("CI=true: tests marked postgres need COWIN_KIT_TEST_DATABASE_URL "
                                "(a PostgreSQL server; .ci/run sets it)")
    here = Path(__file__).parent
    for item in items:
        parts = item.path.relative_to(here).parts if item.path.is_relative_to(here) else ()
        if (parts and parts[0] in SLOW_FOLDERS) or "vectors" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def database_url(migrated_database_url) -> str:
    """Here a migrated database per backend shared by the run (cowin_kit.testing's own
    database_url, an empty one per test, is for the plugins' tests)."""
    return migrated_database_url


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The shared conformance vectors (../shared/vectors or COWIN_KIT_VECTORS). Missing
    vectors skip the tests that need them on a developer's machine, and fail under CI."""
    folder = Path(os.environ.get("COWIN_KIT_VECTORS") or REPO.parent / "shared" / "vectors")
    if not folder.is_dir():
        message = f"conformance vectors not found at {folder}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs() -> None:
    """The kit's .mo files, compiled as `cowin-kit i18n compile` does (they are not in
    git), so a fresh checkout's `pytest` sees translations. Rewrites only what changed."""
    from cowin_kit.cli.i18n_cmd import compile_catalogs

    compile_catalogs()
