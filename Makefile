# One task runner for the README, CI and developers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint format bench-import bench-brief bench-forecast clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pdftoppm (Debian package poppler-utils) turns the PDF brief into PNG pages for its test.
$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,postgres,pdf]'
	@if command -v pdftoppm >/dev/null 2>&1; then :; \
	else \
		if [ "$$(id -u)" = 0 ]; then sudo=; \
		elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
		else sudo=none; fi; \
		if [ "$$sudo" = none ]; then \
			echo "pdftoppm is missing and poppler-utils cannot be installed (not root, no sudo):"; \
			echo "  run 'apt-get install poppler-utils' as root, or the PDF test is skipped"; \
		else \
			echo "installing poppler-utils (pdftoppm) with $${sudo:+sudo }apt-get"; \
			{ $$sudo apt-get update -qq && \
			  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; } || \
			echo "could not install poppler-utils: the PDF test is skipped until pdftoppm is installed"; \
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

clean:
	rm -rf $(VENV) demo bench/out .pytest_cache
