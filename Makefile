# Two entry points (see README): `make demo` and `make test`.
# Both bootstrap .venv from pyproject.toml; nothing is installed by hand.
PY ?= python3
# `make demo PORT=8200`: the web port; links and the sandbox follow it (README, "A tour of the demo").
PORT ?= 8000
# `make demo RESET=1`: start the demo over from an empty database (else the data is kept).
RESET ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,sandbox]'
	touch $(STAMP)

# Debian's Chromium for the page tests; installed once per machine.
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null

# Debian's wrk, the load generator of bench/redirect.py; installed once per machine.
/usr/bin/wrk:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null

# The demo's Kominfo admin runs the instance (channel credentials, agency networks).
demo: $(STAMP)
	$(BIN)/gaung demo --port $(PORT)$(if $(RESET), --reset --yes)
	GAUNG_AUTH__OPERATORS='["admin@kominfo.go.id"]' $(BIN)/gaung serve --sandbox --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP) /usr/bin/chromium lint
	$(BIN)/pytest -n 2 --dist loadgroup

bench: $(STAMP) /usr/bin/wrk
	$(BIN)/python bench/dispatch.py
	$(BIN)/python bench/redirect.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
