# Set-up and the two everyday jobs. Everything the project needs is installed from here:
# a virtualenv with the package and its test extras, and Debian's chromium for the browser tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test setup browser bench clean

## demo: set up, then serve the demo workspace (embedded: files + SQLite, no network)
demo: setup
	$(BIN)/teamrec serve

## test: set up (incl. chromium for the browser tests), then run the whole test suite
test: setup browser
	$(BIN)/python -m pytest

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,bench,slack]'
	touch $(STAMP)

## browser: Debian's chromium for the Playwright tests (needs root or sudo on a fresh machine)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

## bench: the speed benchmarks, side by side with the peer libraries, then the service load test
bench: setup
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done
	$(BIN)/python benchmarks/load_test.py --seconds 20

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
