# Rapport: `make run` serves the app, `make test` runs the tests. Both set themselves up.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
FLASK := $(VENV)/bin/flask --app app
# The suite runs in parallel, one pytest-xdist worker per core (docs/development.md). Arguments in
# PYTEST_ARGS come last and win: `make test PYTEST_ARGS="-n 0 tests/unit/test_money.py"`.
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=

.PHONY: run test bench lint clean-venv

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# A stamp per requirements file: pip runs again only when the file changed.
$(VENV)/.runtime-installed: requirements.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

# `crm serve` applies the migrations itself before it starts serving.
run: $(VENV)/.runtime-installed
	exec $(FLASK) crm serve

# Bytecode is cached even where the environment turns it off: each xdist worker would
# otherwise compile the whole app and suite again (7 s of CPU per worker).
test: $(VENV)/.dev-installed
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: $(VENV)/.dev-installed
	$(PY) -m bench

# What CI checks first: lint rules, and formatting (`ruff format .` fixes it).
lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean-venv:
	rm -rf $(VENV)
