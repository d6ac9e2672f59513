"""What a hostile or unlucky user does to a run (issue: hardening): a file as --out, a
tampered run directory, an empty dataset, a stopped run, flags out of range."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reportgen.cli import app

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # every test here runs reportgen end to end


@pytest.fixture(scope="module")
def config(tmp_path_factory, world_samples) -> Path:
    from reportgen.sample_data.build import write_folder_dataset

    tmp = tmp_path_factory.mktemp("hardening")
    write_folder_dataset(world_samples, tmp / "world", "s")
    (tmp / "partnet.json").write_text(json.dumps({
        "name": "random-partnet", "arch": "partnet", "num_classes": 4,
        "preprocessing": {"size": 96, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}}))
    path = tmp / "run.yaml"
    path.write_text("dataset:\n  root: world\nmodels:\n  - spec: partnet.json\n"
                    "methods: [gradcam]\ndevice: cpu\nbatch_size: 2\nworkers: 0\n"
                    "faithfulness: {max_samples: 2}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run_dir(config, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    result = CliRunner().invoke(app, ["run", str(config), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out


def _one_line_error(result) -> str:
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_out_that_is_a_file_is_a_one_line_error_with_exit_2(config, tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("x")
    result = CliRunner().invoke(app, ["run", str(config), "--out", str(target), "-q"])
    assert result.exit_code == 2
    assert "is a file, not a directory" in _one_line_error(result)


def test_limit_zero_from_the_flag_names_the_flag_not_the_config(config, tmp_path):
    result = CliRunner().invoke(app, ["run", str(config), "--out", str(tmp_path / "o"),
                                      "--limit", "0"])
    assert result.exit_code == 2
    assert "--limit" in result.output and "run.yaml" not in result.output


def test_run_json_records_every_artifacts_sha256(run_dir):
    record = json.loads((run_dir / "run.json").read_text())
    assert set(record["artifacts"]) >= {"facts.json", "stats.csv", "exclusions.csv",
                                        "narrative.json", "scores.parquet"}
    assert record["version"] == 2 and record["samples"]["total"] == 8
    assert not list(run_dir.glob(".staging-*")) and not (run_dir / ".reportgen.lock").exists()


@pytest.mark.parametrize("name, content, problem", [
    ("facts.json", "{not json", "not a valid facts file"),
    ("facts.json", '{"schema_version": "1.0", "facts": 5}', "not a valid facts file"),
    ("narrative.json", "[{\"section\": 1}]", "not a valid narrative file"),
    ("stats.csv", "model,method\n", "not a valid statistics table"),
    ("gallery.npz", b"PK\x03\x04 truncated", "not a valid gallery"),
])
def test_render_refuses_a_changed_artifact_and_explains_a_broken_one(run_dir, tmp_path, name,
                                                                    content, problem):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    path = copy / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    refused = CliRunner().invoke(app, ["render", str(copy)])
    assert refused.exit_code == 2
    line = _one_line_error(refused)
    assert name in line and "--allow-modified" in line
    forced = CliRunner().invoke(app, ["render", str(copy), "--allow-modified"])
    assert forced.exit_code == 2
    assert problem in _one_line_error(forced) and name in forced.output


def test_an_edited_fact_renders_only_when_allowed_and_the_card_says_so(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    data = json.loads((copy / "facts.json").read_text())
    data["facts"][0]["display"] = "99 %"
    (copy / "facts.json").write_text(json.dumps(data))
    assert CliRunner().invoke(app, ["render", str(copy)]).exit_code == 2
    forced = CliRunner().invoke(app, ["render", str(copy), "--allow-modified"])
    assert forced.exit_code == 0, forced.output
    assert "changed artifacts facts.json" in (copy / "model_card.md").read_text()
    assert "facts.json" in (copy / "report.html").read_text()


def test_render_of_an_untouched_run_passes_the_check(run_dir):
    result = CliRunner().invoke(app, ["render", str(run_dir)])
    assert result.exit_code == 0, result.output


def test_a_dataset_where_nothing_can_be_scored_exits_2_with_counts_by_reason(config, tmp_path):
    import shutil

    bad = tmp_path / "cfg"
    shutil.copytree(config.parent, bad, ignore=shutil.ignore_patterns("out*"))
    for image in (bad / "world" / "images").iterdir():
        image.write_bytes(b"not an image")
    result = CliRunner().invoke(app, ["run", str(bad / "run.yaml"), "--out",
                                      str(tmp_path / "o"), "-q"])
    assert result.exit_code == 2, result.output
    line = _one_line_error(result)
    assert "no sample could be scored (8 in the dataset)" in line and "8 x" in line


def test_sigterm_stops_a_run_with_exit_143_and_the_next_run_resumes(config, tmp_path):
    out = tmp_path / "o"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "reportgen", "run", str(config), "--out",
                             str(out), "-q"], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shards = out / "cache" / "heatmaps"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(shards.glob("*.npz")):
        time.sleep(0.2)
    assert any(shards.glob("*.npz")), "no batch was cached in time"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    assert not (out / ".reportgen.lock").exists() and not list(out.glob(".staging-*"))
    cached = len(list(shards.glob("*.npz")))
    again = CliRunner().invoke(app, ["run", str(config), "--out", str(out), "-q", "-v"])
    assert again.exit_code == 0, again.output
    assert len(list(shards.glob("*.npz"))) >= cached
