# Two commands for a newcomer: `make run` and `make test`. Setup steps are stamped, so re-running
# a target on a ready machine skips them.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test test-browser-repeat bench lint check ingest setup

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
