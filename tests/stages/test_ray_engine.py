"""The ray engine (engine: ray) on a real local Ray cluster (127.0.0.1, 2 CPUs) started here:
the same facts, bytes for bytes, as the local engine; shards and heatmaps that a re-run
reuses; a bad image excluded with the local engine's reason; a one-line error for an
unreachable cluster."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from reportgen.api import evaluate
from reportgen.demo import demo_config
from reportgen.stages.ray_engine import SHARDS

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow
REPORTGEN = Path(sys.executable).with_name("reportgen")
# 20 samples in batches of 8 (the last one short); faithfulness on the first 10, so the quota
# ends inside the second batch; the background-swap test on the first 12.
SMALL = {"limit": 20, "batch_size": 8, "workers": 0, "faithfulness": {"max_samples": 10},
         "counterfactual": {"max_samples": 12}}


@pytest.fixture(scope="module")
def cluster():
    address = os.environ.pop("RAY_ADDRESS", None)
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             logging_level="ERROR")
    yield
    ray.shutdown()
    if address is not None:
        os.environ["RAY_ADDRESS"] = address


def _run(out: Path, engine: str, **overrides):
    config = {**demo_config().model_dump(), **SMALL, **overrides}
    return evaluate(config, out=out, engine=engine)


OUTPUTS = ("facts.json", "exclusions.csv", "stats.csv", "gallery.npz")


def _outputs(run: Path) -> dict:
    return {"scores": pd.read_parquet(run / "scores.parquet"),
            **{name: (run / name).read_bytes() for name in OUTPUTS}}


def _assert_same(a: dict, b: dict) -> None:
    pd.testing.assert_frame_equal(a["scores"], b["scores"])
    for name in OUTPUTS:
        assert a[name] == b[name], name


def _cache(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())["cache"]


def test_ray_engine_gives_the_local_engines_facts_and_a_rerun_reuses_its_work(cluster,
                                                                             tmp_path):
    """One dataset for every check (each run costs about a minute on 2 shared cores): the
    demo's images, one of them not a PNG (a sample that fails in a worker)."""
    root = tmp_path / "data"
    shutil.copytree(demo_config().dataset.root, root)
    (root / "images" / "eval_0003.png").write_bytes(b"not a png")
    local, ray_run = tmp_path / "local", tmp_path / "ray"
    _run(local, "local", dataset={"root": str(root)})
    _run(ray_run, "ray", dataset={"root": str(root)})
    expected = _outputs(local)
    _assert_same(_outputs(ray_run), expected)
    facts = json.loads(expected["facts.json"])
    assert any(f["id"].startswith("road.") for f in facts["facts"])  # model scorers ran
    excluded = next(f for f in facts["facts"] if f["id"] == "run.samples.excluded")
    assert excluded["value"] == 1
    reasons = pd.read_csv(ray_run / "exclusions.csv").set_index("image_id")["reason"]
    assert "eval_0003" in reasons.index
    shards = next((ray_run / SHARDS).iterdir())
    assert sorted(p.name for p in shards.glob("done-*.json")) == [
        "done-000000.json", "done-000001.json", "done-000002.json"]
    assert _cache(ray_run)["computed"] > 0 and _cache(ray_run)["reused"] == 0
    # A killed run: one batch never finished; the re-run maps only that batch, and its
    # heatmaps come from the cache the workers wrote.
    (shards / "done-000001.json").unlink()
    first = (shards / "done-000000.json").stat().st_mtime_ns
    _run(ray_run, "ray", dataset={"root": str(root)})
    assert (shards / "done-000001.json").exists()
    assert (shards / "done-000000.json").stat().st_mtime_ns == first  # not redone
    assert _cache(ray_run)["computed"] == 0 and _cache(ray_run)["reused"] > 0
    _assert_same(_outputs(ray_run), expected)
    # A local re-run in the ray run's directory reuses the workers' heatmaps.
    _run(ray_run, "local", dataset={"root": str(root)})
    assert _cache(ray_run)["computed"] == 0 and _cache(ray_run)["reused"] > 0


def test_an_unreachable_ray_address_is_a_one_line_error(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(json.dumps({"dataset": {"root": str(demo_config().dataset.root)},
                                  "models": [m.model_dump(mode="json")
                                             for m in demo_config().models],
                                  "limit": 4, "device": "cpu"}))
    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:9"}  # the discard port: nothing listens
    result = subprocess.run([str(REPORTGEN), "run", str(config), "--engine", "ray", "--out",
                             str(tmp_path / "out"), "-q"], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 2
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "no Ray cluster at RAY_ADDRESS=127.0.0.1:9" in lines[0]
