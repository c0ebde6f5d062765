# Entry points of the suite. Every target creates and uses .venv in the repo root.
#   make demo       offline demo: synthetic sample + tiny GPT-2 (outputs in demo/)
#   make test       the test suite
#   make repro      the real study (hub data and GPT-2; needs internet, a GPU recommended)
#   make dashboard  the Streamlit dashboard (PORT=8501 by default; STUDY=dir picks the results)
#   make pipelines  regenerate every study's dvc.yaml (demo/, yours) from dvc.yaml, and
#                   demo/params.yaml from params.yaml + demo/params.overrides.yaml (after editing)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.setup-stamp
PORT ?= 8501
export PATH := $(BIN):$(PATH)
# Make every stage import this checkout's code, wherever it runs from.
export PYTHONPATH := $(CURDIR)

.PHONY: setup demo test repro dashboard lint lock clean-demo pipelines

setup: $(STAMP)
	@# Debian's Chromium for the dashboard's real-browser test (tests/dashboard/test_browser.py);
	@# never a browser download. Non-fatal: without it that test skips and says why.
	@test -x /usr/bin/chromium || ! command -v apt-get >/dev/null || \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing chromium (apt-get) for the dashboard's browser test"; \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq --no-install-recommends chromium; } >/dev/null 2>&1 \
			|| echo "warning: could not install chromium; the browser test will skip"; \
		else echo "note: no /usr/bin/chromium; run 'sudo apt-get install chromium' for the browser test"; fi

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $@

demo: setup
	cd demo && dvc repro

# Two test processes (pytest-xdist), a test file's tests in one of them (so its module fixtures
# are built once), files in the order tests/conftest.py gives them; the session's demo runs
# build in the background meanwhile (conftest.py).
test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

repro: setup
	dvc repro

dashboard: setup
	streamlit run dashboard/app.py --server.port $(PORT) --server.headless true \
		$(if $(STUDY),-- --study $(STUDY))

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Recompile the exact lock from pyproject.toml's ranges (needs the package index).
lock: setup
	$(BIN)/pip-compile -q --strip-extras --extra dev --no-header --no-emit-index-url \
		--no-emit-find-links -c lock-constraints.txt -o requirements.lock pyproject.toml

pipelines: setup
	$(BIN)/python -m pipeline.commands.studies

# Only what the pipeline made: files git ignores (DVC lists each output in a .gitignore beside
# it). Tracked files (demo/data/raw/README.md, the .gitignore files) and your own untracked
# files in demo/data/raw stay; `dvc checkout` in demo/ brings the outputs back from the cache.
clean-demo:
	git clean -fdXq -- demo/data demo/models demo/results
