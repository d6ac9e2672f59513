"""ROAD speed: ours (``road_curves``) vs pytorch-grad-cam's ``ROADCombined``, same run and inputs.

    .venv/bin/python benchmarks/bench_road.py [--images 16] [--size 224] [--device cpu]
                                              [--repeats 1]

ResNet-18 with random weights (10 classes, seeded), smooth random images and heatmaps (no tied
heat values), target = the predicted class, fractions 0.1 ... 0.9. Both run with the
imputation noise off so that their results can be compared: pytorch-grad-cam's stock
``ROADCombined`` object, with the percentile metrics it builds given a noise-free
``NoisyLinearImputer`` (same code path otherwise). The check: per-image combined scores equal
within 1e-4. Wall and process CPU times (all threads) include everything each needs (ours:
the forward passes of the imputed copies; pytorch-grad-cam: also its 18 clean forward passes).
On a busy machine the CPU-time ratio is the steadier number; ``--repeats`` interleaves the
two and keeps the best of each, and the load average is printed.

The floor: ``forward_only`` times the model on the same 2 x F x N copies without imputing
them (ours must do at least that); ``ceiling_*`` = reference / forward_only is the ratio ours
would reach with free solves. With 18 forward passes per image in ours and 36 in
pytorch-grad-cam, the CPU-time ceiling is about reference-solve-time / forward-time + 2.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from pytorch_grad_cam.metrics.road import (
    ROADCombined,
    ROADLeastRelevantFirst,
    ROADMostRelevantFirst,
)
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

from reportgen.metrics.faithfulness import TargetProbability
from reportgen.metrics.road import DEFAULT_FRACTIONS, RoadConfig, road_curves


def noise_free(metric_cls):
    """A percentile -> ROAD metric factory whose imputer adds no noise."""
    def build(percentile):
        metric = metric_cls(percentile)
        metric.perturbation.imputer.noise = 0.0
        return metric
    return build


def smooth_random(shape: tuple[int, ...], size: int, generator: torch.Generator) -> torch.Tensor:
    """(N, C, 7, 7) uniform noise upsampled (bicubic) to size x size, plus per-pixel jitter."""
    coarse = torch.rand(*shape[:-2], 7, 7, generator=generator)
    fine = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    return fine + 1e-3 * torch.rand(fine.shape, generator=generator)


def reference_scores(inputs, heatmaps, targets, model) -> np.ndarray:
    """pytorch-grad-cam's ``ROADCombined`` per-image scores, imputation noise off."""
    reference = ROADCombined(percentiles=[round(100 * (1 - p)) for p in DEFAULT_FRACTIONS])
    reference.morf_averager.imputer = noise_free(ROADMostRelevantFirst)
    reference.lerf_averager.imputer = noise_free(ROADLeastRelevantFirst)
    return reference(inputs, heatmaps.numpy(), [ClassifierOutputSoftmaxTarget(int(t))
                                                for t in targets], model)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval().to(device)
    n, s = args.images, args.size
    inputs = (4 * smooth_random((n, 3, s, s), s, generator) - 2).to(device)
    heatmaps = smooth_random((n, 1, s, s), s, generator)[:, 0]
    with torch.no_grad():
        targets = model(inputs).argmax(dim=1)
    probability = TargetProbability(model, args.max_batch)
    config = RoadConfig(DEFAULT_FRACTIONS, noise_std=0.0, workers=args.workers,
                        max_batch=args.max_batch)

    road_curves(probability, inputs[:1], heatmaps[:1].to(device), targets[:1], config)  # warm-up
    copies = inputs.repeat(2 * len(DEFAULT_FRACTIONS), 1, 1, 1)
    load_before = os.getloadavg()

    def timed(fn):
        start, cpu = time.perf_counter(), time.process_time()
        out = fn()
        return out, time.perf_counter() - start, time.process_time() - cpu

    t_ours = cpu_ours = t_fwd = cpu_fwd = t_ref = cpu_ref = float("inf")
    expected = None
    for _ in range(args.repeats):
        curves, t, c = timed(lambda: road_curves(probability, inputs, heatmaps.to(device),
                                                 targets, config))
        t_ours, cpu_ours = min(t_ours, t), min(cpu_ours, c)
        _, t, c = timed(lambda: probability(copies, targets.repeat(2 * len(DEFAULT_FRACTIONS))))
        t_fwd, cpu_fwd = min(t_fwd, t), min(cpu_fwd, c)
        if not args.skip_reference:
            expected, t, c = timed(lambda: reference_scores(inputs, heatmaps, targets, model))
            t_ref, cpu_ref = min(t_ref, t), min(cpu_ref, c)
    result = {
        "images": n, "size": s, "fractions": len(DEFAULT_FRACTIONS), "device": str(device),
        "torch_threads": torch.get_num_threads(), "cpus": len(os.sched_getaffinity(0)),
        "cpu": platform.processor() or platform.machine(), "ours_s": round(t_ours, 2),
        "ours_cpu_s": round(cpu_ours, 2),
        "ours_workers": config.threads, "repeats": args.repeats,
        "forward_only_s": round(t_fwd, 2), "forward_only_cpu_s": round(cpu_fwd, 2),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "combined_mean": round(float(curves.combined.mean()), 5),
        "morf_mean": round(float(curves.morf.mean()), 5),
        "lerf_mean": round(float(curves.lerf.mean()), 5),
    }
    if expected is not None:
        diff = float(np.abs(curves.combined - expected).max())
        result.update({
            "reference_s": round(t_ref, 2), "reference_cpu_s": round(cpu_ref, 2),
            "speedup": round(t_ref / t_ours, 2), "cpu_ratio": round(cpu_ref / cpu_ours, 2),
            "ceiling_speedup": round(t_ref / t_fwd, 2),
            "ceiling_cpu_ratio": round(cpu_ref / cpu_fwd, 2),
            "max_abs_diff_combined": diff, "equal_within_1e-4": diff <= 1e-4,
        })
    print(json.dumps(result, indent=2))
    if not result.get("equal_within_1e-4", True):
        raise SystemExit("results differ")


if __name__ == "__main__":
    main()
