"""PQAH scoring throughput: ours vs a per-region numpy loop vs the memory-bound floor.

    .venv/bin/python benchmarks/bench_pqah.py [--samples 2000] [--size 224] [--regions 11]

All three are timed in the same run on the same arrays (float32 heatmaps, uint8 label maps),
in batches of ``--batch`` samples:
* ours: ``score_regions`` (normalisation + one bincount pass per batch for all regions);
* loop: the straightforward implementation, one masked sum per region (normalisation too);
* floor: one ``np.sum`` over the heatmaps, the least any exact scorer must read.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from reportgen.metrics.pqah import score_regions


def per_region_loop(heat: np.ndarray, labels: np.ndarray, num_regions: int) -> np.ndarray:
    h = np.clip(heat, 0, None)
    h = h / h.max(axis=(1, 2), keepdims=True)
    valid = labels != 255
    total = (h * valid).sum(axis=(1, 2))
    ph = np.full((len(h), num_regions), np.nan)
    for r in range(num_regions):
        mask = labels == r
        area = mask.sum(axis=(1, 2))
        overlap = (h * mask).sum(axis=(1, 2))
        ph[:, r] = np.where(area > 0, 2 * overlap / (total + area), np.nan)
    return ph


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--regions", type=int, default=11)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    n, s, k = args.samples, args.size, args.regions
    heat = rng.random((n, s, s), dtype=np.float32)
    # Blocky label maps like real part masks (regions of 16x16 pixels), some void pixels.
    coarse = rng.integers(0, k, size=(n, s // 16 + 1, s // 16 + 1), dtype=np.uint8)
    labels = np.repeat(np.repeat(coarse, 16, axis=1), 16, axis=2)[:, :s, :s].copy()
    labels[:, :2] = 255
    batches = [slice(i, i + args.batch) for i in range(0, n, args.batch)]

    def ours():
        for b in batches:
            score_regions(heat[b], labels[b], k)

    def loop():
        for b in batches:
            per_region_loop(heat[b], labels[b], k)

    def floor():
        for b in batches:
            np.sum(heat[b])

    b0 = batches[0]
    np.testing.assert_allclose(score_regions(heat[b0], labels[b0], k).ph,
                               per_region_loop(heat[b0], labels[b0], k), rtol=1e-4)
    t_ours, t_loop, t_floor = (best_of(f, args.repeats) for f in (ours, loop, floor))
    result = {
        "samples": n, "size": s, "regions": k, "batch": args.batch,
        "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
        "ours_samples_per_s": round(n / t_ours, 1),
        "loop_samples_per_s": round(n / t_loop, 1),
        "floor_samples_per_s": round(n / t_floor, 1),
        "speedup_vs_loop": round(t_loop / t_ours, 2),
        "ours_over_floor": round(t_ours / t_floor, 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
