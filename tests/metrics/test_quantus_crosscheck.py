"""Cross-check of the localisation metrics against Quantus (PyPI ``quantus``, tested with 0.6.0).

Where the definitions coincide (non-negative heatmaps at the mask's resolution, a non-empty
mask, no ties, pointing-game tolerance 0) both must give the same numbers. The tests at the end
document exactly where they differ, and why ours does what it does:

* empty mask: Quantus's PointingGame writes NaN into a bool array, which makes it True (a hit);
  ours gives no value. (Its RelevanceMass/RankAccuracy give NaN, as ours do.)
* negative attribution: Quantus divides by max |a| and keeps negatives (``abs=False``); ours
  clips to 0 first (METRICS.md step 1), so ours equals Quantus run on the clipped heatmap.
* ties in relevance rank: Quantus takes the first of the tied pixels in its sort order (pixel
  order); ours counts tied pixels by their expected share, so mirror images score the same.
* tolerance: Quantus's pointing game has none; ours defaults to 15 pixels.
"""

import warnings

import numpy as np
import pytest

from reportgen.metrics import localization as loc

quantus = pytest.importorskip("quantus")

pytestmark = pytest.mark.filterwarnings("ignore")


def _quantus(metric_cls, heat: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Run a Quantus localisation metric on (N, H, W) heatmaps and masks (no model needed)."""
    n, h, w = heat.shape
    metric = metric_cls(disable_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = metric(model=None, x_batch=np.zeros((n, 3, h, w), np.float32),
                        y_batch=np.zeros(n, np.int64), a_batch=heat[:, None].astype(np.float32),
                        s_batch=mask[:, None].astype(np.float32))
    return np.asarray(scores, dtype=np.float64)


def _random_inputs(seed: int, n: int = 16, size: tuple[int, int] = (24, 20)):
    """Non-negative heatmaps without ties in a sample and non-empty blob-like masks."""
    rng = np.random.default_rng(seed)
    pixels = size[0] * size[1]
    ranks = rng.permuted(np.tile(np.arange(1, pixels + 1), (n, 1)), axis=1)
    heat = ((ranks / pixels) ** 3).astype(np.float32).reshape(n, *size)  # skewed, like CAMs
    coarse = rng.random((n, size[0] // 4, size[1] // 4)) < 0.4
    mask = np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2)
    mask[:, 0, 0] = True
    return heat, mask


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relevance_mass_matches_quantus(seed):
    heat, mask = _random_inputs(seed)
    np.testing.assert_allclose(loc.relevance_mass(heat, mask),
                               _quantus(quantus.RelevanceMassAccuracy, heat, mask), rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relevance_rank_matches_quantus_without_ties(seed):
    heat, mask = _random_inputs(seed)
    assert all(np.unique(h).size == h.size for h in heat)  # no ties
    np.testing.assert_allclose(loc.relevance_rank(heat, mask),
                               _quantus(quantus.RelevanceRankAccuracy, heat, mask), rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pointing_game_matches_quantus_at_tolerance_zero(seed):
    heat, mask = _random_inputs(seed, n=40)
    ours = loc.pointing_game(heat, mask, tolerance=0)
    theirs = _quantus(quantus.PointingGame, heat, mask)
    np.testing.assert_array_equal(ours, theirs)
    assert 0 < ours.sum() < len(ours)  # both hits and misses were compared


def test_pointing_game_ties_count_as_hit_in_both():
    heat = np.zeros((1, 6, 6), np.float32)
    heat[0, 0, 0] = heat[0, 5, 5] = 1  # two maximal pixels, one on the mask
    mask = np.zeros((1, 6, 6), bool)
    mask[0, 4:, 4:] = True
    assert _quantus(quantus.PointingGame, heat, mask).tolist() == [1.0]
    assert loc.pointing_game(heat, mask, tolerance=0).tolist() == [1.0]


# --- where the definitions differ ---------------------------------------------------------


def test_difference_empty_mask_is_a_hit_in_quantus_and_no_value_in_ours():
    heat, mask = _random_inputs(3, n=2)
    mask[1] = False
    assert _quantus(quantus.PointingGame, heat, mask)[1] == 1.0  # NaN cast to bool is True
    assert np.isnan(loc.pointing_game(heat, mask)[1])
    # relevance mass and rank: both give no value
    assert np.isnan(_quantus(quantus.RelevanceMassAccuracy, heat, mask)[1])
    assert np.isnan(_quantus(quantus.RelevanceRankAccuracy, heat, mask)[1])
    assert np.isnan(loc.relevance_mass(heat, mask)[1])
    assert np.isnan(loc.relevance_rank(heat, mask)[1])


def test_difference_quantus_keeps_negative_attribution_ours_clips_it():
    rng = np.random.default_rng(4)
    heat, mask = _random_inputs(4, n=8)
    signed = heat - np.float32(0.3) * rng.random(heat.shape, dtype=np.float32)
    assert (signed < 0).any()
    ours = loc.relevance_mass(signed, mask)
    np.testing.assert_allclose(
        ours, _quantus(quantus.RelevanceMassAccuracy, np.maximum(signed, 0), mask), rtol=1e-5)
    theirs = _quantus(quantus.RelevanceMassAccuracy, signed, mask)
    assert not np.allclose(ours, theirs, rtol=1e-3)


def test_difference_ties_in_relevance_rank_follow_pixel_order_in_quantus():
    # one hot pixel off the mask, 63 pixels tied at 0; the mask is the top (first sample) or
    # the bottom (second sample) two rows: mirror images of each other
    heat = np.zeros((2, 8, 8), np.float32)
    heat[:, 4, 3] = 1
    mask = np.zeros((2, 8, 8), bool)
    mask[0, :2] = True
    mask[1, -2:] = True
    theirs = _quantus(quantus.RelevanceRankAccuracy, heat, mask)
    assert theirs[0] != theirs[1]  # 0.9375 and 0.0 with quantus 0.6.0: first pixels win ties
    np.testing.assert_allclose(loc.relevance_rank(heat, mask), [15 / 63, 15 / 63])


def test_difference_quantus_pointing_game_has_no_tolerance():
    heat = np.zeros((1, 30, 30), np.float32)
    heat[0, 10, 10] = 1
    mask = np.zeros((1, 30, 30), bool)
    mask[0, 10, 20:] = True  # 10 pixels to the right of the peak
    assert _quantus(quantus.PointingGame, heat, mask).tolist() == [0.0]
    assert loc.pointing_game(heat, mask, tolerance=0).tolist() == [0.0]
    assert loc.pointing_game(heat, mask).tolist() == [1.0]  # default tolerance 15 pixels
