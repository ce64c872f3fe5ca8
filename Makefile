# The two commands of the README: `make run` and `make test`. Each builds .venv from nothing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint setup

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: on the project's machines this takes a CPU build from local disk,
	# where an unpinned requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,bench,catboost,mlflow]'
	# Bytecode now, as a wheel install would have it: where PYTHONDONTWRITEBYTECODE is set, the
	# checkout would otherwise be compiled again at every start of the console.
	$(BIN)/python -m compileall -q huracan_tui brain scheduler engine themes
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/huracan-tui

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy scheduler/services brain
	$(BIN)/pytest -q -n 2 --dist loadfile
