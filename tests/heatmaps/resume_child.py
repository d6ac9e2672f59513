"""Child process of test_resume.py (not a test): explains 32 seeded images, 4 per batch,
into a heatmap cache, logging each finished batch; writes what it computed at the end."""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from reportgen.heatmaps import HeatmapCache, HeatmapEngine, make_method
from reportgen.models.loading import ModelSpec, load_model
from reportgen.models.preprocessing import Preprocessing

IMAGES, BATCH = 32, 4


def main(cache_dir: str, weights: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(ModelSpec("p", "partnet", 4, weights=Path(weights),
                                 preprocessing=Preprocessing(size=64)))
    images = np.random.default_rng(0).integers(0, 256, (IMAGES, 64, 64, 3), dtype=np.uint8)
    engine = HeatmapEngine(model, make_method("scorecam"), HeatmapCache(cache_dir))
    heatmaps, predicted = [], []
    for start in range(0, IMAGES, BATCH):
        batch = engine.explain(list(images[start:start + BATCH]))
        heatmaps.append(batch.heatmaps)
        predicted.append(batch.predicted)
        with open(out / "progress.log", "a") as log:
            log.write(f"batch {start // BATCH} done\n")
    np.save(out / "heatmaps.npy", np.concatenate(heatmaps))
    np.save(out / "predicted.npy", np.concatenate(predicted))
    (out / "counts.json").write_text(json.dumps({"computed": engine.computed,
                                                 "reused": engine.reused}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
