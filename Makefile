# Entry points of the suite. Every target creates and uses .venv in the repo root.
#   make demo       offline demo: synthetic sample + tiny GPT-2 (outputs in demo/)
#   make test       the test suite
#   make repro      the real study (hub data and GPT-2; needs internet, a GPU recommended)
#   make dashboard  the Streamlit dashboard (PORT=8501 by default)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.setup-stamp
PORT ?= 8501
export PATH := $(BIN):$(PATH)
# Make every stage import this checkout's code, wherever it runs from.
export PYTHONPATH := $(CURDIR)

.PHONY: setup demo test repro dashboard lint lock clean-demo

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $@

demo: setup
	cd demo && dvc repro

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

repro: setup
	dvc repro

dashboard: setup
	streamlit run dashboard/app.py --server.port $(PORT) --server.headless true

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Recompile the exact lock from pyproject.toml's ranges (needs the package index).
lock: setup
	$(BIN)/pip-compile -q --strip-extras --extra dev --no-header --no-emit-index-url \
		--no-emit-find-links -c lock-constraints.txt -o requirements.lock pyproject.toml

clean-demo:
	rm -rf demo/data demo/models demo/results
