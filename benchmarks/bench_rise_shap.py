"""Cost of shap_gradient and of RISE's deletion/insertion, as ratios to Grad-CAM in the same run.

    .venv/bin/python benchmarks/bench_rise_shap.py [--arch resnet18] [--images 8] [--size 224]
                                                   [--steps 32] [--repeats 3] [--device cpu]

Random-weight torchvision model (seeded, nothing downloaded), target layer from the
architecture's default, the predicted class. Interleaved, best of ``--repeats``, per image:
* ``gradcam``: ``make_method("gradcam").explain`` (the unit of the ratios);
* ``shap_gradient`` with its defaults (32 draws, one backward pass each) and captum's
  ``gradient_shap`` (16 draws x 5 baselines) for comparison;
* ``deletion_insertion``: both RISE curves at ``--steps`` steps from the Grad-CAM heatmaps
  (``deletion_insertion_curves``, clean probability reused), next to ``road`` (ROAD's 18 imputed
  copies, ``road_curves``), the other per-image curve metric.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from reportgen.heatmaps import make_method
from reportgen.metrics.deletion_insertion import DeletionInsertionConfig, deletion_insertion_curves
from reportgen.metrics.faithfulness import TargetProbability
from reportgen.metrics.road import RoadConfig, road_curves
from reportgen.models.loading import ModelSpec, load_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-captum", action="store_true")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = load_model(ModelSpec(args.arch, args.arch, 1000), args.device)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(args.images, 3, args.size, args.size, generator=generator).to(model.device)
    gradcam = make_method("gradcam")
    cams = gradcam.explain(model, x)
    heat = cams.heatmaps.float()
    probability = TargetProbability(model.module)
    runs = {
        "gradcam": lambda: gradcam.explain(model, x),
        "shap_gradient": lambda: make_method("shap_gradient").explain(model, x),
        "deletion_insertion": lambda: deletion_insertion_curves(
            probability, x, heat, cams.classes, DeletionInsertionConfig(steps=args.steps)),
        "road": lambda: road_curves(probability, x, heat, cams.classes, RoadConfig()),
    }
    if not args.skip_captum:
        runs["gradient_shap (captum)"] = lambda: make_method("gradient_shap").explain(model, x)
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(args.repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    per_image = {k: v / args.images for k, v in best.items()}
    result = {
        "arch": args.arch, "images": args.images, "size": args.size, "steps": args.steps,
        "device": str(model.device), "torch_threads": torch.get_num_threads(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "seconds_per_image": {k: round(v, 4) for k, v in per_image.items()},
        "ratio_to_gradcam": {k: round(v / per_image["gradcam"], 1) for k, v in per_image.items()},
        "deletion_auc_mean": None, "insertion_auc_mean": None,
    }
    curves = deletion_insertion_curves(probability, x, heat, cams.classes,
                                       DeletionInsertionConfig(steps=args.steps))
    result["deletion_auc_mean"] = round(float(np.mean(curves.deletion_auc)), 4)
    result["insertion_auc_mean"] = round(float(np.mean(curves.insertion_auc)), 4)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
