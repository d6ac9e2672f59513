import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reportgen.metrics import localization as loc
from reportgen.metrics.localization import METRIC_NAMES, score_localization
from reportgen.metrics.registry import get_metric

# The worked example of docs/metrics.md: sum(H) = 3.0, O = rows 1-2 x columns 2-3.
HEAT = np.array([[[0.0, 0.2, 0.4, 0.0],
                  [0.0, 1.0, 0.6, 0.0],
                  [0.0, 0.0, 0.8, 0.0],
                  [0.0, 0.0, 0.0, 0.0]]])
OBJ = np.zeros((1, 4, 4), bool)
OBJ[0, 1:3, 2:4] = True


def test_hand_computed_values_of_the_worked_example():
    s = score_localization(HEAT, OBJ, tolerance=0)
    # B = H >= 0.5 = {1.0, 0.6, 0.8}: 2 of its 3 pixels on O (4 pixels) -> 2 / 5
    np.testing.assert_allclose(s.iou, [0.4])
    # peak 1.0 at (1, 1), one column left of O
    np.testing.assert_allclose(s.pointing_game, [0.0])
    # heat on O (= its box here): 0.6 + 0.8 = 1.4 of 3.0
    np.testing.assert_allclose(s.energy_pointing_game, [1.4 / 3])
    np.testing.assert_allclose(s.relevance_mass, [1.4 / 3])
    # the 4 hottest pixels 1.0, 0.8, 0.6, 0.4: two on O
    np.testing.assert_allclose(s.relevance_rank, [0.5])
    assert s.degenerate.tolist() == [False] and s.empty_object.tolist() == [False]


def test_each_metric_function_matches_score_localization():
    s = score_localization(HEAT, OBJ, iou_threshold=0.3, tolerance=1)
    np.testing.assert_allclose(loc.iou(HEAT, OBJ, threshold=0.3), s.iou)
    np.testing.assert_allclose(loc.pointing_game(HEAT, OBJ, tolerance=1), s.pointing_game)
    np.testing.assert_allclose(loc.energy_pointing_game(HEAT, OBJ), s.energy_pointing_game)
    np.testing.assert_allclose(loc.relevance_mass(HEAT, OBJ), s.relevance_mass)
    np.testing.assert_allclose(loc.relevance_rank(HEAT, OBJ), s.relevance_rank)
    assert set(s.by_metric_id()) == {f"loc.{m}" for m in METRIC_NAMES}


def test_iou_threshold_is_applied_to_the_normalised_heatmap():
    # B = H >= 0.3 * 1.0 adds the 0.4 pixel: 2 on O of 4 hot pixels -> 2 / 6
    np.testing.assert_allclose(loc.iou(HEAT * 7, OBJ, threshold=0.3), [2 / 6])
    np.testing.assert_allclose(loc.iou(HEAT, OBJ, threshold=1.0), [0.0])
    with pytest.raises(ValueError, match="threshold"):
        loc.iou(HEAT, OBJ, threshold=0)


def test_pointing_game_tolerance_is_euclidean_in_mask_pixels():
    heat = np.zeros((1, 9, 9))
    heat[0, 4, 4] = 1
    obj = np.zeros((1, 9, 9), bool)
    obj[0, 7, 7] = True  # 3 rows and 3 columns away: distance sqrt(18) = 4.24
    hits = [loc.pointing_game(heat, obj, tolerance=t)[0] for t in (0, 3, 4.2, 4.25, 15)]
    assert hits == [0, 0, 0, 1, 1]
    obj[0, 4, 7] = True  # 3 columns away: distance exactly 3 counts
    assert loc.pointing_game(heat, obj, tolerance=3)[0] == 1
    with pytest.raises(ValueError, match="tolerance"):
        loc.pointing_game(heat, obj, tolerance=-1)


def test_pointing_game_hits_when_any_tied_peak_is_on_the_object():
    heat = np.zeros((1, 5, 5))
    heat[0, 0, 0] = heat[0, 4, 4] = 1
    obj = np.zeros((1, 5, 5), bool)
    obj[0, 4, 4] = True
    assert loc.pointing_game(heat, obj, tolerance=0).tolist() == [1.0]


def test_pointing_game_with_many_tied_peaks_uses_the_distance_transform():
    heat = np.zeros((2, 20, 20))
    heat[:, :10] = 1  # 200 tied maximal pixels in the top half
    obj = np.zeros((2, 20, 20), bool)
    obj[0, 15, 5] = True  # 6 rows below the plateau
    obj[1, 12, 5] = True  # 3 rows below the plateau
    assert loc.pointing_game(heat, obj, tolerance=3).tolist() == [0.0, 1.0]
    assert loc.pointing_game(heat, obj, tolerance=6).tolist() == [1.0, 1.0]


def test_energy_pointing_game_uses_the_box_rows_and_columns_the_right_way_round():
    # a non-square image and an L-shaped object: its box also covers (1, 3), not on O
    heat = np.zeros((1, 3, 5))
    heat[0, 1, 3] = 2.0
    heat[0, 0, 0] = 1.0
    heat[0, 2, 4] = 1.0
    obj = np.zeros((1, 3, 5), bool)
    obj[0, 1:3, 2] = True
    obj[0, 2, 2:4] = True
    # box = rows 1-2 x columns 2-3: contains the 2.0 pixel, not the others: 2 / 4
    np.testing.assert_allclose(loc.energy_pointing_game(heat, obj), [0.5])
    np.testing.assert_allclose(loc.relevance_mass(heat, obj), [0.0])
    transposed = loc.energy_pointing_game(heat.transpose(0, 2, 1), obj.transpose(0, 2, 1))
    np.testing.assert_allclose(transposed, [0.5])


def test_relevance_rank_counts_ties_by_their_expected_share():
    # one hot pixel off the object, 63 pixels tied at 0; O = the top two rows (K = 16)
    heat = np.zeros((2, 8, 8))
    heat[:, 4, 3] = 1
    obj = np.zeros((2, 8, 8), bool)
    obj[0, :2] = True
    obj[1, -2:] = True  # the mirror image must score the same
    # top 16 = the hot pixel + 15 of the 63 tied pixels, 16 of which are on O
    np.testing.assert_allclose(loc.relevance_rank(heat, obj), [15 / 63, 15 / 63])
    flat = np.ones((1, 8, 8))
    np.testing.assert_allclose(loc.relevance_rank(flat, obj[:1]), [16 / 64])  # chance level


def test_empty_object_and_degenerate_heatmaps_give_no_value():
    heat = np.stack([HEAT[0], HEAT[0], np.zeros((4, 4)), np.full((4, 4), np.nan)])
    obj = np.stack([OBJ[0], np.zeros((4, 4), bool), OBJ[0], OBJ[0]])
    s = score_localization(heat, obj)
    assert s.empty_object.tolist() == [False, True, False, False]
    assert s.degenerate.tolist() == [False, False, True, True]
    for name in METRIC_NAMES:
        values = getattr(s, name)
        assert np.isfinite(values[0]) and np.isnan(values[1:]).all(), name


def test_void_pixels_are_dropped_from_everything():
    heat = HEAT.copy()
    heat[0, 3, 3] = 5.0  # the hottest pixel, on void: normalises the heatmap but is no peak
    void = np.zeros((1, 4, 4), bool)
    void[0, 3, 3] = True
    obj = OBJ.copy()
    obj[0, 3, 3] = True  # void wins over the object
    s = score_localization(heat, obj, void=void, tolerance=0, iou_threshold=0.1)
    np.testing.assert_allclose(s.relevance_mass, [1.4 / 3])
    np.testing.assert_allclose(s.energy_pointing_game, [1.4 / 3])
    np.testing.assert_allclose(s.relevance_rank, [0.5])
    assert s.pointing_game.tolist() == [0.0]  # the valid peak 1.0 at (1, 1) is off O
    # normalised by the void peak 5: H >= 0.1 keeps 1.0, 0.6 and 0.8 (0.2 and 0.4 fall below
    # 0.5), two of them on the 4 valid pixels of O -> 2 / 5
    np.testing.assert_allclose(s.iou, [2 / 5])
    only_void = np.zeros((1, 4, 4))
    only_void[0, 3, 3] = 1
    assert score_localization(only_void, OBJ, void=void).degenerate.tolist() == [True]


def test_heatmaps_are_resized_and_negative_heat_is_clipped():
    small = np.array([[[1.0, -4.0], [-4.0, -4.0]]])
    obj = np.zeros((1, 4, 4), bool)
    obj[0, :2, :2] = True
    s = score_localization(small, obj, tolerance=0)
    assert s.pointing_game.tolist() == [1.0]
    # clipped to [[1, 0], [0, 0]], resized: rows and columns weigh 1, 0.75, 0.25, 0, so
    # sum(H) = 2 * 2 and the top-left 2 x 2 block holds 1.75 * 1.75
    np.testing.assert_allclose(s.relevance_mass, [1.75 ** 2 / 4])


def test_torch_input_gives_torch_output_on_its_device():
    heat, obj = torch.from_numpy(HEAT), torch.from_numpy(OBJ)
    s = score_localization(heat, obj, tolerance=0)
    assert isinstance(s.iou, torch.Tensor) and s.iou.device == heat.device
    np.testing.assert_allclose(s.relevance_rank.numpy(), [0.5])
    assert isinstance(loc.relevance_mass(heat, obj), torch.Tensor)


def test_empty_batch():
    s = score_localization(np.zeros((0, 4, 4)), np.zeros((0, 4, 4), bool))
    assert all(getattr(s, name).shape == (0,) for name in METRIC_NAMES)


def test_metadata_is_registered_per_metric():
    for name in METRIC_NAMES:
        info = get_metric(f"loc.{name}")
        assert info.level == "object" and info.range == (0.0, 1.0)
        assert info.direction == "higher" and info.reference and info.meaning


# --- properties ---------------------------------------------------------------------------

masks = arrays(np.bool_, (3, 7, 6))
heatmaps = arrays(np.float64, (3, 7, 6), elements=st.floats(-2, 10, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(heatmaps, masks)
def test_values_lie_in_the_unit_interval_and_box_beats_mask(heat, obj):
    s = score_localization(heat, obj)
    for name in METRIC_NAMES:
        v = getattr(s, name)
        assert ((v[np.isfinite(v)] >= 0) & (v[np.isfinite(v)] <= 1 + 1e-12)).all(), name
    ok = np.isfinite(s.relevance_mass)
    assert (s.energy_pointing_game[ok] >= s.relevance_mass[ok] - 1e-12).all()
    assert (np.isnan(s.iou) == (s.degenerate | s.empty_object)).all()


@settings(max_examples=40, deadline=None)
@given(heatmaps, masks, st.floats(0.01, 1000))
def test_scaling_the_heatmap_changes_nothing(heat, obj, k):
    # A heatmap whose peak is at most 1e-12 has no usable heat by definition; scaling across
    # that threshold changes the verdict, which is the documented edge, not a scale effect.
    peak = heat.reshape(len(heat), -1).max(axis=1)
    assume(((peak > 1e-12) == (peak * k > 1e-12)).all())
    a, b = score_localization(heat, obj), score_localization(heat * k, obj)
    for name in METRIC_NAMES:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-6, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(masks)
def test_a_heatmap_equal_to_the_object_scores_one(obj):
    s = score_localization(obj.astype(float), obj, tolerance=0)
    present = obj.reshape(3, -1).any(axis=1)
    for name in METRIC_NAMES:
        np.testing.assert_allclose(getattr(s, name)[present], 1.0, err_msg=name)


@settings(max_examples=40, deadline=None)
@given(heatmaps, masks)
def test_a_batch_scores_like_its_samples_one_by_one(heat, obj):
    whole = score_localization(heat, obj)
    for i in range(3):
        one = score_localization(heat[i:i + 1], obj[i:i + 1])
        for name in METRIC_NAMES:
            np.testing.assert_allclose(getattr(one, name), getattr(whole, name)[i:i + 1])
