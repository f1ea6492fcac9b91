# Two commands for people: `make lab` (learn) and `make test` (check everything).
# While working: `make check` (the fast tier, under 45 s) and `make lint` (ruff).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Two installs into one .venv: the course alone for learners (`make lab`), and with the extras that checking
# it needs (`make test`, `check`, `lint`). A stamp each, so switching installs only what is missing: the test
# install also stamps the course's. Add an extra to TEST_EXTRAS (e.g. test,site) when the suite needs it.
TEST_EXTRAS := test,site
STAMP       := $(VENV)/.installed-course
TEST_STAMP  := $(VENV)/.installed-test
SITE_STAMP  := $(VENV)/.installed-site
# The versions tested, one file per Python minor version (`make constraints` writes them); none: pip resolves.
CONSTRAINTS = constraints/py$(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])').txt
PIP_INSTALL = $(PY) -m pip install --quiet $(if $(wildcard $(CONSTRAINTS)),--constraint $(CONSTRAINTS))
# Jupyter refuses to run as root without being told; CI and containers run as root.
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: venv lab test check lint test-deps notebooks site sandbox bench clean constraints

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml $(wildcard constraints/*.txt) | $(VENV)/bin/python
	$(PIP_INSTALL) -e .
	touch $(STAMP)

$(TEST_STAMP): pyproject.toml $(wildcard constraints/*.txt) | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[$(TEST_EXTRAS)]'
	touch $(STAMP) $(TEST_STAMP) $(SITE_STAMP)

$(SITE_STAMP): pyproject.toml $(wildcard constraints/*.txt) | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[site]'
	touch $(STAMP) $(SITE_STAMP)

venv: $(TEST_STAMP) ## create .venv with the course and what its tests need, to work on it (idempotent)

lab: $(STAMP) ## open JupyterLab on the course notebooks
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks $(ROOT_FLAG)

# Both tiers compile the course's modules first, once: where PYTHONDONTWRITEBYTECODE is set (this machine sets it),
# each of the hundreds of Python processes a run starts compiled them again (about 0.08 s each).
COMPILE := $(PY) -m compileall -q sandbox_app quiz

# Two workers, a file each at a time: a notebook's cells stay in one kernel, in order. tests/scheduling.py keeps the
# hub files on one worker and sends the longest files first (--no-loadscope-reorder: not xdist's own order).
# Then the benchmarks marked `alone`, with the machine to themselves: a ratio taken beside the suite's other worker
# measures the other worker too (test_bench_http's went from 0.6 to 0.44 that way).
test: $(TEST_STAMP) test-deps ## run the whole suite: unit, real SMTP, nbval, browser, hub; then the benchmarks alone
	$(COMPILE)
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder -rfEs -m "not alone"
	$(PY) -m pytest tests -n 0 -rfEs -m alone

test-deps: ## install what the browser, hub, Redis and ab tests need (as root; otherwise say what is missing)
	bash tools/install_test_deps.sh

check: $(TEST_STAMP) ## the fast tier: unit and real-SMTP tests; no browser, hub, notebooks, queue workers or gunicorn
	$(COMPILE)
	$(PY) -m pytest tests -n 2 -m "not browser and not hub and not slow" --timeout=60 -rfEs

LINTED := sandbox_app quiz tools tests
lint: $(TEST_STAMP) ## ruff: lint rules and formatting (`ruff format` fixes the second)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

notebooks: $(TEST_STAMP) ## rebuild and execute notebooks/ from lessons/
	$(PY) -m tools.course build

site: $(SITE_STAMP) ## build the course website into site/ from the committed notebooks (offline; npm brings mermaid once)
	$(PY) -m tools.site

sandbox: $(STAMP) ## run the sandbox alone (app on :5000, mail server delay 0.3 s)
	$(PY) -m sandbox_app --port 5000 --smtp-delay 0.3

bench: $(STAMP) ## print the measured comparison table
	$(PY) -m sandbox_app bench --capture

.PHONY: bench-http
bench-http: $(TEST_STAMP) ## ab on /ping: the sandbox against a bare Flask app on waitress, at 1 and 20 clients
	$(PY) -m tools.bench_http

constraints: ## pin the tested versions per Python minor version (constraints/py3.X.txt), each resolved on that Python
	bash tools/constraints.sh

clean: ## remove the virtual environment
	rm -rf $(VENV)
