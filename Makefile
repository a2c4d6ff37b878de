# Set-up and the two everyday jobs. Everything the project needs is installed from here:
# a virtualenv with the package, every extra and the test tools, at the exact versions of
# constraints.txt, Debian's chromium for the browser tests, and Debian's PostgreSQL server
# binaries and a Java runtime for the store and Spark tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
EXTRAS := all,test,bench

.PHONY: demo test lint setup lock browser system bench clean

## demo: set up, then serve the demo workspace (embedded: files + SQLite, no network)
demo: setup
	$(BIN)/teamrec serve

## test: set up (chromium, PostgreSQL, Java), check the code, then run the whole test suite
test: setup browser system lint
	$(BIN)/python -m pytest

## lint: ruff and mypy, configured in pyproject.toml
lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) -c constraints.txt -e '.[$(EXTRAS)]'
	touch $(STAMP)

## lock: refresh constraints.txt from a fresh virtualenv with the newest versions pyproject.toml allows
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'
	{ echo "# Exact versions the tests ran with; 'make lock' refreshes this file, 'make setup' installs with it."; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable --disable-pip-version-check | sort -f; } > constraints.txt
	rm -rf .lock-venv

## browser: Debian's chromium for the Playwright tests (needs root or sudo on a fresh machine)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

## system: PostgreSQL server binaries (the store tests start their own server) and a Java
## runtime for PySpark, from Debian, when missing (needs root or sudo on a fresh machine)
system:
	@{ ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; } && \
	  command -v java >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  PG=$$(apt-cache policy postgresql-15 | grep -q 'Candidate: [0-9]' && echo postgresql-15 || echo postgresql); \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$PG default-jre-headless >/dev/null; }

## bench: the speed benchmarks, side by side with the peer libraries, then the service load test
bench: setup
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done
	$(BIN)/python benchmarks/load_test.py --seconds 20

clean:
	rm -rf $(VENV) .lock-venv build *.egg-info .pytest_cache .mypy_cache .ruff_cache
