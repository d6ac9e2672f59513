import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reportgen.metrics.pqah import _score_masks_torch, score_masks, score_regions


def _head_and_eye():
    """A 2 x 3 image: head = the left 2 x 2 block, eye = its top-left pixel (inside the head)."""
    heat = np.array([[[1.0, 0.5, 0.0], [0.5, 0.0, 0.5]]])
    head = np.array([[[1, 1, 0], [1, 1, 0]]], bool)
    eye = np.array([[[1, 0, 0], [0, 0, 0]]], bool)
    parts = np.stack([head, eye], axis=1)  # (1, 2, 2, 3)
    background = ~head
    return heat, parts, background


def test_overlapping_parts_are_scored_independently(kernel_backend):
    heat, parts, background = _head_and_eye()
    s = score_masks(heat, parts, background)
    # sum(H) = 2.5; head: overlap 2.0, |M| = 4; eye: 1.0, |M| = 1; background: 0.5, |M| = 2
    np.testing.assert_allclose(s.precision, [[0.5 / 2.5, 2.0 / 2.5, 1.0 / 2.5]])
    np.testing.assert_allclose(s.recall, [[0.5 / 2, 2.0 / 4, 1.0 / 1]])
    np.testing.assert_allclose(s.ph, [[2 * 0.5 / 4.5, 2 * 2.0 / 6.5, 2 * 1.0 / 3.5]])
    assert s.area.tolist() == [[2, 4, 1]]
    assert not s.degenerate.any()


def test_void_pixels_leave_every_mask_and_every_sum(kernel_backend):
    heat, parts, background = _head_and_eye()
    void = np.zeros((1, 2, 3), bool)
    void[0, 0, 0] = True  # the eye pixel
    s = score_masks(heat, parts, background, void=void)
    # sum(H) = 1.5; head: 1.0 over 3 pixels; eye: absent; background: 0.5 over 2
    np.testing.assert_allclose(s.precision[:, :2], [[0.5 / 1.5, 1.0 / 1.5]])
    assert np.isnan(s.ph[0, 2]) and s.area.tolist() == [[2, 3, 0]]


def test_binary_variant_and_min_area(kernel_backend):
    heat, parts, background = _head_and_eye()
    s = score_masks(heat, parts, background, threshold=0.6)
    # B = the eye pixel only: eye PH = 1, head PH = 2 * 1 / (1 + 4), background 0
    np.testing.assert_allclose(s.ph, [[0.0, 0.4, 1.0]])
    s = score_masks(heat, parts, background, min_area=2)
    assert np.isnan(s.ph[0, 2]) and np.isfinite(s.ph[0, :2]).all()


def test_degenerate_and_resized_heatmaps(kernel_backend):
    _, parts, background = _head_and_eye()
    parts, background = np.repeat(parts, 2, axis=0), np.repeat(background, 2, axis=0)
    heat = np.stack([np.zeros((1, 1)), np.ones((1, 1))])  # 1 x 1, resized to 2 x 3
    s = score_masks(heat, parts, background)
    assert s.degenerate.tolist() == [True, False] and np.isnan(s.ph[0]).all()
    np.testing.assert_allclose(s.precision[1], [2 / 6, 4 / 6, 1 / 6])


def test_shapes_are_checked():
    heat, parts, background = _head_and_eye()
    with pytest.raises(ValueError, match="part_masks"):
        score_masks(heat, parts[0], background)
    with pytest.raises(ValueError, match="void"):
        score_masks(heat, parts, background, void=np.zeros((1, 3, 3), bool))


@pytest.mark.parametrize("threshold", [None, 0.4])
def test_torch_input_cpu_and_scatter_paths_match_numpy(threshold):
    rng = np.random.default_rng(8)
    heat = rng.standard_normal((5, 6, 6)).astype(np.float32)
    heat[2] = -1
    parts = rng.random((5, 3, 12, 12)) < 0.3
    background = rng.random((5, 12, 12)) < 0.5
    void = rng.random((5, 12, 12)) < 0.1
    ref = score_masks(heat, parts, background, void=void, threshold=threshold)
    args = [torch.from_numpy(a) for a in (heat, parts, background, void)]
    cpu = score_masks(*args[:3], void=args[3], threshold=threshold)
    native = _score_masks_torch(*args, threshold, 1)
    for got in (cpu, native):
        assert isinstance(got.ph, torch.Tensor)
        for name in ("precision", "recall", "ph", "area", "degenerate"):
            np.testing.assert_allclose(getattr(got, name).numpy(), getattr(ref, name),
                                       rtol=1e-6, err_msg=name)


# --- properties ---------------------------------------------------------------------------

label_maps = arrays(np.int64, (2, 6, 6), elements=st.sampled_from([0, 1, 2, 3, 255]))
heatmaps = arrays(np.float64, (2, 6, 6), elements=st.floats(-1, 10, allow_nan=False))


def _as_masks(labels, num_regions=4):
    parts = np.stack([labels == r for r in range(1, num_regions)], axis=1)
    return parts, labels == 0, labels == 255


@settings(max_examples=60, deadline=None)
@given(heatmaps, label_maps, st.sampled_from([None, 0.3, 1.0]))
def test_masks_of_a_label_map_score_like_the_label_map(heat, labels, threshold):
    parts, background, void = _as_masks(labels)
    a = score_regions(heat, labels, 4, threshold=threshold)
    b = score_masks(heat, parts, background, void=void, threshold=threshold)
    for name in ("precision", "recall", "ph"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(b.area, a.area)
    np.testing.assert_array_equal(b.degenerate, a.degenerate)


@settings(max_examples=40, deadline=None)
@given(arrays(np.bool_, (2, 3, 6, 6)), st.integers(0, 2))
def test_ph_is_one_when_the_heatmap_equals_an_overlapping_part(parts, k):
    parts = parts.copy()
    parts[:, 2] |= parts[:, 0]  # part 2 contains part 0
    heat = parts[:, k].astype(float)
    s = score_masks(heat, parts, np.zeros((2, 6, 6), bool))
    present = parts[:, k].reshape(2, -1).any(axis=1)
    np.testing.assert_allclose(s.ph[present, k + 1], 1.0)
    # a part that contains the heated one gets the full heat share
    if k == 0:
        np.testing.assert_allclose(s.precision[present, 3], 1.0)
