import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reportgen.heatmaps.baselines import (
    BASELINES,
    baseline_heatmaps,
    center_heatmaps,
    default_grid,
    random_heatmaps,
)
from reportgen.metrics.localization import score_localization
from reportgen.metrics.pqah import score_regions


def test_random_baseline_is_seeded_float32_in_unit_interval():
    a = random_heatmaps(3, (40, 30), seed=1)
    assert a.shape == (3, 40, 30) and a.dtype == np.float32
    assert (a >= 0).all() and (a < 1).all()
    np.testing.assert_array_equal(a, random_heatmaps(3, (40, 30), seed=1))
    assert not np.array_equal(a, random_heatmaps(3, (40, 30), seed=2))
    assert not np.array_equal(a[0], a[1])  # every sample draws its own noise
    b = random_heatmaps(3, (40, 30), seed=(1, 0))  # (run seed, batch index)
    assert not np.array_equal(b, random_heatmaps(3, (40, 30), seed=(1, 1)))


def test_random_baseline_noise_is_not_the_stream_of_the_plain_seed():
    # a method that draws np.random.default_rng(seed) must not reproduce the baseline
    grid = random_heatmaps(1, (4, 4), seed=3, grid=(4, 4))
    plain = np.random.default_rng(3).random((1, 4, 4), dtype=np.float32)
    assert not np.allclose(grid, plain)


def test_random_baseline_is_noise_on_the_cam_grid_upsampled_bilinearly():
    a = random_heatmaps(2, (56, 56), seed=0, grid=(7, 7))
    sequence = np.random.SeedSequence(0, spawn_key=(0x0BA5E,))
    noise = np.random.default_rng(sequence).random((2, 7, 7), dtype=np.float32)
    expected = F.interpolate(torch.from_numpy(noise)[:, None], size=(56, 56), mode="bilinear",
                             align_corners=False)[:, 0].numpy()
    np.testing.assert_allclose(a, expected, rtol=1e-6)
    # smooth: neighbouring pixels differ far less than independent uniform noise (1/3 on average)
    assert np.abs(np.diff(a, axis=2)).mean() < 0.05


def test_default_grid_is_stride_32():
    assert default_grid((224, 224)) == (7, 7)
    assert default_grid((225, 100)) == (8, 4)
    assert default_grid((10, 10)) == (1, 1)
    a = random_heatmaps(1, (224, 224), seed=0)
    np.testing.assert_allclose(a, random_heatmaps(1, (224, 224), seed=0, grid=(7, 7)))


def test_center_baseline_is_a_gaussian_with_sigma_a_quarter_of_the_shorter_side():
    c = center_heatmaps(2, (41, 81), seed=5)
    assert c.shape == (2, 41, 81) and c.dtype == np.float32
    np.testing.assert_array_equal(c[0], c[1])
    assert np.unravel_index(c[0].argmax(), c[0].shape) == (20, 40) and c[0, 20, 40] == 1
    sigma = 41 / 4
    np.testing.assert_allclose(c[0, 20, 40 + 10], np.exp(-100 / (2 * sigma ** 2)), rtol=1e-6)
    np.testing.assert_allclose(c[0, 20 + 10, 40], c[0, 20, 40 + 10])  # isotropic
    np.testing.assert_array_equal(c[0], c[0, ::-1, ::-1])  # centred
    np.testing.assert_array_equal(c, center_heatmaps(2, (41, 81), seed=6))  # seed unused


def test_baselines_are_looked_up_by_name():
    assert set(BASELINES) == {"random", "center", "oracle"}
    np.testing.assert_array_equal(baseline_heatmaps("center", 1, (5, 5), 0),
                                  center_heatmaps(1, (5, 5)))
    assert baseline_heatmaps("random", 0, (5, 5), 0).shape == (0, 5, 5)
    with pytest.raises(ValueError, match="unknown baseline"):
        baseline_heatmaps("uniform", 1, (5, 5), 0)
    with pytest.raises(ValueError, match="positive size"):
        center_heatmaps(1, (0, 5))


def test_baselines_are_scored_with_the_same_code():
    labels = np.zeros((4, 64, 64), dtype=np.uint8)
    labels[:, 16:48, 16:48] = 1  # a centred object
    center = center_heatmaps(4, (64, 64))
    rand = random_heatmaps(4, (8, 8), seed=0, grid=(2, 2))  # resized to the labels
    c, r = score_regions(center, labels, 2), score_regions(rand, labels, 2)
    assert not c.degenerate.any() and not r.degenerate.any()
    assert (c.precision[:, 1] > 0.5).all()  # the centre prior puts most heat on it
    loc = score_localization(center, labels == 1, tolerance=0)
    assert loc.pointing_game.tolist() == [1.0] * 4


def test_the_oracle_is_the_object_seen_through_the_cam_grid():
    """docs/metrics.md: a 4 x 4 object in the corner of an 8 x 8 image on a 2 x 2 grid fills
    one cell; upsampled bilinearly its heat leaks past the object's edge onto the background."""
    from reportgen.heatmaps.baselines import oracle_heatmaps

    objects = np.zeros((1, 8, 8), bool)
    objects[0, :4, :4] = True
    heat = oracle_heatmaps(1, (8, 8), 0, objects=objects, grid=(2, 2))[0]
    assert heat[:2, :2].min() == 1.0 and heat[6:, 6:].max() == 0.0
    assert 0 < heat[~objects[0]].sum() < heat[objects[0]].sum()  # the spill, smaller
    assert (heat[:, :4].sum(axis=1) >= heat[:, 4:].sum(axis=1)).all()
    # A full-resolution grid is the mask itself: a perfect pixel explainer spills nothing.
    exact = oracle_heatmaps(1, (8, 8), 0, objects=objects, grid=(8, 8))[0]
    assert np.array_equal(exact, objects[0].astype(np.float32))
    empty = oracle_heatmaps(1, (8, 8), 0, objects=np.zeros((1, 8, 8), bool))
    assert not empty.any()  # degenerate: the scorers exclude it
    with pytest.raises(ValueError, match="objects must be"):
        oracle_heatmaps(2, (8, 8), 0, objects=objects)
