# Two commands set up everything on a fresh machine:
#   make demo   — virtual environment, install, run the main job on the bundled data
#   make test   — the same set-up with the dev extras, then the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= 2.13.0

.PHONY: demo test lint catalog notebooks docs bench bench-quick bench-deps fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Install the CPU build of torch first where the machine has one, so that the unpinned
# `torch>=2.3` requirement is already met and no CUDA packages are downloaded.
$(VENV)/.torch: | $(BIN)/python
	$(BIN)/python -m pip install --quiet "torch==$(TORCH)" || \
	  echo "note: torch $(TORCH) (CPU build) not found; pip will choose a torch>=2.3 build"
	@touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

demo: $(VENV)/.installed
	$(BIN)/genzoo tour --quick --out runs/tour

# tests/test_report_browser.py and tests/test_lab_browser.py open the reports and the lab in headless
# Chromium, from the system's packages
test: $(VENV)/.installed
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  (apt-get install -y chromium >/dev/null 2>&1 || sudo apt-get install -y chromium >/dev/null 2>&1) || \
	  echo "note: chromium is not installed and could not be; the browser tests will say so"
	$(BIN)/python -m pytest

# the linter's rules (line length 110 included) and the formatter's layout, as CI checks them
lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/ruff format --check src tests benchmarks docs

# the tutorial notebooks (docs/tutorials), each run top to bottom at full size in a fresh kernel, with
# its time (about 5 minutes; CI runs it after the tests); the executed copies go to build/notebooks,
# from which the site shows their outputs
notebooks: $(VENV)/.installed
	$(BIN)/python docs/tutorials/run.py --out build/notebooks

# the documentation site in build/site (open build/site/index.html), strict: a broken link, a missing
# reference or a warning fails it; offline. The tutorials show the outputs of the last `make notebooks`,
# else of a quick run made here (about 1.5 minutes).
docs: $(VENV)/.installed
	@test -f build/notebooks/.complete || $(BIN)/python docs/tutorials/run.py --quick --out build/notebooks
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	@echo "the site: build/site/index.html"

# what `genzoo list` prints, rendered from the registries (tests/test_catalog.py checks it is current)
catalog: $(VENV)/.installed
	$(BIN)/python -m genzoo.catalog

# The peers (the bench extra). denoising-diffusion-pytorch goes in without its dependencies: it
# pulls torchvision and pytorch-fid for its Trainer only, and a torchvision built for another torch
# breaks imports.
$(VENV)/.bench: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python -m pip install --quiet --no-deps "denoising-diffusion-pytorch>=2.3"
	@touch $@

bench-deps: $(VENV)/.bench

# make bench: the comparison suite (benchmarks/figures/suite.md), then every other benchmark
# (a few hours on 2 cores). make bench QUICK=1 (or make bench-quick): a smoke run of every
# comparison, tiny sizes, a few minutes; CI runs it.
ifdef QUICK
bench: bench-quick
else
bench: $(VENV)/.bench
	$(BIN)/python benchmarks/run_all.py
endif

bench-quick: $(VENV)/.bench
	$(BIN)/python benchmarks/bench_suite.py --quick
	$(BIN)/python benchmarks/bench_quality.py --quick
	$(BIN)/python benchmarks/bench_checkpoint.py --only vae --repeats 1 --steps 1
	$(BIN)/python benchmarks/bench_threads.py --quick
	$(BIN)/python benchmarks/bench_startup.py --repeats 1
	$(BIN)/python benchmarks/bench_lab.py --quick
	$(BIN)/python benchmarks/bench_tour_eta.py --quick-smoke
	$(BIN)/python benchmarks/bench_memory.py --sizes 0.01 --steps 8 --root $${TMPDIR:-/tmp}/genzoo-folders-quick --out runs/bench-memory-quick.json

# atheris fuzzing of genzoo's file readers (config, --set, run config, .npy/.npz, images, --points CSV,
# --mask, model.safetensors, train_state.pt, metrics.json/log.jsonl for compare and report); any error
# other than genzoo's one-line GenzooError is a finding. atheris is not a dependency of genzoo.
fuzz: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet atheris
	$(BIN)/python benchmarks/fuzz_loaders.py --target all --runs $${RUNS:-20000} --seconds $${SECONDS_PER_TARGET:-120}

clean:
	rm -rf $(VENV) runs .pytest_cache
