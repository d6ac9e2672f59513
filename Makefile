# Two commands do all set-up on a fresh Debian machine:
#   make demo   bootstrap the runtime, then run the built-in sample to out/demo/report.html and .pdf
#   make test   bootstrap runtime + dev/test extras, then ruff and the whole test suite (what CI runs)
#   make test-fast   ruff and the tests not marked slow (same bootstrap as make test)
# Two bootstrap levels share one .venv (Python 3.11), each with a stamp keyed on the hash of
# pyproject.toml + constraints.txt, so a second run skips it:
#   demo: `pip install -c constraints.txt -e .` (runtime dependencies only) and the Debian packages
#         weasyprint needs;
#   test: `pip install -c constraints.txt -e .[dev]` (test tools, ruff and the extras attr, fast,
#         local-llm: llama-cpp-python builds from source) + quantus, and the Debian packages the
#         tests need besides (poppler-utils, Chromium, a compiler). It reuses the demo's venv.
# Each step prints its wall time ("time: pip ... s"), which BENCHMARKS.md's Bootstrap section uses.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
DEMO_STAMP := $(VENV)/.bootstrap-demo-$(HASH)
TEST_STAMP := $(VENV)/.bootstrap-test-$(HASH)
OUT ?= out/demo
# Runs one bootstrap step and prints its wall time.
timed = start=$$(date +%s%N); $(1); rc=$$?; ms=$$(( ($$(date +%s%N) - start) / 1000000 )); \
	printf 'time: %-5s %4d.%d s\n' "$(2)" $$((ms / 1000)) $$((ms % 1000 / 100)); exit $$rc

.PHONY: demo test test-fast bootstrap bootstrap-test venv system-deps system-deps-test lint bench \
	readme-picture sample-data clean

demo: system-deps bootstrap
	@$(call timed,$(BIN)/reportgen demo --out $(OUT),demo)

test: system-deps-test bootstrap-test
	$(BIN)/ruff check .
	$(BIN)/pytest

# ruff and the tests not marked slow: the quick loop while editing, on one pytest-xdist worker
# per core (FAST_WORKERS; tests use tmp_path, never a shared file or port). torch and numba get
# one thread each: the tests' tensors are small, and a second intra-op thread per worker only
# waits for a core (BENCHMARKS.md, "The test suite"). numba's OpenMP layer resets the thread
# count of the OpenMP runtime torch uses, so OMP_NUM_THREADS alone is undone by the first
# kernel. make test keeps one process and the defaults: CI runs the parallel kernels.
FAST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
test-fast: system-deps-test bootstrap-test
	$(BIN)/ruff check .
	OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 $(BIN)/pytest -m "not slow" -n $(FAST_WORKERS) -q

bootstrap: $(DEMO_STAMP)

bootstrap-test: $(TEST_STAMP)

system-deps:
	@$(call timed,bash scripts/bootstrap-system.sh,apt)

system-deps-test:
	@$(call timed,bash scripts/bootstrap-system.sh --test,apt)

# The venv gets the current pip (about 1.5x faster than the bundled one here): from $(PYTHON)'s
# own pip when it has one (seconds faster than ensurepip), else through ensurepip.
venv:
	@command -v $(PYTHON) >/dev/null || { echo "reportgen needs $(PYTHON): on Debian, apt-get install python3.11 python3.11-venv (or set PYTHON=...)"; exit 1; }
	@if [ ! -x $(BIN)/python ]; then \
	  $(call timed,$(PYTHON) -m venv --without-pip $(VENV) && { $(PYTHON) -m pip --python $(BIN)/python install --quiet --upgrade pip 2>/dev/null || { $(BIN)/python -m ensurepip --upgrade >/dev/null && $(BIN)/python -m pip install --quiet --upgrade pip; }; },venv); \
	fi

# Runtime dependencies only: what `reportgen demo` (and `pip install reportgen`) needs.
# --no-compile: byte-compiling every installed module (torch alone has thousands) took about
# half of pip's time on 2 cores; Python compiles the modules a run imports on first use instead.
$(DEMO_STAMP): | venv
	@$(call timed,$(BIN)/python -m pip install --quiet --no-compile -c constraints.txt -e .,pip)
	@rm -f $(VENV)/.bootstrap-demo-*
	@touch $@

# On top: the dev extra (test tools, ruff, hatchling, the extras attr, fast and local-llm).
# llama-cpp-python builds from source (about 14 CPU-minutes, cached by pip afterwards);
# GGML_NATIVE=OFF keeps the build portable across CPUs, LLAVA_BUILD=OFF skips its multimodal
# library (mtmd, unused here; about a fifth of the compile). quantus (tests cross-check against it)
# pins the GUI build of OpenCV, which needs libGL; cv2 comes from opencv-python-headless (via
# grad-cam), so quantus is installed alone.
$(TEST_STAMP): | venv
	@$(call timed,CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" $(BIN)/python -m pip install --quiet --no-compile -c constraints.txt -e '.[dev]' && $(BIN)/python -m pip install --quiet --no-compile -c constraints.txt --no-deps quantus,pip)
	@rm -f $(VENV)/.bootstrap-*
	@touch $(DEMO_STAMP) $@

lint: bootstrap-test
	$(BIN)/ruff check .

bench: bootstrap-test
	$(BIN)/python benchmarks/bench_pqah.py

readme-picture: system-deps-test demo
	$(BIN)/python scripts/readme_picture.py $(OUT)/report.pdf docs/report-page1.png

sample-data: bootstrap-test
	$(BIN)/python -m reportgen.sample_data.build --out sample_data

clean:
	rm -rf out build dist .pytest_cache
