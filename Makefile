# Set-up and checks. `make test` builds .venv on first use, so it is the one test command;
# `make check` is the inner loop: lint and the fast tests (no browser, PostgreSQL, servers or
# slow tests), in under two minutes on two cores.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Exact versions of everything evaltool, its tests and its crowd extra install: what CI tested
# is what you get.
LOCK := requirements.lock
# The lock names the CPU build of torch (a local wheel on the project's machines). A torch that
# is already in the venv is kept (GPU users: README, "torch"); TORCH_SPEC replaces the lock's.
TORCH_SPEC ?=

.PHONY: install test check lint format bench demo demo-report docs lock golden golden-ac1 migration axe \
	screenshots

$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	if [ -n "$(TORCH_SPEC)" ]; then $(PY) -m pip install -q "$(TORCH_SPEC)"; fi
	if $(PY) -c "import torch" 2>/dev/null; then grep -v '^torch==' $(LOCK); else cat $(LOCK); fi \
		> $(VENV)/lock.txt
	$(PY) -m pip install -q -r $(VENV)/lock.txt
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m pip check
	touch $@

install: $(VENV)/.installed

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q

FAST := not slow and not browser and not postgres

check: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q -m "$(FAST)"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The main job: build demo/ and serve the annotation page (Ctrl-C stops it).
demo: $(VENV)/.installed
	$(VENV)/bin/evaltool demo --dir demo

# axe-core, the accessibility rules the browser tests run on the page (npm, into .node/).
AXE_VERSION := 4.11.0
axe: .node/node_modules/axe-core/axe.min.js
.node/node_modules/axe-core/axe.min.js:
	npm install --silent --no-save --no-audit --no-fund --prefix .node axe-core@$(AXE_VERSION)

# The README's pictures of the labelling page, made from the demo (needs chromium).
screenshots: $(VENV)/.installed
	$(PY) docs/screenshots.py

# The documentation site, in strict mode (a broken link or a missing page fails), into site/.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

# The example report in reports/, from simulated labels (marked as such).
demo-report: $(VENV)/.installed
	rm -rf .demo-report
	$(VENV)/bin/evaltool demo --dir .demo-report --simulate-labels --report-out reports/demo-simulated
	rm -rf .demo-report

# Refresh the lock from the newest releases on PyPI, then run the whole suite on them.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q "$(or $(TORCH_SPEC),torch==2.13.0)"
	.venv-lock/bin/pip install -q -e ".[test,crowd,hub,docs]"
	{ echo "# make lock: exact versions for make install, make test and CI (torch: the CPU build)"; \
	  .venv-lock/bin/pip freeze --all --exclude-editable | sed -e 's/+cpu$$//' \
	    | grep -v -e '^evaltool' -e '^pip=='; \
	} > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf .venv-lock $(VENV)
	$(MAKE) test

# A new migration from the difference between schema.py and the newest migration.
migration: $(VENV)/.installed
	test -n "$(MESSAGE)" || { echo 'usage: make migration MESSAGE="what changed"'; exit 2; }
	$(PY) -c "from evaltool.storage.db import autogenerate_migration as a; print(a('$(MESSAGE)'))"

# Golden token ids of the card's decoding rule from transformers 4.25.1 itself (its own venv).
golden:
	test -x .venv-tf425/bin/python || $(PYTHON) -m venv .venv-tf425
	.venv-tf425/bin/pip install -q torch==2.13.0 transformers==4.25.1
	.venv-tf425/bin/python tests/golden/make_golden.py

# Golden values of Gwet's AC1 from the irrCAC package itself (its own venv: it pins pandas < 3).
golden-ac1:
	test -x .venv-irrcac/bin/python || $(PYTHON) -m venv .venv-irrcac
	.venv-irrcac/bin/pip install -q irrCAC==0.4.4
	.venv-irrcac/bin/python tests/golden/make_ac1.py

bench: $(VENV)/.installed
	$(PY) bench/report.py
	$(PY) bench/annotate_load.py
	$(PY) bench/generate.py
