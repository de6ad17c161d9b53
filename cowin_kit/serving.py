"""What a serving process does once, after building the app and before taking requests
(`cowin_kit.wsgi`, and the benchmarks that time requests in-process)."""

from __future__ import annotations

import gc

from flask import Flask
from sqlalchemy.orm import configure_mappers

# A young-generation collection every 700 new objects (Python's default) means an
# availability answer (~1,000 objects) sets off one or two per request, and every ~70th
# request a full collection (6-8 ms measured). Ten times fewer collections cost a few MB.
GC_THRESHOLDS = (7000, 20, 20)


def settle(app: Flask) -> Flask:
    # Mappers are otherwise configured by the first query, after the fork and the freeze:
    # their objects would then be walked by every full collection of every worker.
    configure_mappers()
    # What start-up made (modules, mappers, settings, templates) lives as long as the
    # process: move it out of the cyclic collector's reach, so that its full collections do
    # not walk it each time (findByDistrict p99 at 100k facilities: 105 -> 28 ms, see
    # docs/performance.md, Scale).
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return app
