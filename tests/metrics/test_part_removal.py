"""Part removal: the drop per part and its rank agreement with PH, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from reportgen.metrics.part_removal import part_removal_drops, rank_agreement
from reportgen.stages.counterfactual import agreement_rows


def test_the_drop_is_largest_for_the_part_the_model_reads():
    """A model whose class-0 probability is the mean red of the top-left quarter: removing that
    part (mean fill 0) drops it to 0; the other parts change nothing."""
    images = np.zeros((2, 4, 4, 3), np.float32)
    images[:, :2, :2, 0] = 255.0
    parts = np.zeros((2, 3, 4, 4), bool)
    parts[:, 0, :2, :2] = True      # the part the model reads
    parts[:, 1, 2:, 2:] = True      # another part
    parts[1, 2] = False             # part 2 absent from sample 1
    parts[0, 2, :2, 2:] = True

    def predict(batch):
        p0 = batch[:, :2, :2, 0].mean(axis=(1, 2)) / 255.0
        return np.stack([p0, 1 - p0], axis=1)

    target = np.array([0, 0])
    p0 = predict(images)[:, 0]
    drops = part_removal_drops(predict, images, parts, target, p0, "mean", 0,
                               np.zeros(3, np.float32))
    assert np.allclose(drops[:, 0], 1.0) and np.allclose(drops[:, 1], 0.0)
    assert drops[0, 2] == 0.0 and np.isnan(drops[1, 2])
    imputed = part_removal_drops(predict, images, parts, target, p0, "impute", 0,
                                 np.zeros(3, np.float32))
    # Imputation fills the quarter from its (black) neighbours: nearly all of it is lost.
    assert imputed[0, 0] > 0.9 and abs(imputed[0, 1]) < 1e-6


def test_rank_agreement_is_spearman_over_the_parts_present_in_both():
    rng = np.random.default_rng(0)
    ph, drop = rng.random((20, 6)), rng.random((20, 6))
    ph[3, 1] = np.nan
    drop[5, 2] = np.nan
    rho = rank_agreement(ph, drop)
    for i in range(20):
        ok = np.isfinite(ph[i]) & np.isfinite(drop[i])
        assert np.isclose(rho[i], stats.spearmanr(ph[i, ok], drop[i, ok]).statistic)
    assert rank_agreement(np.array([[1.0, 2.0, 3.0]]), np.array([[3.0, 2.0, 1.0]]))[0] == -1
    few = rank_agreement(np.array([[1.0, 2.0, np.nan]]), np.array([[1.0, 2.0, 3.0]]))
    flat = rank_agreement(np.array([[1.0, 1.0, 1.0]]), np.array([[1.0, 2.0, 3.0]]))
    assert np.isnan(few[0]) and np.isnan(flat[0])


def test_agreement_rows_pair_each_methods_ph_with_the_models_drops():
    def rows(method, metric, values):
        return pd.DataFrame({"image_id": "a", "object_id": 0, "class_name": "bird",
                             "target_class": "bird", "predicted_class": "bird",
                             "correct": True, "model": "m", "method": method,
                             "region": ["head", "body", "tail"], "metric": metric,
                             "value": values})

    scores = pd.concat([rows("gradcam", "pqah.ph", [0.9, 0.5, 0.1]),
                        rows("gradcam++", "pqah.ph", [0.1, 0.5, 0.9])], ignore_index=True)
    removal = rows("part_removal", "part.removal_drop", [0.3, 0.2, 0.0])
    out = agreement_rows(scores, removal).set_index("method")
    assert out.loc["gradcam", "value"] == 1.0 and out.loc["gradcam++", "value"] == -1.0
    assert set(out.metric) == {"part.rank_agreement"} and set(out.region) == {"object"}
