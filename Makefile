# Two entry points: `make demo` (local server + demo feeds + JupyterLab on the tutorials)
# and `make test` (installs everything the tests need, then runs them all).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PEERS := tests/peers

.PHONY: demo test install python-deps node-peers system-deps bench lint

demo: python-deps
	$(PY) -m pusher_nb.demo

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

install: python-deps node-peers system-deps

python-deps: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,lab,parquet]'
	touch $@

node-peers: $(PEERS)/node_modules/.installed

$(PEERS)/node_modules/.installed: $(PEERS)/package.json $(PEERS)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 (apt-get install nodejs npm)"; exit 1; }
	cd $(PEERS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the browser tests and redis-server for the soketi cluster tests.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing$$missing: install with apt-get as root; the tests that need them will fail under CI=true"; \
	  fi; \
	fi

bench: install
	$(PY) -m benchmarks

lint: python-deps
	$(PY) -m ruff check pusher_nb tests benchmarks
