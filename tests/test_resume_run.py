"""A run killed with SIGKILL resumes from its cache and ends with the same facts.json."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reportgen.sample_data.build import write_folder_dataset
from reportgen.sample_data.world import generate_split

pytestmark = pytest.mark.slow
REPORTGEN = Path(sys.executable).with_name("reportgen")


@pytest.fixture()
def config(tmp_path) -> Path:
    write_folder_dataset(generate_split(seed=11, split="eval", count=24), tmp_path / "data", "r")
    (tmp_path / "model.json").write_text(json.dumps({
        "name": "random-partnet", "arch": "partnet", "num_classes": 4,
        "preprocessing": {"size": 96, "mean": [0.5] * 3, "std": [0.25] * 3}}))
    path = tmp_path / "run.yaml"
    path.write_text("dataset: {root: data}\nmodels: [{spec: model.json}]\n"
                    "methods: [gradcam, scorecam]\nbatch_size: 4\ndevice: cpu\nseed: 1\n")
    return path


def _run(config: Path, out: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([str(REPORTGEN), "run", str(config), "--out", str(out), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)


def test_killed_run_resumes_without_recomputing_and_gives_identical_facts(config, tmp_path):
    reference = tmp_path / "reference"
    assert _run(config, reference).wait(timeout=600) == 0

    out = tmp_path / "killed"
    proc = _run(config, out, start_new_session=True)
    shards = out / "cache" / "heatmaps"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(shards.rglob("*.npz"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(shards.rglob("*.npz")))
    assert done_before >= 3 and not (out / "facts.json").exists()

    assert _run(config, out).wait(timeout=600) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["cache"]["reused"] >= 4 * done_before - 4  # finished batches were not redone
    assert run["cache"]["reused"] + run["cache"]["computed"] == 2 * 24
    assert (out / "facts.json").read_bytes() == (reference / "facts.json").read_bytes()
