# Set-up and checks. `make test` builds .venv on first use, so it is the one test command.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch (a local wheel on the project's machines). GPU users: README, "GPU".
TORCH_SPEC ?= torch==2.13.0

.PHONY: install test lint format bench demo demo-report

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The main job: build demo/ and serve the annotation page (Ctrl-C stops it).
demo: $(VENV)/.installed
	$(VENV)/bin/evaltool demo --dir demo

# The example report in reports/, from simulated labels (marked as such).
demo-report: $(VENV)/.installed
	rm -rf .demo-report
	$(VENV)/bin/evaltool demo --dir .demo-report --simulate-labels --report-out reports/demo-simulated
	rm -rf .demo-report

bench: $(VENV)/.installed
	$(PY) bench/report.py
	$(PY) bench/annotate_load.py
	$(PY) bench/generate.py
