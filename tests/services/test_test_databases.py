"""The cowin_kit.testing plugin's shared database: a closed test app leaves its pack's
places for the next app of the same pack, and nothing else."""

from __future__ import annotations

from sqlalchemy import create_engine, func, select

from cowin_kit.config.models import InstalledPack
from cowin_kit.config.packs import load_pack
from cowin_kit.geography.models import Facility, Location, PostalCode
from cowin_kit.testing import close_reg_app, make_reg_app, publish
from cowin_kit.testing.databases import forget_kept_places, kept_places

from conftest import EXAMPLES


def _counts(url):
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return tuple(connection.scalar(select(func.count()).select_from(model))
                         for model in (Location, PostalCode, InstalledPack, Facility))
    finally:
        engine.dispose()


def test_the_places_of_a_closed_app_serve_the_next_app_of_the_same_pack(
        database_url, tmp_path, india_pack):
    app = make_reg_app(database_url, tmp_path / "one", india_pack)
    publish(app)
    close_reg_app(app)
    places = len(india_pack.locations)
    pairs = sum(len(row.postal_codes) for row in india_pack.locations)
    assert _counts(database_url) == (places, pairs, 1, 0)     # the facility is gone
    again = make_reg_app(database_url, tmp_path / "two", india_pack)
    assert _counts(database_url) == (places, pairs, 1, 0)
    close_reg_app(again)
    # another pack: the places left are emptied first
    uae = load_pack(EXAMPLES / "ae")
    other = make_reg_app(database_url, tmp_path / "three", uae)
    assert _counts(database_url)[0] == len(uae.locations)
    close_reg_app(other)
    forget_kept_places()  # what a test without reg_app starts with
    assert _counts(database_url) == (0, 0, 0, 0)
    engine = create_engine(database_url)
    assert kept_places(engine) is None
    engine.dispose()
