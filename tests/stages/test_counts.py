"""Sample counts are per sample (one object of an image), on real PASCAL-Part files.

../shared/data/pascal_part holds 4 images with 9 objects: 2008_000008 (person 0, horse 1),
2008_000009 (cow 0, cow 1), 2008_000019 (dog 0, dog 1, dog 2), 2008_000026 (person 0, dog 1).
Two sets of precomputed heatmaps ("a" and "b") explain them:

* object 2008_000019#1 has no heatmap in either set: nothing scores it -> excluded;
* object 2008_000019#0 has an all-zero (degenerate) heatmap in "a" only: "b" scores it, so
  it is scored, and counted as partial (it misses "a"'s scores);
* every other object is scored by both.

Hand count: total 9, scored 8, excluded 1, partial 1. (Before the counts were per sample,
the run counted distinct image ids with any exclusion: scored 8 of "9" as 9 - 1 image.)
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from reportgen.api import evaluate
from reportgen.data import load_dataset

pytestmark = pytest.mark.slow

MISSING = ("2008_000019", 1)
DEGENERATE_IN_A = ("2008_000019", 0)


def _archive(path, samples, degenerate: tuple | None) -> None:
    keep = [s for s in samples if (s.image_id, s.object_id) != MISSING]
    heat = []
    for s in keep:  # coarse heat on the object, 48 x 64 like a CAM
        mask = Image.fromarray(s.object_mask.astype(np.uint8) * 255).resize((64, 48))
        h = np.asarray(mask, np.float32) / 255 + 0.05
        heat.append(np.zeros_like(h) if (s.image_id, s.object_id) == degenerate else h)
    np.savez(path, heatmaps=np.stack(heat), ids=np.array([s.image_id for s in keep]),
             object_ids=np.array([s.object_id for s in keep]))


def test_counts_are_per_object_and_partial_samples_count_as_scored(real_data, tmp_path):
    root = real_data / "pascal_part"
    samples = list(load_dataset(root))
    assert len(samples) == 9  # the hand count's premise
    _archive(tmp_path / "a.npz", samples, DEGENERATE_IN_A)
    _archive(tmp_path / "b.npz", samples, None)
    out = tmp_path / "run"
    report = evaluate(dataset={"root": str(root), "format": "pascal_part"},
                      heatmaps=[{"method": "a", "path": str(tmp_path / "a.npz")},
                                {"method": "b", "path": str(tmp_path / "b.npz")}],
                      report={"gallery": False}, out=out)
    counts = {k: report.facts[f"run.samples.{k}"].value
              for k in ("total", "scored", "excluded", "partial")}
    assert counts == {"total": 9, "scored": 8, "excluded": 1, "partial": 1}
    record = json.loads((out / "run.json").read_text())
    assert record["samples"] == {"total": 9, "scored": 8, "excluded": 1, "partial": 1}
    exclusions = pd.read_csv(out / "exclusions.csv", dtype=str).fillna("")
    lost = set(zip(exclusions.image_id, exclusions.object_id, exclusions.method, strict=True))
    assert ("2008_000019", "1", "a") in lost and ("2008_000019", "1", "b") in lost
    assert ("2008_000019", "0", "a") in lost
    assert not any(m == "b" and o == "0" and i == "2008_000019" for i, o, m in lost)
    scored = report.scores[report.scores.model != "baseline"].drop_duplicates(
        ["image_id", "object_id"])
    assert len(scored) == 8
