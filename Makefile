# Two commands set up everything on a fresh machine:
#   make demo   — virtual environment, install, run the main job on the bundled data
#   make test   — the same set-up with the dev extras, then the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= 2.13.0

.PHONY: demo test lint bench clean

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

test: $(VENV)/.installed
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks

# denoising-diffusion-pytorch goes in without its dependencies: it pulls torchvision and
# pytorch-fid for its Trainer only, and a torchvision built for another torch breaks imports.
bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python -m pip install --quiet --no-deps "denoising-diffusion-pytorch>=2.3"
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs .pytest_cache
