SHELL := /bin/bash
.DEFAULT_GOAL := help

# TFT, TFMA and the models need Keras 2; this must be set before Python starts.
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 3
export UV_PYTHON_DOWNLOADS := never
export PYTHONDONTWRITEBYTECODE := 1

UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
STAMP := $(VENV)/.bcpipe-installed
PYTEST_ARGS ?=

.PHONY: help env demo test test-fast lint bench clean debian-packages

help:
	@echo "make demo   - set up .venv and run the pipelines on the bundled data"
	@echo "make test   - set up .venv, run ruff and the whole test suite"
	@echo "make bench  - run the benchmarks in bench/"

# uv is installed into a private venv so that no pyenv shim or global tool is needed.
$(UV):
	python3 -m venv .uv
	.uv/bin/pip install --quiet "uv==$(UV_VERSION)"

# Compiled at install: nothing here writes bytecode, so each Python process (every test's
# `bcpipe`, every Beam worker) would otherwise compile TF and TFX from source as it starts.
$(STAMP): pyproject.toml uv.lock Makefile | $(UV)
	$(UV) sync --frozen --extra dev --python "$$(cat .python-version)" --compile-bytecode
	touch $@

env: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/bcpipe demo

# Debian packages the tests run: Chromium, which the review report's page test drives
# through Playwright (a browser build of Playwright's own cannot be fetched here), and
# openssl, which makes the certificate of the Kubeflow harness's fake GCS (tests/fake_gcs.py).
debian-packages:
	@command -v chromium >/dev/null && command -v openssl >/dev/null || { apt-get update \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		chromium openssl; }

test: $(STAMP) debian-packages
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(VENV)/bin/pytest -m "not e2e" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/python -m bench.run_all

clean:
	rm -rf runs tests/artifacts bench/work
