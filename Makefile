# Quick start: `make run` (main job) and `make test` (test suite). Both create .venv first.
PYTHON ?= python3
VENV   ?= .venv
# torch is pinned here (a CPU build on this machine's disk); pyproject.toml keeps a range for users.
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= quick
OUT    ?= results
# e.g. WORKERS=2: train the missing runs on a local Dask cluster of that many processes
WORKERS ?=
# pytest arguments of `make test` / `make test-all`: 2 pytest-xdist workers by default (the suite's
# 10-minute budget is for 2 cores); PYTEST_ARGS= runs in one process, PYTEST_ARGS="-n 2 -k coverage" selects
PYTEST_ARGS ?= -n 2
# Hypothesis profile of `make test-all` (tests/conftest.py: ci, dev, thorough)
TEST_ALL_PROFILE ?= thorough

.PHONY: install run ledger test test-all test-e2e bench clean minilm-data minilm

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[all]'
	touch $(STAMP)

# main job: the theory bound checks, every figure and table of the paper, and the claims
# ledger, all from one result store (PROFILE=paper for the paper's schedules: hours)
run: $(STAMP)
	$(BIN)/python -m fpe_theory.simulate --quick --model all
	$(BIN)/python -m paper_figures --profile $(PROFILE) --store $(OUT)/store --out $(OUT)/figures $(if $(WORKERS),--workers $(WORKERS))
	$(BIN)/python -m validation --profile $(PROFILE) --store $(OUT)/store --out $(OUT)/validation
	@echo "figures: $(OUT)/figures/index.md; claims: $(OUT)/validation/report.md"

# the published claims ledger (docs/validation) and README's claims block generated from it
ledger: $(STAMP)
	$(BIN)/python -m validation --profile $(PROFILE) --store $(OUT)/store --out docs/validation
	$(BIN)/python -m validation --readme

# the real text task (issue 18), offline: the docstring corpus + all-MiniLM-L6-v2 embeddings
# into the store (~17 min on 2 loaded cores), then its experiments: FPE inside MiniLM
# (fine-tuning, ~25 min) and the vision claims on the embeddings (rows @minilm-docstrings)
minilm-data: $(STAMP)
	$(BIN)/python -m fpe_empirical.text_embed --store $(OUT)/store

minilm: minilm-data
	$(BIN)/python -m fpe_empirical.text_finetune --store $(OUT)/store --out $(OUT)/figures
	$(BIN)/python -m validation --profile $(PROFILE) --store $(OUT)/store --out $(OUT)/validation-minilm \
		--only $$($(BIN)/python -m validation --list | awk '/@minilm-docstrings/ {print $$1}')
	$(BIN)/python -m paper_figures --profile $(PROFILE) --store $(OUT)/store --out $(OUT)/figures-minilm --only fig5 \
		--embeddings digits --embeddings $(OUT)/store/data/minilm-docstrings/embeddings.safetensors

# the default suite (no slow tests), Hypothesis profile $HYPOTHESIS_PROFILE (default ci: derandomized)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# what `make run` runs (quick profile) end to end from a fresh store, checked (a slow test;
# ~9 min on a loaded 2-core machine): CI runs it after `make test`
test-e2e: $(STAMP)
	$(BIN)/python -m pytest -q -p no:xdist -m slow tests/test_end_to_end.py

# nightly-style: every test, slow ones included, with the thorough Hypothesis profile (random, 10x the examples)
test-all: $(STAMP)
	HYPOTHESIS_PROFILE=$(TEST_ALL_PROFILE) $(BIN)/python -m pytest -m "" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
