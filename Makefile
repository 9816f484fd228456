# One task runner for the README, CI and developers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint format bench-import bench-brief bench-forecast bench-web clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Debian packages the tests use, as command:package. pdftoppm turns the PDF brief into PNG
# pages for its test; chromium is the real browser of the web app's browser tests.
DEBIAN_TOOLS := pdftoppm:poppler-utils chromium:chromium

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,postgres,pdf,web]'
	@missing=; for pair in $(DEBIAN_TOOLS); do \
		command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then sudo=; \
		elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
		else sudo=none; fi; \
		if [ "$$sudo" = none ]; then \
			echo "missing Debian packages:$$missing, and they cannot be installed (not root, no sudo):"; \
			echo "  run 'apt-get install$$missing' as root, or the tests that need them are skipped"; \
		else \
			echo "installing$$missing with $${sudo:+sudo }apt-get"; \
			{ $$sudo apt-get update -qq && \
			  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } || \
			echo "could not install$$missing: the tests that need them are skipped until they are installed"; \
		fi; \
	fi
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(BIN)/quarterdeck demo

test: $(INSTALLED)
	$(BIN)/python -m pytest -q

lint: $(INSTALLED)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src/quarterdeck

format: $(INSTALLED)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench-import: $(INSTALLED)
	$(BIN)/python bench/import_1m.py

bench-brief: $(INSTALLED)
	$(BIN)/python bench/brief_1m.py

# One OpenMP thread: the trees' threads lose far more than they gain on a busy small machine.
bench-forecast: $(INSTALLED)
	OMP_NUM_THREADS=1 $(BIN)/python bench/forecast_sim.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/forecast_sim.py --seeds 7 --deals 100000
	OMP_NUM_THREADS=1 $(BIN)/python bench/forecast_maven.py
	OMP_NUM_THREADS=1 $(BIN)/python bench/ibm_winloss.py

bench-web: $(INSTALLED)
	$(BIN)/python bench/web_load.py
	$(BIN)/python bench/web_load.py --writes 0.01

clean:
	rm -rf $(VENV) demo bench/out .pytest_cache
