# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo test test-fast faults bench clean

# The example plugins (plugins/*/, each its own distribution) are installed too, so that
# `make test` runs their tests; installed plugins stay off until PLUGINS enables them.
PLUGIN_DISTS := $(wildcard plugins/*/pyproject.toml)

$(INSTALLED): setup.cfg pyproject.toml $(PLUGIN_DISTS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet $(foreach dist,$(PLUGIN_DISTS),-e $(dir $(dist)))
	$(VENV)/bin/cowin-kit i18n compile
	touch $(INSTALLED)

## demo: install into .venv, set up SQLite with the India pack and demo data, serve on :5000
demo: $(INSTALLED)
	$(VENV)/bin/cowin-kit i18n compile
	$(VENV)/bin/cowin-kit demo

## test: the whole suite (tests/ and the example plugins' plugins/*/tests) on SQLite, and
## on PostgreSQL when COWIN_KIT_TEST_DATABASE_URL is set: in TEST_WORKERS processes
## (pytest-xdist; 0 runs in this one), then the fault-injection suite alone, whose load
## and kills must not share the machine with other tests
TEST_WORKERS ?= 2
test: $(INSTALLED)
	$(PY) -m pytest -n $(TEST_WORKERS) -m "not faults"
	$(PY) -m pytest -m faults

## test-fast: the inner loop, SQLite only, without the tests marked slow (browser, deploy,
## conformance vectors, schemathesis, PDF pixels, cowin-kit init) or needing PostgreSQL:
## about half the tests in about 5 minutes on two cores (docs/testing.md)
test-fast: $(INSTALLED)
	COWIN_KIT_TEST_DATABASE_URL= $(PY) -m pytest -n $(TEST_WORKERS) -m "not slow and not postgres"

## faults: the fault-injection suite alone (tests/faults and the fail-over and restore
## drills: gunicorn, the worker, PostgreSQL clusters and Redis of their own; needs root
## for pg_createcluster; about 2 minutes; docs/reliability.md). `make test` runs it too.
faults: $(INSTALLED)
	$(PY) -m pytest -m faults

## bench: every benchmark in bench/ (*.py not starting with _) against the local
## PostgreSQL (COWIN_KIT_BENCH_DATABASE_URL); each installs the tools it needs
bench: $(INSTALLED)
	@set -e; for script in bench/[!_]*.py; do echo "== $$script"; $(PY) $$script; done

clean:
	rm -rf $(VENV) instance .pytest_cache *.egg-info
