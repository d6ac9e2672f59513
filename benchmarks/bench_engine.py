"""The ray engine against the local one on this machine, and a scale run.

``compare``: the explain and score stages of the same run (the demo's data and models, the
first ``--images`` samples, faithfulness and the background-swap test off, no heatmap cache)
through the local engine and through the ray engine with 1 and 2 actors, on a local Ray
instance of ``--cpus`` CPUs started once beforehand (its start is reported apart). Prints
images/s and the ray/local time ratio (the ray engine's overhead on one machine).

``scale``: ``--images`` generated parts-world images (a folder dataset written to ``--data``)
(one model, Grad-CAM) through ``reportgen run --engine ray`` in a child process, killed with
SIGKILL once ``--kill-after`` batches are done, then resumed to the end in this process with
the driver's resident memory sampled at every batch done (flat while the workers map; the
statistics at the end hold the scores table).

    .venv/bin/python benchmarks/bench_engine.py compare --images 100
    .venv/bin/python benchmarks/bench_engine.py scale --images 10000 --data /tmp/world10k
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reportgen.config import RunConfig
from reportgen.config_yaml import config_from_dict
from reportgen.demo import demo_config

REPORTGEN = Path(sys.executable).with_name("reportgen")


def _config(images: int, root: Path | None = None, **extra) -> RunConfig:
    base = demo_config(cache=False).model_dump()
    if root is not None:
        base["dataset"] = {"root": root}
    return config_from_dict({**base, "limit": images, "batch_size": 25, "workers": 0,
                             "faithfulness": {"enabled": False},
                             "counterfactual": {"enabled": False}, **extra},
                            source="bench_engine")


def _explain_and_score(config: RunConfig, out: Path, actors: int | None) -> float:
    """Seconds for the explain and score stages (and reading the shards back, for ray)."""
    from reportgen.pipeline import _gallery
    from reportgen.stages.counterfactual import CounterfactualStage
    from reportgen.stages.explain import ExplainStage
    from reportgen.stages.load import open_inputs
    from reportgen.stages.ray_engine import run_on_ray
    from reportgen.stages.score import ScoreStage

    inputs = open_inputs(config, out)
    gallery, swap = _gallery(inputs), CounterfactualStage(inputs)
    start = time.perf_counter()
    if actors is None:
        explain, score = ExplainStage(inputs), ScoreStage(config, gallery)
        for batch in inputs.batches():
            score.update(batch, *explain.update(batch))
        scored = score.compute()
    else:
        scored = run_on_ray(inputs, out, gallery, swap, actors=actors).compute()
    seconds = time.perf_counter() - start
    assert scored.counts.scored > 0
    return seconds


def compare(args) -> None:
    import ray

    config = _config(args.images)
    start = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="ERROR")
    print(f"ray.init (local, {args.cpus} CPUs): {time.perf_counter() - start:.1f} s")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows = []
            for repeat in range(args.repeats):
                for name, actors in (("local", None), ("ray, 1 actor", 1),
                                     ("ray, 2 actors", 2)):
                    s = _explain_and_score(config, Path(tmp) / f"{name}-{repeat}", actors)
                    rows.append((name, s))
                    print(f"  {name}: {s:.1f} s", flush=True)
    finally:
        ray.shutdown()
    best = {name: min(s for n, s in rows if n == name) for name, _ in rows}
    print(f"\n{args.images} images, {len(config.models)} models x {len(config.methods)} "
          f"methods + 3 baselines, best of {args.repeats}")
    print("| engine | seconds | images/s | vs local |\n| --- | --- | --- | --- |")
    for name, s in best.items():
        print(f"| {name} | {s:.1f} | {args.images / s:.1f} | {s / best['local']:.2f}x |")


def generate(root: Path, count: int) -> None:
    """``count`` parts-world images in the folder format (the demo's generator)."""
    if (root / "dataset.json").exists():
        return
    from PIL import Image

    from reportgen.io import atomic_write_json
    from reportgen.sample_data.world import CLASSES, PARTS, render_sample

    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(count):
        s = render_sample(7, "eval", i, i % len(CLASSES), bool(i % 2))
        image_id = f"gen_{i:05d}"
        Image.fromarray(s.image).save(root / "images" / f"{image_id}.png")
        Image.fromarray(s.labels).save(root / "labels" / f"{image_id}.png")
        entries.append({"id": image_id, "image": f"images/{image_id}.png",
                        "labels": f"labels/{image_id}.png", "class": CLASSES[s.class_index]})
    atomic_write_json(root / "dataset.json", {"name": "parts-world-generated",
                                              "classes": list(CLASSES), "parts": list(PARTS),
                                              "samples": entries})


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def scale(args) -> None:
    from reportgen.pipeline import run_pipeline
    from reportgen.stages.ray_engine import SHARDS

    start = time.perf_counter()
    generate(args.data, args.images)
    print(f"generated {args.images} images in {time.perf_counter() - start:.0f} s", flush=True)
    config = _config(args.images, args.data, cache=True, engine="ray",
                     methods=["gradcam"], models=demo_config().model_dump()["models"][:1])
    out = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    cfg_file = out / "run.yaml"
    cfg_file.write_text(json.dumps(config.model_dump(mode="json")))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local Ray
    command = [str(REPORTGEN), "run", str(cfg_file), "--out", str(out / "run"), "-q"]
    child = subprocess.Popen(command, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.perf_counter()
    while child.poll() is None:
        if len(list((out / "run").glob(f"{SHARDS}/*/done-*.json"))) >= args.kill_after:
            os.killpg(child.pid, signal.SIGKILL)  # the driver and the Ray it started
            break
        time.sleep(0.5)
    child.wait()
    killed = len(list((out / "run").glob(f"{SHARDS}/*/done-*.json")))
    print(f"killed after {time.perf_counter() - start:.0f} s with {killed} of "
          f"{-(-args.images // config.batch_size)} batches done", flush=True)
    marks: list[tuple[int, float]] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "heatmaps_and_scores" and done:
            marks.append((done, _rss_mb()))

    before = _rss_mb()
    start = time.perf_counter()
    result = run_pipeline(config, out / "run", progress)  # the resume, in this process
    seconds = time.perf_counter() - start
    hwm = next(int(line.split()[1]) / 1024 for line in
               Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    record = json.loads((out / "run" / "run.json").read_text())
    picks = [marks[round(f * (len(marks) - 1))] for f in (0, 0.25, 0.5, 0.75, 1)] if marks else []
    mapped = args.images - killed * config.batch_size
    print(f"resumed in this process: {seconds:.0f} s, samples {record['samples']}, heatmaps "
          f"{record['cache']['computed']} computed / {record['cache']['reused']} reused; "
          f"{mapped / result.timings['heatmaps_and_scores']:.1f} images/s mapped "
          f"(timings {result.timings})")
    print(f"driver RSS: {before:.0f} MB before; while mapping (images done: MB) "
          + ", ".join(f"{d}: {m:.0f}" for d, m in picks)
          + f"; peak over the whole run (statistics included) {hwm:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--images", type=int, default=100)
    c.add_argument("--cpus", type=int, default=2)
    c.add_argument("--repeats", type=int, default=1)
    s = sub.add_parser("scale")
    s.add_argument("--images", type=int, default=10_000)
    s.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "world10k")
    s.add_argument("--kill-after", type=int, default=20, help="batches done before the kill")
    args = parser.parse_args()
    compare(args) if args.mode == "compare" else scale(args)


if __name__ == "__main__":
    main()
