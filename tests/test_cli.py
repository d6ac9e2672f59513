"""The command line: help, version, run, render and their exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import reportgen
from reportgen.cli import app

RUN_FILES = ("report.html", "report.pdf", "facts.json", "scores.parquet", "run.json")
TITLE = "CLI smoke report"


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture()
def run_config(tmp_path, folder_dataset) -> Path:
    """A config for the folder_dataset fixture and an untrained PartNet description."""
    (tmp_path / "partnet.json").write_text(json.dumps({
        "name": "random-partnet", "arch": "partnet", "num_classes": 4,
        "preprocessing": {"size": 96, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
    }), encoding="utf-8")
    path = tmp_path / "run.yaml"
    root = folder_dataset.relative_to(tmp_path)  # resolved against the config's folder
    path.write_text(f"title: {TITLE}\ndataset:\n  root: {root}\nmodels:\n"
                    "  - spec: partnet.json\nmethods: [gradcam]\ndevice: cpu\nbatch_size: 3\n",
                    encoding="utf-8")
    return path


def _run(runner: CliRunner, config: Path, out: Path):
    result = runner.invoke(app, ["run", str(config), "--out", str(out), "--limit", "4", "-q"])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_help_lists_the_demo_run_and_render_commands(runner):
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "run", "render"):
        assert re.search(rf"^\W*{command}\s", result.stdout, re.MULTILINE), command


def test_no_arguments_shows_the_help(runner):
    result = runner.invoke(app, [])
    assert "run" in result.output and "render" in result.output


def test_version_prints_the_package_version(runner):
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"reportgen {reportgen.__version__}"


def test_run_with_a_missing_config_exits_2(runner, tmp_path):
    missing = tmp_path / "missing.yaml"
    result = runner.invoke(app, ["run", str(missing), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "error:" in result.stderr
    assert "config file not found" in result.stderr.replace("\n", "")
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_run_with_a_missing_config_prints_a_one_line_error_naming_the_file(runner, tmp_path):
    missing = tmp_path / "configs" / "missing.yaml"
    result = runner.invoke(app, ["run", str(missing)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0] == f"error: {missing}: config file not found"


def test_run_with_an_invalid_config_exits_2(runner, tmp_path, run_config):
    run_config.write_text(run_config.read_text() + "colour: blue\n", encoding="utf-8")
    result = runner.invoke(app, ["run", str(run_config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "colour" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_run_writes_the_report_and_run_files(runner, tmp_path, run_config):
    out = tmp_path / "out"
    result = _run(runner, run_config, out)
    for name in RUN_FILES:
        assert (out / name).is_file(), name
        assert (out / name).stat().st_size > 0, name
    assert result.stdout.splitlines()[-1] == f"Report: {out / 'report.html'}"

    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.lstrip().startswith("<!DOCTYPE html")
    assert TITLE in html
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")

    run_info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run_info["config"]["limit"] == 4  # the --limit flag overrides the config
    assert run_info["models"] == ["random-partnet"]
    assert run_info["model_specs"][0]["preprocessing"].items() >= {
        "size": 96, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}.items()
    assert run_info["dataset"]["class_names"] == ["bird", "fish", "turtle", "beetle"]

    facts = {f["id"]: f for f in json.loads((out / "facts.json").read_text())["facts"]}
    assert facts["run.samples.total"]["value"] == 4
    assert facts["run.samples.scored"]["value"] == 4
    assert facts["run.samples.excluded"]["value"] == 0

    scores = pd.read_parquet(out / "scores.parquet")
    assert sorted(scores["image_id"].unique()) == ["s_0000", "s_0001", "s_0002", "s_0003"]
    assert set(scores["model"]) == {"random-partnet", "baseline"}  # baselines beside it
    assert set(scores["method"]) == {"gradcam", "random", "center", "oracle",
                                     "background_swap", "part_removal"}


@pytest.mark.slow
def test_render_rewrites_the_report_of_a_run_directory(runner, tmp_path, run_config):
    out = tmp_path / "out"
    _run(runner, run_config, out)
    original = (out / "report.html").read_text(encoding="utf-8")
    (out / "report.html").write_text("stale", encoding="utf-8")
    (out / "report.pdf").write_bytes(b"stale")

    result = runner.invoke(app, ["render", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout.splitlines()[-1] == f"Report: {out / 'report.html'}"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html != "stale"
    assert TITLE in html
    assert len(html) == pytest.approx(len(original), rel=0.05)
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")


def test_render_on_an_empty_folder_exits_2(runner, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["render", str(empty)])
    assert result.exit_code == 2
    assert "not a complete run directory" in result.stderr.replace("\n", "")
    assert result.stdout == ""
    assert not (empty / "report.html").exists()


def test_inspect_prints_counts_and_problems_and_strict_exits_1(tmp_path, folder_dataset):
    (folder_dataset / "images" / "s_0003.png").write_bytes(b"broken")
    result = CliRunner().invoke(app, ["inspect", str(folder_dataset)])
    assert result.exit_code == 0 and "8 items: 7 samples, 1 excluded" in result.output
    assert CliRunner().invoke(app, ["inspect", str(folder_dataset), "--strict"]).exit_code == 1
    assert CliRunner().invoke(app, ["inspect", str(tmp_path / "missing")]).exit_code == 2


def test_config_schema_prints_the_json_schema_of_the_run_config():
    result = CliRunner().invoke(app, ["config", "schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert {"dataset", "models", "methods", "fail_if", "findings"} <= set(schema["properties"])


@pytest.mark.slow
def test_fail_if_flag_exits_1_and_the_report_lists_the_condition(tmp_path, run_config):
    out = tmp_path / "gate"
    result = CliRunner().invoke(app, ["run", str(run_config), "--out", str(out), "-q",
                                      "--fail-if", "pqah.ph.q2|region=background >= 0"])
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output
    html = (out / "report.html").read_text()
    assert "pqah.ph.q2|region=background &gt;= 0" in html and "FAILED" in html
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["conditions"][0]["failed"] is True


@pytest.mark.slow
def test_demo_takes_the_run_flags(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--limit", "8", "--seed", "3",
                                      "--batch-size", "4", "--device", "cpu", "-q"])
    assert result.exit_code == 0, (result.output, result.exception)
    run_info = json.loads((out / "run.json").read_text())
    assert (run_info["config"]["limit"], run_info["seed"], run_info["config"]["batch_size"],
            run_info["device"]) == (8, 3, 4, "cpu")
    facts = json.loads((out / "facts.json").read_text())["facts"]
    assert next(f for f in facts if f["id"] == "run.samples.total")["value"] == 8
