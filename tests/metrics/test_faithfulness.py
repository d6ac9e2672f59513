import math

import numpy as np
import pytest
import torch
from torch import nn

from reportgen.metrics.faithfulness import (
    FaithfulnessConfig,
    TargetProbability,
    gaussian_blur,
    occlusion_fill,
    score_faithfulness,
)
from reportgen.metrics.registry import METRICS, get_metric

PATCH = np.zeros((4, 4), bool)
PATCH[1:3, 1:3] = True  # the object: the centre 2 x 2 pixels of a 4 x 4 image
DISTRACTOR = (0, 0)  # a background pixel that counts against the class


def patch_model() -> nn.Module:
    """Linear model over a 4 x 4 RGB image: logit 1 = channel mean summed over the patch minus
    the channel mean at the distractor pixel; logit 0 = 0. So P(class 1) = sigmoid(logit 1)."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 2, bias=False))
    weight = torch.zeros(2, 3, 4, 4)
    weight[1, :, torch.from_numpy(PATCH)] = 1 / 3
    weight[1, :, DISTRACTOR[0], DISTRACTOR[1]] = -1 / 3
    with torch.no_grad():
        model[1].weight.copy_(weight.view(2, 48))
    return model.eval()


def patch_image(n: int = 1) -> torch.Tensor:
    """Patch pixels 0.5, distractor 0.5, the rest 0: logit 1 = 4 * 0.5 - 0.5 = 1.5."""
    x = torch.zeros(n, 3, 4, 4)
    x[:, :, torch.from_numpy(PATCH)] = 0.5
    x[:, :, DISTRACTOR[0], DISTRACTOR[1]] = 0.5
    return x


def sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def score(heatmaps, n: int = 1, **config):
    config = FaithfulnessConfig(**{"road_noise_std": 0.0, "fractions": (0.25, 0.5), **config})
    return score_faithfulness(patch_model(), patch_image(n), heatmaps, [1] * n, config)


Y = sigmoid(1.5)  # target probability of the unmodified image


def drop(o: float) -> float:
    return 100 * max(0.0, Y - o) / Y


def test_confidence_is_the_softmax_probability_of_the_target_class():
    probs = TargetProbability(patch_model())(patch_image(2), torch.tensor([1, 0]))
    np.testing.assert_allclose(probs.numpy(), [Y, 1 - Y], rtol=1e-6)


def test_multiplying_by_the_correct_heatmap_removes_the_distractor_and_raises_confidence():
    s = score(PATCH[None].astype(float))
    # x * H keeps the patch and zeroes the distractor: logit 2 > 1.5.
    assert s.values["faith.avg_drop"][0] == 0
    assert s.values["faith.increase_in_confidence"][0] == 100
    assert s.probability[0] == pytest.approx(Y)


def test_average_drop_is_relative_to_the_unmodified_confidence():
    heat = np.zeros((1, 4, 4))
    heat[0, 1, 1], heat[0, 1, 2], heat[0, 2, 1], heat[0, 2, 2] = 1.0, 0.5, 0.5, 0.5
    s = score(heat)
    # patch evidence 0.5 * (1 + 0.5 * 3) = 1.25, distractor 0: O = sigmoid(1.25) < Y.
    assert s.values["faith.avg_drop"][0] == pytest.approx(drop(sigmoid(1.25)), rel=1e-6)
    assert s.values["faith.increase_in_confidence"][0] == 0


def test_occlusion_b_keeps_and_s_removes_the_salient_region_for_the_correct_heatmap():
    v = score(PATCH[None].astype(float)).values
    # b: the background (with the distractor) is filled with 0 -> logit 2.
    assert v["faith.occlusion_b.drop"][0] == 0 and v["faith.occlusion_b.increase"][0] == 100
    # s: the patch is filled with 0 -> logit -0.5.
    assert v["faith.occlusion_s.drop"][0] == pytest.approx(drop(sigmoid(-0.5)), rel=1e-6)
    assert v["faith.occlusion_s.increase"][0] == 0


def test_occlusion_directions_flip_for_the_inverted_heatmap():
    v = score((1.0 - PATCH)[None]).values
    assert v["faith.occlusion_b.drop"][0] == pytest.approx(drop(sigmoid(-0.5)), rel=1e-6)
    assert v["faith.occlusion_b.increase"][0] == 0
    assert v["faith.occlusion_s.drop"][0] == 0 and v["faith.occlusion_s.increase"][0] == 100


def test_blur_fill_replaces_the_salient_region_with_the_blurred_input():
    sigma = 0.25
    v = score(PATCH[None].astype(float), fill="blur", blur_sigma=sigma).values
    blurred = gaussian_blur(patch_image(), sigma * 4)[0]
    patch = torch.from_numpy(PATCH)
    logit = (blurred[:, patch].sum() / 3 - patch_image()[0, :, 0, 0].sum() / 3).item()
    assert v["faith.occlusion_s.drop"][0] == pytest.approx(drop(sigmoid(logit)), rel=1e-5)
    assert 0 < v["faith.occlusion_s.drop"][0] < drop(sigmoid(-0.5))  # milder than the mean fill


def test_gaussian_blur_keeps_constants_and_smooths():
    flat = torch.full((2, 3, 9, 7), 0.3)
    torch.testing.assert_close(gaussian_blur(flat, 2.0), flat)
    noise = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert gaussian_blur(noise, 2.0).std() < 0.5 * noise.std()


def test_noise_fill_is_seeded_with_the_given_std():
    images = torch.zeros(4, 3, 32, 32)
    a = occlusion_fill(images, FaithfulnessConfig(fill="noise", fill_noise_std=2.0, seed=3))
    b = occlusion_fill(images, FaithfulnessConfig(fill="noise", fill_noise_std=2.0, seed=3))
    c = occlusion_fill(images, FaithfulnessConfig(fill="noise", fill_noise_std=2.0, seed=4))
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    assert a.std().item() == pytest.approx(2.0, rel=0.05)
    assert torch.equal(occlusion_fill(images + 1, FaithfulnessConfig()), images)


def test_bad_heatmaps_become_per_sample_exclusions_not_a_crash():
    good = PATCH.astype(float)
    heatmaps = [good, np.ones((3, 5)), np.full((4, 4), np.nan), np.zeros((4, 4)),
                np.array([[0.0, 0.0], [0.0, 1.0]])]  # last: 2 x 2, resized to 4 x 4
    s = score(heatmaps, n=5)
    assert set(s.excluded) == {1, 2, 3}
    assert "shape (3, 5)" in s.excluded[1] and "aspect ratio" in s.excluded[1]
    assert "non-finite" in s.excluded[2]
    assert "no positive value" in s.excluded[3]
    for values in s.values.values():
        assert np.isnan(values[[1, 2, 3]]).all() and np.isfinite(values[[0, 4]]).all()
    assert np.isnan(s.road.morf[[1, 2, 3]]).all() and np.isfinite(s.road.morf[[0, 4]]).all()


def test_a_batch_without_a_usable_heatmap_gives_only_exclusions():
    s = score(np.zeros((2, 4, 4)), n=2)
    assert set(s.excluded) == {0, 1}
    assert all(np.isnan(v).all() for v in s.values.values())


def test_structural_mismatches_raise():
    with pytest.raises(ValueError, match="3 heatmaps for 2 inputs"):
        score(np.ones((3, 4, 4)), n=2)
    with pytest.raises(ValueError, match="targets"):
        score_faithfulness(patch_model(), patch_image(2), np.ones((2, 4, 4)), [1])
    with pytest.raises(ValueError, match="no column for target class 5"):
        score_faithfulness(patch_model(), patch_image(1), np.ones((1, 4, 4)), [5])


class CountingModel(nn.Module):
    """Records how many images each forward pass gets."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.batches = model, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(len(x))
        return self.model(x)


def test_the_clean_batch_goes_through_the_model_once_and_copies_in_full_batches():
    model = CountingModel(patch_model())
    n, fractions = 3, (0.25, 0.5, 0.75)
    config = FaithfulnessConfig(fractions=fractions, max_batch=8)
    score_faithfulness(model, patch_image(n), np.ones((n, 4, 4)), [1] * n, config)
    # clean pass; x * H, occlusion b and s (9 copies); ROAD (3 images x 2 orders x 3 fractions)
    assert model.batches == [3, 8, 1, 8, 8, 2]


def test_faithfulness_metrics_are_registered_per_image_with_their_direction():
    expected = {
        "faith.avg_drop": "lower", "faith.increase_in_confidence": "higher",
        "faith.occlusion_b.drop": "lower", "faith.occlusion_b.increase": "higher",
        "faith.occlusion_s.drop": "higher", "faith.occlusion_s.increase": "lower",
    }
    for metric_id, direction in expected.items():
        info = METRICS[metric_id]
        assert (info.direction, info.level, info.unit, info.range) == (
            direction, "object", "percent", (0.0, 100.0))
    scores = score(PATCH[None].astype(float))
    curve_ids = {f"road.{order}@{f!r}" for order in ("morf", "lerf")
                 for f in scores.road.fractions.tolist()}
    assert set(scores.values) == {*expected, "road.combined", "road.morf", "road.lerf",
                                  *curve_ids}


def test_road_curve_points_are_per_fraction_metrics_equal_to_the_curves():
    scores = score(PATCH[None].astype(float))
    for j, f in enumerate(scores.road.fractions.tolist()):
        np.testing.assert_array_equal(scores.values[f"road.morf@{f!r}"], scores.road.morf[:, j])
        np.testing.assert_array_equal(scores.values[f"road.lerf@{f!r}"], scores.road.lerf[:, j])
    info = get_metric("road.morf@0.3")
    assert (info.id, info.direction, info.level) == ("road.morf@0.3", "lower", "object")
    assert get_metric("road.lerf@0.3").direction == "higher"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_inputs_move_to_the_models_device():
    model = patch_model().cuda()
    s = score_faithfulness(model, patch_image(), PATCH[None].astype(float), [1])
    assert s.values["faith.increase_in_confidence"][0] == 100
