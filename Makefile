# Two commands do all set-up on a fresh Debian machine:
#   make demo   bootstrap, then run the built-in sample to out/demo/report.html and report.pdf
#   make test   bootstrap, then ruff and the test suite
# Bootstrap: .venv with Python 3.11, `pip install -c constraints.txt -e .[dev]`, and the Debian
# packages weasyprint, pdftoppm and (for tests) Chromium need. A stamp keyed on the hash of
# pyproject.toml + constraints.txt makes a second run skip it.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
STAMP := $(VENV)/.bootstrap-$(HASH)
OUT ?= out/demo

.PHONY: demo test bootstrap system-deps system-deps-test lint bench readme-picture sample-data clean

demo: bootstrap system-deps
	$(BIN)/reportgen demo --out $(OUT)

test: bootstrap system-deps-test
	$(BIN)/ruff check .
	$(BIN)/pytest

bootstrap: $(STAMP)

system-deps:
	@bash scripts/bootstrap-system.sh

system-deps-test:
	@bash scripts/bootstrap-system.sh --test

$(STAMP):
	@command -v $(PYTHON) >/dev/null || { echo "reportgen needs $(PYTHON): on Debian, apt-get install python3.11 python3.11-venv (or set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# llama-cpp-python builds from source (about 5 minutes on 2 cores, cached by pip afterwards);
	# GGML_NATIVE=OFF keeps the build portable across CPUs.
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install -c constraints.txt -e '.[dev]'
	# quantus (tests cross-check against it) pins the GUI build of OpenCV, which needs libGL;
	# cv2 comes from opencv-python-headless (via grad-cam), so install quantus alone.
	$(BIN)/python -m pip install -c constraints.txt --no-deps quantus
	rm -f $(VENV)/.bootstrap-*
	touch $@

lint: bootstrap
	$(BIN)/ruff check .

bench: bootstrap
	$(BIN)/python benchmarks/bench_pqah.py

readme-picture: demo
	$(BIN)/python scripts/readme_picture.py $(OUT)/report.pdf docs/report-page1.png

sample-data: bootstrap
	$(BIN)/python -m reportgen.sample_data.build --out sample_data

clean:
	rm -rf out build dist .pytest_cache
