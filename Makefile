# tradecore — every task of the project. `make help` lists them.
#
# Python work happens in a project virtualenv (.venv) built from the pinned
# requirements/dev.txt; Rust dependencies are pinned by Cargo.lock.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
CARGO  ?= cargo
# Recorded market data for tests and benchmarks (optional: tests skip without it).
export TRADECORE_TEST_DATA ?= $(abspath ../shared/data)

.DEFAULT_GOAL := help
.PHONY: help venv build demo test test-rust test-python stubtest bench bench-rust bench-python bench-peers bench-backtest-peers bench-live-peers bench-tick-to-order lint fmt clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip==25.3
	$(PIP) install --quiet -r requirements/dev.txt
	touch $(STAMP)

venv: $(STAMP) ## create .venv with the pinned Python dependencies

build: $(STAMP) ## build the extension (release) and install it into .venv
	$(VENV)/bin/maturin develop --release --quiet

demo: build ## build, then backtest the example market maker on the bundled synthetic market (report in build/)
	mkdir -p build
	$(VENV)/bin/tradecore backtest --strategy examples/market_maker.py:MarketMaker --data synthetic \
		--seconds 120 --latency 5ms --report build/demo_report.html --json build/demo_stats.json

test: build test-rust test-python stubtest ## build and run every test (cargo, pytest, stub check)

test-rust: ## Rust unit, property and data tests
	$(CARGO) test --workspace

test-python: build ## pytest suites
	$(PY) -m pytest

stubtest: build ## check python/tradecore/_core.pyi against the compiled module
	$(PY) -m mypy.stubtest tradecore._core

bench: build bench-rust bench-python ## run the benchmarks and print the table
	$(PY) benches/report.py

bench-rust: ## criterion benches (Rust)
	$(CARGO) bench -p engine_core --bench book --bench feed --bench signals --bench risk --bench replay --bench model -- --noplot

bench-python: build ## pytest-benchmark suites (cost seen from Python, with msgspec/json peers)
	mkdir -p build/bench
	$(PY) -m pytest benches/python -q -p no:randomly --benchmark-only --benchmark-json=build/bench/python.json

bench-peers: ## compare with nautilus_trader in a separate environment (.venv-peers)
	$(PYTHON) -m venv .venv-peers
	.venv-peers/bin/pip install --quiet -r benches/peers/requirements.txt
	$(CARGO) build --release -p tradecore-bindings
	$(VENV)/bin/maturin build --release --quiet -o build/wheels
	.venv-peers/bin/pip install --quiet --force-reinstall --no-deps build/wheels/tradecore-*.whl
	.venv-peers/bin/python benches/peers/book_peers.py

bench-backtest-peers: ## compare the backtest replay with hftbacktest in a separate environment (.venv-hbt)
	$(PYTHON) -m venv .venv-hbt
	.venv-hbt/bin/pip install --quiet -r benches/peers/requirements-hftbacktest.txt
	$(VENV)/bin/maturin build --release --quiet -o build/wheels
	.venv-hbt/bin/pip install --quiet --force-reinstall build/wheels/tradecore-*.whl "numpy<2.3"
	.venv-hbt/bin/python benches/peers/backtest_peers.py

bench-live-peers: build ## live feed, frame to book: tradecore vs ccxt.pro over loopback from the exchange simulator
	$(PY) benches/live_peers.py

bench-tick-to-order: build ## frame received to order bytes at the transport: paper, real via ccxt, real native
	$(PY) benches/tick_to_order.py

bench-model: build ## tree-model inference: tradecore vs LightGBM and lleaves, one row and batch
	$(PY) benches/model_inference.py
	cargo bench -p engine_core --bench model

lint: $(STAMP) ## rustfmt, clippy (pedantic), mypy --strict
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/mypy

fmt: ## format the Rust code
	$(CARGO) fmt --all

clean: ## remove build outputs and the virtualenvs
	rm -rf target build $(VENV) .venv-peers
