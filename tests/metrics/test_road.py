import math

import numpy as np
import pytest
import torch
from pytorch_grad_cam.metrics.road import (
    ROADCombined,
    ROADLeastRelevantFirst,
    ROADMostRelevantFirst,
)
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget
from torch import nn

from reportgen.metrics.faithfulness import TargetProbability
from reportgen.metrics.registry import METRICS
from reportgen.metrics.road import (
    DEFAULT_FRACTIONS,
    RoadConfig,
    relevance_ranks,
    removal_counts,
    road_curves,
)

PATCH = np.zeros((4, 4), bool)
PATCH[1:3, 1:3] = True  # the object: the centre 2 x 2 pixels of a 4 x 4 image


def patch_model() -> nn.Module:
    """Linear model over a 4 x 4 RGB image: logit 1 = mean over channels summed over the patch,
    logit 0 = 0, so P(class 1) = sigmoid(evidence on the patch). Its correct heatmap is PATCH."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 2, bias=False))
    weight = torch.zeros(2, 3, 4, 4)
    weight[1, :, torch.from_numpy(PATCH)] = 1 / 3
    with torch.no_grad():
        model[1].weight.copy_(weight.view(2, 48))
    return model.eval()


def patch_image(value: float = 0.5) -> torch.Tensor:
    x = torch.zeros(1, 3, 4, 4)
    x[:, :, torch.from_numpy(PATCH)] = value
    return x


def sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def curves_for(heatmap: np.ndarray, **config):
    model = patch_model()
    config = RoadConfig(**{"noise_std": 0.0, **config})
    return road_curves(TargetProbability(model), patch_image(),
                       torch.as_tensor(heatmap, dtype=torch.float32)[None], torch.tensor([1]),
                       config)


def test_removing_the_whole_object_first_leaves_chance_and_removing_background_changes_nothing():
    # 4 of 16 pixels are removed at p = 0.25. MoRF removes the patch: imputed from zeros, its
    # evidence is 0 and P = 0.5. LeRF removes background, which carries no weight: P = sigmoid(2).
    curves = curves_for(PATCH.astype(float), fractions=(0.25,))
    assert curves.morf[0, 0] == pytest.approx(0.5, abs=1e-6)
    assert curves.lerf[0, 0] == pytest.approx(sigmoid(2.0), abs=1e-6)
    assert curves.combined[0] == pytest.approx((sigmoid(2.0) - 0.5) / 2, abs=1e-6)


def test_morf_drops_faster_than_lerf_for_the_correct_heatmap_and_not_for_the_inverted_one():
    correct = curves_for(PATCH.astype(float))
    inverted = curves_for(1.0 - PATCH)
    assert (correct.morf <= correct.lerf + 1e-9).all() and correct.combined[0] > 0.05
    assert (inverted.lerf <= inverted.morf + 1e-9).all() and inverted.combined[0] < -0.05


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                         nn.Flatten(), nn.Linear(16, 3)).eval()


def noise_free(metric):
    metric.perturbation.imputer.noise = 0.0
    return metric


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # numpy on tensors, inside grad-cam
def test_agrees_with_pytorch_grad_cam_road_without_noise():
    model, generator = small_net(), torch.Generator().manual_seed(3)
    inputs = torch.randn(4, 3, 12, 12, generator=generator)
    heat = torch.rand(4, 12, 12, generator=generator)  # no ties: both remove the same pixels
    targets = torch.tensor([0, 1, 2, 0])
    probability = TargetProbability(model)
    curves = road_curves(probability, inputs, heat, targets, RoadConfig(noise_std=0.0))
    clean = probability(inputs, targets).numpy()
    cams, scored = heat.numpy(), [ClassifierOutputSoftmaxTarget(int(t)) for t in targets]
    for j, p in enumerate(DEFAULT_FRACTIONS):
        percentile = round(100 * (1 - p))
        morf = noise_free(ROADMostRelevantFirst(percentile))(inputs, cams, scored, model)
        lerf = noise_free(ROADLeastRelevantFirst(percentile))(inputs, cams, scored, model)
        np.testing.assert_allclose(curves.morf[:, j] - clean, morf, atol=1e-3)
        np.testing.assert_allclose(curves.lerf[:, j] - clean, lerf, atol=1e-3)
    combined = ROADCombined()
    combined.morf_averager.imputer = lambda q: noise_free(ROADMostRelevantFirst(q))
    combined.lerf_averager.imputer = lambda q: noise_free(ROADLeastRelevantFirst(q))
    np.testing.assert_allclose(curves.combined, combined(inputs, cams, scored, model), atol=1e-3)
    assert np.ptp(curves.morf) > 1e-2  # the curves move: agreement is not trivial


@pytest.mark.parametrize("n", [2, 16, 144, 576, 50176])
def test_removal_counts_follow_numpys_percentile_convention_like_pytorch_grad_cam(n):
    heat = np.random.default_rng(n).random(n)
    counts = removal_counts(n, DEFAULT_FRACTIONS)
    for p, k in zip(DEFAULT_FRACTIONS, counts, strict=True):
        kept = (heat < np.percentile(heat, round(100 * (1 - p)))).sum()  # grad-cam's MoRF rule
        assert k == n - kept
        assert 1 <= k <= n - 1


def test_ties_are_broken_by_a_seeded_random_order():
    flat = np.zeros((8, 8))
    a, b = relevance_ranks(flat, (0, 1)), relevance_ranks(flat, (0, 2))
    assert sorted(a.ravel().tolist()) == list(range(64))
    np.testing.assert_array_equal(a, relevance_ranks(flat, (0, 1)))
    assert not np.array_equal(a, b)
    ranked = relevance_ranks(np.arange(64.0).reshape(8, 8), 0)
    assert ranked[7, 7] == 0 and ranked[0, 0] == 63  # rank 0 = most relevant


def test_results_are_seeded_and_do_not_depend_on_batching_or_threads():
    model, generator = small_net(), torch.Generator().manual_seed(5)
    inputs = torch.randn(3, 3, 10, 10, generator=generator)
    heat = torch.rand(3, 10, 10, generator=generator)
    targets = torch.tensor([2, 1, 0])
    probability = TargetProbability(model)

    def run(**config):
        return road_curves(probability, inputs, heat, targets, RoadConfig(**config))

    a = run(seed=1, max_batch=64, workers=2)
    b = run(seed=1, max_batch=1, workers=1)
    c = run(seed=2)
    np.testing.assert_allclose(a.morf, b.morf, atol=1e-6)
    np.testing.assert_allclose(a.lerf, b.lerf, atol=1e-6)
    assert not np.allclose(a.morf, c.morf, atol=1e-7)


@pytest.mark.parametrize("fractions", [(), (0.0, 0.5), (0.5, 1.0), (0.6, 0.4), (0.3, 0.3)])
def test_fractions_must_increase_within_zero_and_one(fractions):
    with pytest.raises(ValueError, match="fractions"):
        RoadConfig(fractions=fractions)


def test_road_metrics_are_registered_per_image_with_their_direction():
    assert METRICS["road.combined"].direction == "higher"
    assert METRICS["road.morf"].direction == "lower"
    assert METRICS["road.lerf"].direction == "higher"
    assert {METRICS[m].level for m in ("road.combined", "road.morf", "road.lerf")} == {"object"}
    assert "blurry" in METRICS["road.combined"].meaning  # the caveat travels with the metric
