# Two commands do all the set-up on a fresh Debian / Python 3.11 machine:
#   make demo   installs what is missing, runs the main job on embedded defaults
#   make test   installs what is missing, runs the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test test-unit test-integration lint bench bench-models clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/streamtune demo

test: install
	$(PY) -m pytest -q -p no:cacheprovider

test-unit: install
	$(PY) -m pytest -q tests/unit

test-integration: install
	$(PY) -m pytest -q tests/integration

lint: install
	$(VENV)/bin/ruff check streamtune tests benchmarks
	$(VENV)/bin/mypy

bench: install
	$(PY) benchmarks/produce.py
	$(PY) benchmarks/pipeline.py

bench-models: install
	$(PY) benchmarks/score.py
	$(PY) benchmarks/tagger.py
	$(PY) benchmarks/train.py --sweep

clean:
	rm -rf $(VENV) .streamtune .pytest_cache .mypy_cache .ruff_cache
