"""Rendering a run's report (HTML + PDF): ``render_run`` in process vs the ``reportgen render`` CLI.

    .venv/bin/python benchmarks/bench_render.py [--images 100] [--repeats 5] [--run-dir DIR]

The run (built once with ``run_pipeline``, not timed; ``--run-dir`` keeps it for later runs):
a synthetic folder dataset of ``--images`` part-world images (96 x 96) labelled round-robin
with 5 class names, two untrained PartNets (seeded, ``weights: null``, 5 outputs), Grad-CAM and
Grad-CAM++, the random and center baselines, faithfulness on the first 8 images. Rendering cost
depends on the numbers of classes, models, methods and parts, not on what the images show.

Timed in the same run, taking turns in each repeat:
* ours: ``reportgen.pipeline.render_run(run_dir)`` in this process (imports done; its first
  call, which also warms matplotlib and weasyprint up, is reported apart and not in the median);
* cli: ``reportgen render RUN_DIR`` as a fresh process, what a user runs (imports included).

Breakdown of ``render_run`` (wall time inside the functions it calls, found by name in
``reportgen.pipeline``): ``build_context`` (context and figures), ``render_html`` (HTML),
``write_pdf`` (PDF); ``other`` is the rest (reading the saved outputs, writing the HTML).
Target (issue 9): HTML + PDF for a 5-class, 2-model, 2-method run in under 10 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from reportgen import pipeline
from reportgen.config_yaml import config_from_dict
from reportgen.sample_data.build import write_folder_dataset
from reportgen.sample_data.train import PREPROCESSING
from reportgen.sample_data.world import generate_split

CLASS_NAMES = ("bird", "fish", "turtle", "beetle", "crab")
STAGES = {"build_context": "context_and_figures", "render_html": "html", "write_pdf": "pdf"}
TARGET_S = 10.0


def write_dataset(root: Path, images: int, seed: int = 0) -> None:
    """``images`` part-world samples in the folder format, labelled with 5 classes in turn."""
    write_folder_dataset(generate_split(seed, "eval", images), root, "bench")
    meta = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
    meta["classes"] = list(CLASS_NAMES)
    for i, entry in enumerate(meta["samples"]):
        entry["class"] = CLASS_NAMES[i % len(CLASS_NAMES)]
    (root / "dataset.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")


def build_run(run_dir: Path, images: int) -> float:
    """Write the dataset next to ``run_dir`` and run the pipeline into it; returns seconds."""
    data = run_dir.with_name(run_dir.name + "-data")
    write_dataset(data, images)
    pre = {"size": PREPROCESSING.size, "mean": list(PREPROCESSING.mean),
           "std": list(PREPROCESSING.std)}
    config = config_from_dict({
        "title": "Render benchmark: 5 classes, 2 models, 2 methods",
        "dataset": {"root": data},
        "models": [{"name": f"partnet_{k}", "arch": "partnet", "num_classes": len(CLASS_NAMES),
                    "weights": None, "preprocessing": pre} for k in ("a", "b")],
        "methods": ["gradcam", "gradcam++"],
        "batch_size": 50, "device": "cpu", "seed": 0, "cache": False,
        "faithfulness": {"max_samples": 8},
    }, source="bench_render")
    start = time.perf_counter()
    pipeline.run_pipeline(config, run_dir)
    return time.perf_counter() - start


@contextlib.contextmanager
def timed_stages(spent: dict[str, float]):
    """Accumulate wall time spent inside ``pipeline``'s report functions into ``spent``."""
    originals = {name: getattr(pipeline, name) for name in STAGES if hasattr(pipeline, name)}

    def wrap(name, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[STAGES[name]] += time.perf_counter() - start
        return timed

    for name, fn in originals.items():
        setattr(pipeline, name, wrap(name, fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(pipeline, name, fn)


def render_in_process(run_dir: Path) -> dict[str, float]:
    """One ``render_run``: total wall seconds and the per-stage breakdown."""
    spent: dict[str, float] = defaultdict(float)
    with timed_stages(spent):
        start = time.perf_counter()
        pipeline.render_run(run_dir)
        total = time.perf_counter() - start
    return {"total": total, **{s: spent[s] for s in STAGES.values()},
            "other": total - sum(spent.values())}


def cli_command(run_dir: Path) -> list[str]:
    script = Path(sys.executable).with_name("reportgen")
    prefix = [str(script)] if script.exists() else [sys.executable, "-m", "reportgen"]
    return [*prefix, "render", str(run_dir)]


def render_cli(run_dir: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cli_command(run_dir), capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"reportgen render failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


def images_in_run(run_dir: Path) -> int:
    facts = json.loads((run_dir / "facts.json").read_text(encoding="utf-8"))["facts"]
    return int(next(f["value"] for f in facts if f["id"] == "run.samples.total"))


def pdf_pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    return int(next(line.split()[-1] for line in info.stdout.splitlines()
                    if line.startswith("Pages:")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="build the run here (reused when it already holds run.json); "
                        "default: a temporary folder, removed afterwards")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        run_dir = args.run_dir or Path(tmp) / "run"
        build_s = None
        if not (run_dir / "run.json").is_file():
            build_s = round(build_run(run_dir, args.images), 1)
        load_before = os.getloadavg()
        first = render_in_process(run_dir)
        ours, cli = [], []
        for _ in range(args.repeats):
            ours.append(render_in_process(run_dir))
            cli.append(render_cli(run_dir))
        html = (run_dir / "report.html").read_text(encoding="utf-8")
        run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        result = {
            "images": images_in_run(run_dir),
            "classes": len(run["dataset"]["class_names"]),
            "models": len(run["models"]), "methods": len(run["methods"]),
            "build_run_s": build_s, "repeats": args.repeats,
            "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "loadavg_1min_before_after": [round(load_before[0], 2),
                                          round(os.getloadavg()[0], 2)],
            "ours_first_call_s": round(first["total"], 2),
            "ours_median_s": round(statistics.median(r["total"] for r in ours), 2),
            "ours_min_s": round(min(r["total"] for r in ours), 2),
            "cli_median_s": round(statistics.median(cli), 2),
            "cli_min_s": round(min(cli), 2),
            "breakdown_median_s": {s: round(statistics.median(r[s] for r in ours), 2)
                                   for s in (*STAGES.values(), "other")},
            "html_bytes": len(html.encode("utf-8")),
            "html_images": html.count("<img"),
            "pdf_bytes": (run_dir / "report.pdf").stat().st_size,
            "pdf_pages": pdf_pages(run_dir / "report.pdf"),
        }
    result["cli_over_ours"] = round(result["cli_median_s"] / result["ours_median_s"], 2)
    result["meets_target"] = max(result["ours_median_s"], result["cli_median_s"]) < TARGET_S
    print(json.dumps(result, indent=2))
    b = result["breakdown_median_s"]
    print("\n| run | ours: `render_run` median (min) | cli: `reportgen render` median (min) "
          "| cli / ours | ours: context+figures / HTML / PDF / other | HTML | PDF "
          "| target < 10 s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {result['classes']} classes x {result['models']} models x {result['methods']} "
          f"methods, {result['images']} images | {result['ours_median_s']:.2f} s "
          f"({result['ours_min_s']:.2f}) | {result['cli_median_s']:.2f} s "
          f"({result['cli_min_s']:.2f}) | {result['cli_over_ours']:.2f}x | "
          f"{b['context_and_figures']:.2f} / {b['html']:.2f} / {b['pdf']:.2f} / "
          f"{b['other']:.2f} s | {result['html_bytes'] / 1e6:.2f} MB, "
          f"{result['html_images']} images | {result['pdf_pages']} pages | "
          f"{'met' if result['meets_target'] else 'missed'} |")


if __name__ == "__main__":
    main()
