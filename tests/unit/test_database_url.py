"""A libpq database URL (CloudNativePG's `uri`, most managed services') is read with
psycopg; SQLAlchemy URLs pass unchanged."""

import pytest

from cowin_kit.core.db import sqlalchemy_url


@pytest.mark.parametrize(("given", "used"), [
    ("postgresql://app:pw@cowin-db-rw.health:5432/app",
     "postgresql+psycopg://app:pw@cowin-db-rw.health:5432/app"),
    ("postgres://app:pw@db/app?sslmode=require", "postgresql+psycopg://app:pw@db/app?sslmode=require"),
    ("postgresql+psycopg://app@db/app", "postgresql+psycopg://app@db/app"),
    ("sqlite:///instance/cowin-kit.db", "sqlite:///instance/cowin-kit.db"),
    ("sqlite://", "sqlite://"),
])
def test_sqlalchemy_url(given, used):
    assert sqlalchemy_url(given) == used
