"""Grad-CAM throughput: ours (fast path) vs stock pytorch-grad-cam vs forward-only inference.

    .venv/bin/python benchmarks/bench_cam.py [--arch resnet50] [--batch 16] [--size 224]
                                             [--batches 1] [--repeats 3] [--device cpu]

ResNet-50 with random weights (seeded, nothing downloaded), target layer ``layer4``, the
predicted class. All three run in the same process on the same inputs, interleaved,
best of ``--repeats``:
* forward: ``model(x)`` under ``torch.inference_mode()`` (the physical floor, about 1x);
* stock:   ``pytorch_grad_cam.GradCAM(model, [layer4])(x, targets=None)``;
* ours:    ``make_method("gradcam").explain(model, x).to_batch()`` (heatmaps and predictions
  on the host, like stock's output).
Before timing, ours is checked against stock (max abs difference <= 1e-4).
Targets (issue 6): ours >= 2x stock and ours >= 0.6x forward-only.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import time

import numpy as np
import torch
from pytorch_grad_cam import GradCAM

from reportgen.heatmaps import make_method
from reportgen.heatmaps.reference import stock_heatmaps
from reportgen.models.loading import ModelSpec, load_model


def best_of_interleaved(runs: dict, repeats: int) -> dict[str, float]:
    """Seconds per run of each callable: the minimum over ``repeats`` interleaved rounds."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batches", type=int, default=1, help="batches per timed run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = load_model(ModelSpec(args.arch, args.arch, 1000), args.device)
    generator = torch.Generator().manual_seed(1)
    batches = [torch.randn(args.batch, 3, args.size, args.size, generator=generator)
               .to(model.device) for _ in range(args.batches)]
    gradcam = make_method("gradcam")

    def forward():
        with torch.inference_mode():
            for x in batches:
                model.module(x).argmax(1).cpu()

    def stock():
        for x in batches:
            with GradCAM(model=model.module, target_layers=[model.target_layer]) as cam:
                cam(input_tensor=x, targets=None)  # stock picks the predicted class itself

    def ours():
        for x in batches:
            gradcam.explain(model, x).to_batch()

    ours_first = gradcam.explain(model, batches[0]).to_batch()
    with contextlib.redirect_stdout(io.StringIO()):
        stock_first = stock_heatmaps(model, batches[0], "gradcam", ours_first.target)
    max_diff = float(np.abs(ours_first.heatmaps - stock_first).max())
    assert max_diff <= 1e-4, f"ours differs from stock by {max_diff}"

    times = best_of_interleaved({"forward": forward, "stock": stock, "ours": ours},
                                args.repeats)
    images = args.batch * args.batches
    rate = {name: images / t for name, t in times.items()}
    result = {
        "arch": args.arch, "batch": args.batch, "size": args.size, "images": images,
        "device": str(model.device), "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
        **{f"{name}_images_per_s": round(r, 2) for name, r in rate.items()},
        "ours_over_stock": round(rate["ours"] / rate["stock"], 2),
        "ours_over_forward": round(rate["ours"] / rate["forward"], 2),
        "max_abs_diff_vs_stock": max_diff,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
