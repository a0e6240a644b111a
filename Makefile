# The README's two commands: `make demo` and `make test`. Each is self-contained on a
# fresh machine with only Python: it creates .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev
# -qq: errors only. setuptools prints an informational note on every editable install
# ("be careful with folders ... same name as your package"); pip errors still show.
PIP    := $(PY) -m pip install -qq

.PHONY: demo test lint format bench soak clean install

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

# the demo runs against the embedded sandbox: the library plus its `sandbox` extra
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) -e ".[sandbox]"
	touch $@

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

## demo: start the embedded sandbox, load usage and history, write out/usage-cost.xlsx
demo: $(VENV)/.installed
	$(PY) -m csframe demo --out out/usage-cost.xlsx

## test: install the dev extra and run the whole pytest suite against a loopback sandbox
test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(STAMP)
	$(PIP) -e ".[bench]"
	$(PY) bench/history_load.py

## soak: 50 journaled sends killed at random under every fault kind; prints duplicates and losses (both must be 0)
soak: $(STAMP)
	$(PY) bench/soak_send.py --trials 50

clean:
	rm -rf out .pytest_cache build *.egg-info
