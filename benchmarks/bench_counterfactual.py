"""The counterfactual stage (background swap + part removal) against forward-only inference.

    .venv/bin/python benchmarks/bench_counterfactual.py [--photos 32] [--repeats 2]

EfficientNet-Lite0 (ImageNet weights from its pip package) on the Clothing Co-Parsing photos
in ../shared/data/ccp (ten part groups, the recipe of bench_pipeline.py), CPU, in one process:

* forward-only: preprocess + ``model(x)`` under ``torch.inference_mode()`` on the kept images
  at the model's input size: the floor of one pass per image;
* swap: the background swap (imputation of every object, then the unmodified image and four
  variants: 5 passes per image);
* swap + parts: the same plus part removal (one imputation and one pass per part present).

The stage should cost about the forward passes it needs, no more: printed are each variant's
seconds, the passes it needs, and ``overhead`` = seconds / (passes x forward-only seconds per
pass), 1.0 meaning "as cheap as its forward passes"; and the split into imputation and the
rest. Timed runs are interleaved, best of ``--repeats``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_pipeline import config as ccp_config

import reportgen.metrics.background_swap as swap_module
import reportgen.metrics.part_removal as part_module
from reportgen.stages.counterfactual import CounterfactualStage
from reportgen.stages.load import open_inputs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get(
        "REPORTGEN_REAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")))
    args = parser.parse_args()
    torch.manual_seed(0)
    base = ccp_config(args.data / "ccp", args.photos, 16)
    scratch = Path(tempfile.mkdtemp(prefix="bench-counterfactual-"))
    inputs = open_inputs(base, scratch)
    batches = list(inputs.batches())
    model = inputs.models[0]

    def stage_for(parts: bool) -> CounterfactualStage:
        cfg = base.model_copy(update={"counterfactual": base.counterfactual.model_copy(
            update={"part_removal": parts, "max_samples": None})})
        stage = CounterfactualStage(type(inputs)(**{**inputs.__dict__, "config": cfg}))
        for b in batches:
            stage.update(b)
        return stage

    swap_stage, parts_stage = stage_for(False), stage_for(True)
    held = swap_stage._at[model.spec.preprocessing.size]
    images = np.stack(held.images)
    n = len(images)
    part_count = int(sum(np.unpackbits(p, axis=-1).reshape(len(p), -1).any(axis=1).sum()
                         for p in parts_stage._at[model.spec.preprocessing.size].parts))

    def forward_only() -> None:
        with torch.inference_mode():
            for start in range(0, n, base.batch_size):
                model.module(model.spec.preprocessing(list(images[start:start + 16]),
                                                      model.device))

    imputing = {"s": 0.0}
    original = swap_module.impute

    def timed_impute(task):
        start = time.perf_counter()
        try:
            return original(task)
        finally:
            imputing["s"] += time.perf_counter() - start  # summed over the pool's threads

    swap_module.impute = part_module.impute = timed_impute
    forward_only()
    best = {"forward-only": float("inf"), "swap": float("inf"), "swap + parts": float("inf")}
    impute_s = {}
    for _ in range(args.repeats):
        for name, fn in (("forward-only", forward_only), ("swap", swap_stage.compute),
                         ("swap + parts", parts_stage.compute)):
            imputing["s"] = 0.0
            start = time.perf_counter()
            fn()
            seconds = time.perf_counter() - start
            if seconds < best[name]:
                best[name], impute_s[name] = seconds, imputing["s"]
    per_pass = best["forward-only"] / n
    passes = {"swap": 5 * n, "swap + parts": 5 * n + part_count + n}
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
                   f"{torch.get_num_threads()} threads",
        "images": n, "parts_present": part_count, "repeats": args.repeats,
        "seconds": {k: round(v, 2) for k, v in best.items()},
        "forward_passes": passes,
        "overhead_vs_its_forward_passes": {k: round(best[k] / (p * per_pass), 2)
                                           for k, p in passes.items()},
        "ratio_forward_only_over_stage": {k: round(best["forward-only"] / best[k], 3)
                                          for k in passes},
        "imputation_thread_seconds": {k: round(impute_s[k], 2) for k in passes},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
