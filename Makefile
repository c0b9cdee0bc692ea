# Two commands for a newcomer: `make run` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NS := .build/ns/parley
PARTS := domain projections bridge http tools eventstore

.PHONY: run test lint typecheck pytest setup chromium bench clean

run: setup chromium
	$(BIN)/parley run

test: setup chromium lint typecheck pytest

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Parley needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Debian's Chromium drives the WhatsApp Web bridge and the browser tests.
# Playwright's own browser download cannot work on these machines.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
	      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; \
	  else \
	    echo "chromium is not installed and cannot be installed here (need root and apt-get);" \
	         "browser tests will be skipped and the WhatsApp Web bridge will not start"; \
	  fi; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy cannot follow pyproject's folder-to-package mapping, so it reads the
# parts through a tree of symlinks named the way they are imported.
typecheck: setup
	@mkdir -p $(NS)
	@for part in $(PARTS); do ln -sfn ../../../$$part $(NS)/$$part; done
	MYPYPATH=.build/ns $(BIN)/mypy -p parley

pytest: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m parley.tools.bench.append

clean:
	rm -rf .build $(VENV) .mypy_cache .pytest_cache .ruff_cache
