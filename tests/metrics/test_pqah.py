import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reportgen.metrics.pqah import _score_torch, score_regions


def test_soft_ph_matches_hand_computed_values(kernel_backend):
    heat = np.array([[[1.0, 0.5], [0.0, 0.0]]])
    labels = np.array([[[1, 1], [0, 0]]])
    s = score_regions(heat, labels, 2)
    # part: overlap 1.5, |M| = 2, sum(H) = 1.5 -> P = 1, R = 0.75, PH = 3 / 3.5
    np.testing.assert_allclose(s.precision, [[0.0, 1.0]])
    np.testing.assert_allclose(s.recall, [[0.0, 0.75]])
    np.testing.assert_allclose(s.ph, [[0.0, 3 / 3.5]])
    assert s.area.tolist() == [[2, 2]]
    assert not s.degenerate.any()


def test_ph_is_f1_of_precision_and_recall():
    rng = np.random.default_rng(1)
    heat = rng.random((5, 8, 8))
    labels = rng.integers(0, 4, size=(5, 8, 8))
    s = score_regions(heat, labels, 4)
    f1 = 2 * s.precision * s.recall / (s.precision + s.recall)
    np.testing.assert_allclose(s.ph, f1)


def test_negative_attribution_is_clipped_and_scale_does_not_matter():
    labels = np.array([[[1, 0], [0, 0]]])
    a = score_regions(np.array([[[-3.0, 2.0], [0.0, 0.0]]]), labels, 2)
    b = score_regions(np.array([[[0.0, 7.0], [0.0, 0.0]]]), labels, 2)
    np.testing.assert_allclose(a.ph, b.ph)
    np.testing.assert_allclose(a.ph, [[2 * 1 / (1 + 3), 0.0]])


def test_ignore_pixels_are_dropped_from_every_sum(kernel_backend):
    heat = np.array([[[1.0, 1.0], [1.0, 1.0]]])
    labels = np.array([[[1, 255], [0, 0]]])
    s = score_regions(heat, labels, 2)
    # sum(H) counts 3 pixels, not 4
    np.testing.assert_allclose(s.precision, [[2 / 3, 1 / 3]])
    np.testing.assert_allclose(s.ph, [[2 * 2 / (3 + 2), 2 * 1 / (3 + 1)]])


def test_absent_region_is_nan_not_zero_and_min_area_applies(kernel_backend):
    heat = np.ones((1, 3, 3))
    labels = np.zeros((1, 3, 3), dtype=int)
    labels[0, 0, 0] = 1
    s = score_regions(heat, labels, 3)
    assert np.isnan(s.ph[0, 2]) and np.isfinite(s.ph[0, 1])
    s2 = score_regions(heat, labels, 3, min_area=2)
    assert np.isnan(s2.ph[0, 1])
    s3 = score_regions(heat, labels, 3, min_area=0.2)  # 20 % of 9 pixels = 1.8 pixels
    assert np.isnan(s3.ph[0, 1])


@pytest.mark.parametrize("bad", [np.zeros((2, 2)), np.full((2, 2), np.nan),
                                 np.array([[1.0, np.inf], [0, 0]]), -np.ones((2, 2))])
def test_degenerate_heatmaps_are_flagged_and_get_no_scores(bad, kernel_backend):
    heat = np.stack([bad, np.ones((2, 2))])
    labels = np.array([[[1, 0], [0, 0]]] * 2)
    s = score_regions(heat, labels, 2)
    assert s.degenerate.tolist() == [True, False]
    assert np.isnan(s.ph[0]).all() and np.isfinite(s.ph[1]).all()


def test_heat_only_on_void_pixels_is_degenerate(kernel_backend):
    heat = np.array([[[1.0, 0.0], [0.0, 0.0]]])
    labels = np.array([[[255, 1], [0, 0]]])
    assert score_regions(heat, labels, 2).degenerate.tolist() == [True]


def test_binary_ph_uses_the_thresholded_heatmap(kernel_backend):
    heat = np.array([[[1.0, 0.6], [0.4, 0.0]]])
    labels = np.array([[[1, 0], [1, 0]]])
    s = score_regions(heat, labels, 2, threshold=0.5)
    # B = {(0,0), (0,1)}: part overlap 1, |B| = 2, |M| = 2 -> PH = 0.5; background same
    np.testing.assert_allclose(s.ph, [[0.5, 0.5]])


def test_heatmap_is_resized_bilinearly_to_the_labels(kernel_backend):
    heat = np.ones((1, 2, 2))
    labels = np.zeros((1, 4, 4), dtype=int)
    labels[0, :2] = 1
    s = score_regions(heat, labels, 2)
    np.testing.assert_allclose(s.ph, [[2 * 8 / 24, 2 * 8 / 24]])
    small = np.array([[[1.0, 0.0], [1.0, 0.0]]])
    s = score_regions(small, labels, 2)
    assert s.ph.shape == (1, 2) and np.isfinite(s.ph).all()


def test_unknown_label_ids_raise_with_the_ids():
    with pytest.raises(ValueError, match=r"\[7\]"):
        score_regions(np.ones((1, 2, 2)), np.array([[[0, 7], [0, 0]]]), 2)


def test_torch_input_gives_torch_output_on_its_device():
    heat = torch.rand(3, 4, 4)
    labels = torch.randint(0, 3, (3, 8, 8))
    s = score_regions(heat, labels, 3)
    assert isinstance(s.ph, torch.Tensor) and s.ph.device == heat.device
    ref = score_regions(heat.numpy(), labels.numpy(), 3)
    np.testing.assert_allclose(s.ph.numpy(), ref.ph)


def test_uint8_and_wider_label_dtypes_give_the_same_scores(kernel_backend):
    rng = np.random.default_rng(4)
    heat = rng.standard_normal((4, 9, 7))
    labels = rng.integers(0, 5, size=(4, 9, 7))
    labels[:, 0] = 255
    ref = score_regions(heat, labels.astype(np.uint8), 5)
    for dtype in (np.int64, np.int32, np.uint16):
        s = score_regions(heat, labels.astype(dtype), 5)
        np.testing.assert_allclose(s.ph, ref.ph, rtol=1e-12)
        np.testing.assert_array_equal(s.area, ref.area)


def test_unknown_uint8_label_ids_raise_with_the_ids(kernel_backend):
    labels = np.array([[[0, 7], [9, 255]]], dtype=np.uint8)
    with pytest.raises(ValueError, match=r"\[7, 9\]"):
        score_regions(np.ones((1, 2, 2)), labels, 2)


def test_other_ignore_index_values_work_and_must_not_be_a_region_id():
    heat = np.ones((1, 2, 2))
    s = score_regions(heat, np.array([[[1, -1], [0, 0]]]), 2, ignore_index=-1)
    np.testing.assert_allclose(s.precision, [[2 / 3, 1 / 3]])
    s = score_regions(heat, np.array([[[1, 200], [0, 0]]], dtype=np.uint8), 2, ignore_index=200)
    np.testing.assert_allclose(s.precision, [[2 / 3, 1 / 3]])
    with pytest.raises(ValueError, match="also a region id"):
        score_regions(heat, np.zeros((1, 2, 2), dtype=np.uint8), 2, ignore_index=1)


def test_binary_threshold_one_keeps_every_peak_pixel(kernel_backend):
    # peak 3: 3 * (1 / 3) rounds below 1 in float32; the cut t * peak in float64 does not.
    heat = np.array([[[3.0, 3.0], [1.0, 0.0]]], dtype=np.float32)
    labels = np.array([[[1, 0], [1, 0]]])
    for s in (score_regions(heat, labels, 2, threshold=1.0),
              _score_torch(torch.from_numpy(heat), torch.from_numpy(labels), 2, 1.0, 255, 1)):
        np.testing.assert_allclose(np.asarray(s.ph), [[0.5, 0.5]])


def test_many_regions_fall_back_to_the_scatter_path():
    labels = np.arange(300 * 4).reshape(1, 30, 40) % 300
    heat = (labels == 299).astype(float)
    s = score_regions(heat, labels, 300, ignore_index=-1)
    assert s.ph.shape == (1, 300)
    np.testing.assert_allclose(s.ph[0, 299], 1.0)
    np.testing.assert_allclose(s.ph[0, :299], 0.0)


def test_empty_batch_gives_empty_arrays():
    s = score_regions(np.zeros((0, 4, 4)), np.zeros((0, 4, 4), dtype=np.uint8), 3)
    assert s.ph.shape == (0, 3) and s.degenerate.shape == (0,)


@pytest.mark.parametrize("threshold", [None, 0.5])
@pytest.mark.parametrize("resize", [False, True])
def test_torch_scatter_path_matches_the_numpy_path(threshold, resize, kernel_backend):
    rng = np.random.default_rng(2)
    heat = rng.standard_normal((6, 8, 8)).astype(np.float32)
    heat[1] = -1  # degenerate
    heat[2, 0, 0] = np.nan  # degenerate
    labels = rng.integers(0, 4, size=(6, 16 if resize else 8, 16 if resize else 8))
    labels[:, 0] = 255
    labels[3] = 0  # parts absent
    ref = score_regions(heat, labels, 5, threshold=threshold)
    got = _score_torch(torch.from_numpy(heat), torch.from_numpy(labels), 5, threshold, 255, 1)
    for name in ("precision", "recall", "ph", "area", "degenerate"):
        np.testing.assert_allclose(getattr(got, name).numpy(), getattr(ref, name), rtol=1e-6,
                                   err_msg=name)


def test_half_precision_tensors_are_accepted():
    heat = torch.rand(2, 4, 4)
    labels = torch.randint(0, 3, (2, 4, 4), dtype=torch.uint8)
    for dtype in (torch.float16, torch.bfloat16):
        s = score_regions(heat.to(dtype), labels, 3)
        ref = score_regions(heat.to(dtype).float().numpy(), labels.numpy(), 3)
        np.testing.assert_allclose(s.ph.numpy(), ref.ph)


# --- properties ---------------------------------------------------------------------------

label_maps = arrays(np.int64, (2, 6, 6), elements=st.integers(0, 3))
heatmaps = arrays(np.float64, (2, 6, 6), elements=st.floats(0, 10, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(heatmaps, label_maps)
def test_ph_precision_recall_lie_in_unit_interval(heat, labels):
    s = score_regions(heat, labels, 4)
    for v in (s.ph, s.precision, s.recall):
        finite = v[np.isfinite(v)]
        assert ((finite >= 0) & (finite <= 1 + 1e-12)).all()


@settings(max_examples=60, deadline=None)
@given(label_maps, st.integers(0, 3))
def test_ph_is_one_when_heatmap_equals_the_region_mask(labels, region):
    mask = (labels == region).astype(float)
    s = score_regions(mask, labels, 4)
    present = mask.reshape(2, -1).any(axis=1)
    np.testing.assert_allclose(s.ph[present, region], 1.0)


@settings(max_examples=40, deadline=None)
@given(heatmaps, label_maps, st.floats(0.01, 1000))
def test_scaling_the_heatmap_changes_nothing(heat, labels, k):
    # A peak at most 1e-12 means no usable heat by definition: scaling across that threshold
    # changes the verdict (the documented edge), not a scale effect.
    peak = np.asarray(heat).reshape(len(heat), -1).max(axis=1)
    assume(((peak > 1e-12) == (peak * k > 1e-12)).all())
    a, b = score_regions(heat, labels, 4), score_regions(heat * k, labels, 4)
    np.testing.assert_allclose(a.ph, b.ph, rtol=1e-6, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(label_maps, st.integers(0, 3))
def test_ph_is_zero_for_disjoint_support(labels, region):
    heat = (labels != region).astype(float)
    s = score_regions(heat, labels, 4)
    present = (labels == region).reshape(2, -1).any(axis=1) & ~s.degenerate
    np.testing.assert_allclose(s.ph[present, region], 0.0)


@settings(max_examples=40, deadline=None)
@given(heatmaps, label_maps, st.permutations(range(4)))
def test_permuting_region_ids_permutes_the_columns(heat, labels, perm):
    perm = np.array(perm)
    a = score_regions(heat, labels, 4)
    b = score_regions(heat, perm[labels], 4)
    np.testing.assert_allclose(b.ph[:, perm], a.ph)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (2, 6, 6), elements=st.sampled_from([0.0, 1.0])), label_maps)
def test_soft_and_binary_ph_agree_on_binary_heatmaps(heat, labels):
    np.testing.assert_allclose(score_regions(heat, labels, 4).ph,
                               score_regions(heat, labels, 4, threshold=1.0).ph)
