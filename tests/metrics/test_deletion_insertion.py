"""Deletion and insertion (RISE): known answers on a model that reads one region, and the
batched curves against a straightforward per-step re-implementation of RISE's CausalMetric."""

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from torch import nn

from reportgen.config import FaithfulnessSettings
from reportgen.metrics.deletion_insertion import (
    DeletionInsertionConfig,
    deletion_insertion_curves,
    rise_auc,
    step_counts,
)
from reportgen.metrics.faithfulness import FaithfulnessConfig, TargetProbability, score_faithfulness
from reportgen.metrics.registry import get_metric

SIZE = 8
PATCH = np.zeros((SIZE, SIZE), bool)
PATCH[2:4, 5:7] = True  # the only region the model reads: 4 of 64 pixels


def patch_model() -> nn.Module:
    """logit 1 = sum over PATCH of the channel mean, logit 0 = 0: P(class 1) = sigmoid(evidence
    on the patch), so deleting a patch pixel of value v lowers the logit by v."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * SIZE * SIZE, 2, bias=False))
    weight = torch.zeros(2, 3, SIZE, SIZE)
    weight[1, :, torch.from_numpy(PATCH)] = 1 / 3
    with torch.no_grad():
        model[1].weight.copy_(weight.view(2, -1))
    return model.eval()


def patch_image() -> torch.Tensor:
    x = torch.zeros(1, 3, SIZE, SIZE)
    x[:, :, torch.from_numpy(PATCH)] = 0.5
    return x


def sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def curves_for(heatmap: np.ndarray, steps: int = SIZE * SIZE):
    return deletion_insertion_curves(
        TargetProbability(patch_model()), patch_image(),
        torch.as_tensor(heatmap, dtype=torch.float32)[None], torch.tensor([1]),
        DeletionInsertionConfig(steps=steps))


def ordered_patch_heatmap() -> np.ndarray:
    """Highest on the patch (distinct values), low and distinct elsewhere."""
    heat = np.linspace(0.0, 0.5, SIZE * SIZE).reshape(SIZE, SIZE)
    heat[PATCH] = [1.0, 0.9, 0.8, 0.7]
    return heat


def test_deletion_curve_of_the_right_heatmap_falls_by_one_patch_pixel_per_step():
    # One pixel per step: the logit goes 2, 1.5, 1, 0.5, then 0 for the remaining 60 steps.
    curves = curves_for(ordered_patch_heatmap())
    expected = np.array([sigmoid(2 - 0.5 * k) for k in range(5)] + [0.5] * 60)
    np.testing.assert_allclose(curves.deletion[0], expected, atol=1e-6)
    assert curves.deletion_auc[0] == pytest.approx(
        (expected.sum() - expected[0] / 2 - expected[-1] / 2) / 64, abs=1e-6)
    np.testing.assert_allclose(curves.fractions, np.arange(65) / 64)


def test_right_heatmap_deletes_low_and_inserts_high_and_the_wrong_one_the_opposite():
    right = curves_for(ordered_patch_heatmap(), steps=16)
    wrong = curves_for(1.0 - ordered_patch_heatmap(), steps=16)  # patch last
    assert right.deletion_auc[0] < 0.52 < wrong.deletion_auc[0]
    assert right.insertion_auc[0] > wrong.insertion_auc[0] + 0.1
    assert right.deletion_auc[0] < right.insertion_auc[0]
    assert wrong.deletion_auc[0] > wrong.insertion_auc[0]
    # Both curves end where they must: deletion at the all-zero image (logit 0), insertion at
    # the unmodified image.
    for c in (right, wrong):
        assert c.deletion[0, -1] == pytest.approx(0.5, abs=1e-6)
        assert c.insertion[0, -1] == pytest.approx(sigmoid(2.0), abs=1e-6)


def rise_gkern(klen: int, nsig: float) -> torch.Tensor:
    """RISE's gkern: (3, 3, klen, klen), the smoothed impulse on the channel diagonal."""
    impulse = np.zeros((klen, klen))
    impulse[klen // 2, klen // 2] = 1
    k = gaussian_filter(impulse, nsig)
    kern = np.zeros((3, 3, klen, klen), "float32")
    for c in range(3):
        kern[c, c] = k
    return torch.from_numpy(kern)


def rise_reference(model, img, explanation, mode, step, target):
    """RISE's CausalMetric.single_run, per step, one image (softmax model, given target)."""
    _, c, h, w = img.shape
    hw = h * w
    if mode == "del":
        start, finish = img.clone(), torch.zeros_like(img)
    else:
        start = nn.functional.conv2d(img, rise_gkern(11, 5), padding=11 // 2)
        finish = img.clone()
    n_steps = (hw + step - 1) // step
    scores = np.empty(n_steps + 1)
    salient_order = np.flip(np.argsort(explanation.reshape(-1, hw), axis=1), axis=-1)
    for i in range(n_steps + 1):
        with torch.no_grad():
            scores[i] = torch.softmax(model(start).double(), 1)[0, target].item()
        if i < n_steps:
            coords = torch.from_numpy(salient_order[0, step * i:step * (i + 1)].copy())
            start.view(c, hw)[:, coords] = finish.view(c, hw)[:, coords]
    return scores


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(3),
                         nn.Flatten(), nn.Linear(54, 4)).eval()


def test_batched_curves_equal_a_per_step_reimplementation_of_rise():
    model = small_net()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 3, 12, 12, generator=gen)
    heat = torch.rand(3, 12, 12, generator=gen)  # no ties
    targets = torch.tensor([0, 3, 1])
    config = DeletionInsertionConfig(steps=10, max_batch=7)  # step 15, a partial last step
    curves = deletion_insertion_curves(TargetProbability(model, 5), x, heat, targets, config)
    for i in range(3):
        for mode, got in (("del", curves.deletion[i]), ("ins", curves.insertion[i])):
            expected = rise_reference(model, x[i:i + 1].clone(), heat[i].numpy(), mode, 15,
                                      int(targets[i]))
            np.testing.assert_allclose(got, expected, atol=1e-6)
    assert curves.deletion.shape == (3, 11)
    assert curves.fractions[-1] == 1.0 and curves.fractions[-2] == 135 / 144


def test_step_counts_and_auc():
    np.testing.assert_array_equal(step_counts(144, 10), [0, 15, 30, 45, 60, 75, 90, 105, 120,
                                                         135, 144])
    np.testing.assert_array_equal(step_counts(5, 32), [0, 1, 2, 3, 4, 5])
    assert rise_auc(np.array([1.0, 0.0])) == pytest.approx(0.5)
    assert rise_auc(np.array([[1.0, 1.0, 1.0]]))[0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        DeletionInsertionConfig(steps=0)
    with pytest.raises(ValueError):
        DeletionInsertionConfig(blur_size=4)


def test_metadata_declares_direction_range_and_reference():
    deletion, insertion = get_metric("faith.deletion_auc"), get_metric("faith.insertion_auc")
    assert (deletion.direction, insertion.direction) == ("lower", "higher")
    assert deletion.range == insertion.range == (0.0, 1.0)
    assert "RISE" in deletion.reference and "1806.07421" in insertion.reference


def test_score_faithfulness_adds_the_aucs_only_when_selected_and_excludes_bad_heatmaps():
    model = small_net()
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(3, 3, 12, 12, generator=gen)
    heat = torch.rand(3, 12, 12, generator=gen)
    heat[1] = 0  # degenerate: excluded
    targets = torch.tensor([0, 1, 2])
    off = score_faithfulness(model, x, heat, targets, FaithfulnessConfig(fractions=(0.5,)))
    assert "faith.deletion_auc" not in off.values and off.deletion_insertion is None
    config = FaithfulnessConfig(fractions=(0.5,), deletion_insertion=True, deletion_steps=8)
    on = score_faithfulness(model, x, heat, targets, config)
    assert 1 in on.excluded
    for metric in ("faith.deletion_auc", "faith.insertion_auc"):
        assert np.isnan(on.values[metric][1]) and np.isfinite(on.values[metric][[0, 2]]).all()
    alone = deletion_insertion_curves(TargetProbability(model), x[[0, 2]], heat[[0, 2]],
                                      targets[[0, 2]], DeletionInsertionConfig(steps=8))
    np.testing.assert_allclose(on.values["faith.deletion_auc"][[0, 2]], alone.deletion_auc,
                               atol=1e-9)
    np.testing.assert_allclose(on.deletion_insertion.insertion[[0, 2]], alone.insertion,
                               atol=1e-9)


def test_the_run_config_selects_them():
    settings = FaithfulnessSettings(deletion_insertion=True, deletion_steps=12)
    config = settings.metric_config(seed=3)
    assert config.deletion_insertion and config.deletion_insertion_config.steps == 12
    assert not FaithfulnessSettings().metric_config(0).deletion_insertion
