# One command surface for people, hooks and CI. `make help` lists the targets.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo check test test-rust test-python lint lint-rust lint-python typecheck fmt
.PHONY: bench bench-scan bench-neighbors wheel fuzz

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml Cargo.toml $(shell find src -name '*.rs')
	./scripts/system-deps.sh
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv, build the Rust extension (release) and install test tools

demo: install ## Audit the built-in examples: summary, audit.html, the detection table
	$(BIN)/imgstats scan examples/images
	$(BIN)/imgstats report examples/images --labels examples/labels.csv -o audit.html
	$(BIN)/imgstats check examples/detection --fail-on never --table
	$(BIN)/imgstats report examples/detection/data.yaml -o audit-detection.html
	@echo "open audit.html and audit-detection.html in a browser"

check: lint test ## What CI runs (.ci/run): every static check, then every test

test: test-rust test-python ## All tests: cargo test (pure-Rust core) then pytest

test-rust: install ## Rust core unit tests, without Python
	cargo test --release --lib

test-python: install ## Python contract tests against imagehash, OpenCV, brute force, chromium
	./scripts/system-deps.sh --test
	$(BIN)/python -m pytest -q -rs

wheel: install ## Build the abi3 manylinux wheel into dist/ (libjpeg-turbo, libwebp static)
	$(BIN)/maturin build --release -o dist

lint: lint-rust lint-python typecheck ## Every static check CI runs: Rust, Python, types, stub

lint-rust: ## cargo fmt --check; clippy -D warnings with and without the python feature
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --features python -- -D warnings

lint-python: install ## ruff check and ruff format --check
	$(BIN)/ruff check python tests benches
	$(BIN)/ruff format --check python tests benches

typecheck: install ## mypy --strict on python/imgstats; stubtest: _imgstats.pyi against the binary
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest imgstats._imgstats

fmt: ## Format Rust and Python
	cargo fmt
	$(BIN)/ruff format python tests benches

bench: bench-scan bench-neighbors ## All benchmarks (see benches/README.md)

bench-scan: install ## Scan vs Pillow decode floor, imagehash loop, peers (wallpapers, Fashion-MNIST)
	$(BIN)/python benches/bench_scan.py

bench-neighbors: install ## Near-duplicate index vs brute force and BK-tree
	$(BIN)/python benches/bench_neighbors.py

FUZZ_SECONDS ?= 300
fuzz: install ## cargo-fuzz one blob through the scan (libFuzzer; RUSTC_BOOTSTRAP on stable; not CI)
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	$(BIN)/python fuzz/make_corpus.py fuzz/corpus/scan_blob
	RUSTC_BOOTSTRAP=1 cargo fuzz run -O scan_blob fuzz/corpus/scan_blob -- \
		-max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
