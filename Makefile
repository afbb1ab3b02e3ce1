# Herald: `make dev` runs everything, `make test` runs the suite. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
BENCH_ARGS ?=
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browser dev test lint format bench screenshots clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: install
	$(BIN)/herald dev

# The console's browser tests drive Debian's Chromium (Playwright's own browser download
# needs the network): installed once, when missing.
browser:
	@test -x $(CHROMIUM) || { echo "Installing Debian's chromium for the console's browser tests"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: install browser
	$(BIN)/python -m pytest

# docs/console-overview.png and docs/console-message.png, from a minute of simulated traffic.
screenshots: install browser
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/console_screenshots.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The load benchmark (not a test): `make bench BENCH_ARGS="--messages 200"`; see bench/run.py.
bench: install $(BENCH_STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

clean:
	rm -rf $(VENV) .herald .pytest_cache .mypy_cache .ruff_cache
