"""The wheel ships templates/, prompts/ and the sample data, and finds them without a checkout."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(REPO)], check=True)
    (whl,) = out.glob("reportgen-*.whl")
    return whl


def test_wheel_contains_templates_prompts_and_sample_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "reportgen/templates/report.html.j2" in names
    assert "reportgen/templates/report.css" in names
    assert "reportgen/prompts/README.md" in names
    assert "reportgen/sample_data/data/parts_world/dataset.json" in names
    assert "reportgen/sample_data/data/models/partnet_biased.pt" in names
    assert not any(n.startswith(("tests/", ".venv/")) for n in names)


def test_installed_wheel_finds_its_resources_without_the_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True)
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
