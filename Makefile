# Two commands for people: `make lab` (learn) and `make test` (check everything).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Jupyter refuses to run as root without being told; CI and containers run as root.
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: venv lab test notebooks sandbox bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP) ## create .venv and install the course (idempotent)

lab: $(STAMP) ## open JupyterLab on the course notebooks
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks $(ROOT_FLAG)

test: $(STAMP) ## run the whole suite: unit, real SMTP, nbval, browser
	$(PY) -m pytest

notebooks: $(STAMP) ## rebuild and execute notebooks/ from lessons/
	$(PY) -m tools.course build

sandbox: $(STAMP) ## run the sandbox alone (app on :5000, mail server delay 0.3 s)
	$(PY) -m sandbox_app --port 5000 --smtp-delay 0.3

bench: $(STAMP) ## print the measured comparison table
	$(PY) -m sandbox_app bench --capture

clean: ## remove the virtual environment
	rm -rf $(VENV)
