"""Reading while the model runs: DataLoader workers vs reading in the main process.

    .venv/bin/python benchmarks/bench_loader.py [--images 256] [--size 448] [--batch 16]

A folder dataset of ``--images`` JPEG photos-like images (smooth random colour fields with
noise, so decoding costs what a photo does) with label maps, written once to a temporary
folder. Each variant streams every sample through ``reportgen.data.loader.iter_batches`` and
runs Grad-CAM (our fast path) on a ResNet-18 with random weights, batch ``--batch``, CPU: the
heatmap stage of ``reportgen run``. Reported: images/s end to end, per variant, same run; and
the read-only rate (no model) for scale. Results are checked to be identical first.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from reportgen.data.loader import iter_batches
from reportgen.data.spec import load_dataset
from reportgen.heatmaps import HeatmapCache, HeatmapEngine, make_method
from reportgen.models.loading import ModelSpec, load_model
from reportgen.models.preprocessing import Preprocessing


def write_dataset(root: Path, count: int, size: int) -> None:
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    labels = np.zeros((size, size), np.uint8)
    labels[size // 4: size // 2, size // 4: 3 * size // 4] = 1
    labels[size // 2: 7 * size // 8, size // 8: 7 * size // 8] = 2
    Image.fromarray(labels).save(root / "labels" / "shared.png")
    samples = []
    for i in range(count):
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        field = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BICUBIC))
        noisy = np.clip(field + rng.normal(0, 12, field.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(root / "images" / f"{i:05d}.jpg", quality=90)
        samples.append({"id": f"{i:05d}", "image": f"images/{i:05d}.jpg",
                        "labels": "labels/shared.png", "class": "ab"[i % 2]})
    (root / "dataset.json").write_text(json.dumps({"classes": ["a", "b"],
                                                   "parts": ["head", "body"],
                                                   "samples": samples}))


def run(root: Path, workers: int, batch: int, engine: HeatmapEngine | None) -> tuple[float, list]:
    start = time.perf_counter()
    checksums = []
    for items in iter_batches(load_dataset(root), batch, workers):
        if engine is not None:
            heat = engine.explain([s.image for s in items])
            checksums.append(float(np.asarray(heat.heatmaps).sum()))
        else:
            checksums.append(sum(int(s.image[0, 0, 0]) for s in items))
    return time.perf_counter() - start, checksums


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--size", type=int, default=448)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    spec = ModelSpec("resnet18", "resnet18", 2, preprocessing=Preprocessing(224))
    model = load_model(spec)
    engine = HeatmapEngine(model, make_method("gradcam"), HeatmapCache.open("/", enabled=False))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "photos"
        write_dataset(root, args.images, args.size)
        run(root, 0, args.batch, engine)  # warm-up: first-call costs out of the timing
        results = {}
        for label, workers, eng in (("read only, main process", 0, None),
                                    (f"read only, {args.workers} workers", args.workers, None),
                                    ("read + Grad-CAM, main process", 0, engine),
                                    (f"read + Grad-CAM, {args.workers} workers", args.workers,
                                     engine)):
            seconds, sums = run(root, workers, args.batch, eng)
            results[label] = (args.images / seconds, sums)
    base = results["read + Grad-CAM, main process"]
    loaded = results[f"read + Grad-CAM, {args.workers} workers"]
    assert np.allclose(base[1], loaded[1]), "workers changed the heatmaps"
    print(f"machine: {platform.machine()}, torch threads {torch.get_num_threads()}, "
          f"{args.images} JPEGs of {args.size} px, batch {args.batch}")
    print("| variant | images/s | vs main process |")
    print("| --- | --- | --- |")
    for label, (rate, _) in results.items():
        ref = results["read only, main process" if "read only" in label else
                      "read + Grad-CAM, main process"][0]
        print(f"| {label} | {rate:.1f} | {rate / ref:.2f}x |")


if __name__ == "__main__":
    main()
