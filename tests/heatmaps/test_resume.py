"""Kill and resume: a run killed with SIGKILL and restarted recomputes nothing that finished
and ends with exactly the heatmaps of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from reportgen.heatmaps import cache_report
from reportgen.models.partnet import PartNet

CHILD = Path(__file__).with_name("resume_child.py")
IMAGES, BATCH = 32, 4


def start(cache: Path, weights: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CHILD), str(cache), str(weights), str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()[-2000:]


def batches_done(out: Path) -> int:
    log = out / "progress.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.mark.slow
def test_killed_run_resumes_without_recomputing_and_matches_an_uninterrupted_run(tmp_path):
    torch.manual_seed(0)
    weights = tmp_path / "partnet.pt"
    torch.save(PartNet(4).state_dict(), weights)
    cache = tmp_path / "cache"
    reference = start(tmp_path / "fresh-cache", weights, tmp_path / "uninterrupted")

    killed = start(cache, weights, tmp_path / "killed")
    deadline = time.monotonic() + 240
    while batches_done(tmp_path / "killed") < 2 and killed.poll() is None:
        assert time.monotonic() < deadline, "the child made no progress"
        time.sleep(0.01)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL
    stored = cache_report(cache)
    assert stored.unreadable == 0  # atomic shards: nothing half-written is visible
    assert stored.heatmaps % BATCH == 0  # whole batches or nothing
    assert 2 * BATCH <= stored.heatmaps < IMAGES, "the kill did not land mid-run"

    resumed = start(cache, weights, tmp_path / "resumed")
    finish(resumed)
    counts = json.loads((tmp_path / "resumed" / "counts.json").read_text())
    assert counts == {"computed": IMAGES - stored.heatmaps, "reused": stored.heatmaps}

    finish(reference)
    for name in ("heatmaps.npy", "predicted.npy"):
        np.testing.assert_array_equal(np.load(tmp_path / "resumed" / name),
                                      np.load(tmp_path / "uninterrupted" / name))
    print(f"killed after {stored.heatmaps} of {IMAGES} heatmaps were stored; the resumed run "
          f"computed {counts['computed']} and reused {counts['reused']}")
