"""Entry point for WSGI servers: `gunicorn cowin_kit.wsgi:app`."""

import gc

from sqlalchemy.orm import configure_mappers

from cowin_kit import create_app

app = create_app()
# Mappers are otherwise configured by the first query, after the fork and the freeze below:
# their objects would then be walked by every full collection of every worker.
configure_mappers()

# What start-up made (modules, mappers, settings, templates) lives as long as the process:
# move it out of the cyclic garbage collector's reach, so that its full collections, which
# a request making many objects (an availability answer) sets off, do not walk it each
# time. Measured: p99 of findByDistrict at 100k facilities 105 -> 28 ms (docs/performance.md).
gc.collect()
gc.freeze()
