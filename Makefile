# Two commands do all the set-up on a fresh machine (see README):
#   make demo   - venv + pinned deps + descriptor weights, trains on a bundled texture, writes out/
#   make test   - venv + pinned deps + weights, runs the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0

.PHONY: setup demo test bench clean

$(BIN)/texnet: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first and pinned: an unpinned spec can pull several GB of CUDA packages
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.weights: $(BIN)/texnet
	$(BIN)/texnet weights fetch vgg16-hed
	touch $@

$(VENV)/.test-deps: $(BIN)/texnet requirements-test.lock
	$(BIN)/python -m pip install -q -r requirements-test.lock
	touch $@

setup: $(VENV)/.weights

demo: setup
	$(BIN)/texnet train-texture brick -o out/brick.texnet --preset quick
	$(BIN)/texnet sample out/brick.texnet -o out/brick.png -n 4 --size 512x512 --seed 1 --tile-preview
	@echo "demo done: samples and 2x2 tiled previews in out/ (brick_*.png, brick_*.tiled.png)"

test: setup $(VENV)/.test-deps
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/texnet bench --out benchmarks/results

clean:
	rm -rf $(VENV) out bench-out
