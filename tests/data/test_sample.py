"""The Sample contract: label-map samples and mask samples give the same region view."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.data.sample import IGNORE_INDEX, Sample
from reportgen.metrics.pqah import score_regions

H, W = 6, 8
PARTS = ("head", "eye")


def _image() -> np.ndarray:
    return np.zeros((H, W, 3), np.uint8)


def _label_sample() -> Sample:
    labels = np.zeros((H, W), np.uint8)
    labels[1:3, 1:4] = 1
    labels[4, 5:7] = 2
    labels[0, 0] = IGNORE_INDEX
    return Sample("l", _image(), labels, PARTS, 0, "cat")


def _mask_sample(void: bool = False) -> Sample:
    """head covers rows 1..4, the eye lies inside it; the silhouette adds a body below."""
    head = np.zeros((H, W), bool)
    head[1:5, 1:5] = True
    eye = np.zeros((H, W), bool)
    eye[2, 2] = True
    silhouette = head.copy()
    silhouette[5, 1:5] = True
    void_mask = None
    if void:
        void_mask = np.zeros((H, W), bool)
        void_mask[:, 7] = True
    return Sample("m", _image(), None, PARTS, 1, "dog", object_id=2,
                  part_masks=np.stack([head, eye]), object_mask=silhouette, void_mask=void_mask)


def test_label_map_sample_regions_are_the_label_ids_with_void_in_none():
    s = _label_sample()
    regions = s.region_masks()
    assert s.has_label_map and regions.shape == (3, H, W)
    for i in range(3):
        np.testing.assert_array_equal(regions[i], s.labels == i)
    assert not regions[:, 0, 0].any()
    np.testing.assert_array_equal(s.object_region(), (s.labels == 1) | (s.labels == 2))


def test_mask_sample_keeps_overlapping_parts_and_background_is_outside_the_silhouette():
    s = _mask_sample()
    regions = s.region_masks()
    assert not s.has_label_map and s.labels is None
    assert s.region_names == ("background", "head", "eye")
    assert regions[1, 2, 2] and regions[2, 2, 2]  # the eye pixel is also head
    np.testing.assert_array_equal(regions[0], ~s.object_mask)
    assert not regions[0, 5, 2]  # the body pixel is object, not background, and no part
    assert not regions[1:, 5, 2].any()
    np.testing.assert_array_equal(s.object_region(), s.object_mask)


def test_mask_sample_without_silhouette_uses_the_union_of_its_parts():
    s = _mask_sample()
    bare = Sample("m", s.image, None, PARTS, 1, "dog", part_masks=s.part_masks)
    np.testing.assert_array_equal(bare.object_region(), s.part_masks.any(axis=0))


def test_void_pixels_are_in_no_region_of_a_mask_sample():
    s = _mask_sample(void=True)
    assert not s.region_masks()[:, :, 7].any()
    assert not s.valid_pixels()[:, 7].any() and s.valid_pixels()[:, :7].all()


def test_region_label_maps_let_a_label_map_scorer_score_overlapping_regions():
    s = _mask_sample(void=True)
    heat = np.random.default_rng(0).random((H, W)).astype(np.float32)
    maps = s.region_label_maps()
    assert maps.dtype == np.uint8 and set(np.unique(maps)) <= {0, 1, IGNORE_INDEX}
    scores = score_regions(np.repeat(heat[None], len(maps), axis=0), maps, 2)
    valid = s.valid_pixels()
    h = heat / heat.max()
    for r, mask in enumerate(s.region_masks()):
        expected_precision = (h * mask).sum() / (h * valid).sum()
        expected_recall = (h * mask).sum() / mask.sum()
        assert scores.precision[r, 1] == pytest.approx(expected_precision, rel=1e-5)
        assert scores.recall[r, 1] == pytest.approx(expected_recall, rel=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"labels": np.zeros((H, W), np.uint8), "part_masks": np.zeros((2, H, W), bool)},
     "not both"),
    ({"labels": None}, "needs a label map or part masks"),
    ({"labels": np.zeros((H, W + 1), np.uint8)}, "labels must be"),
    ({"labels": None, "part_masks": np.zeros((3, H, W), bool)}, "K=2"),
    ({"labels": None, "part_masks": np.zeros((2, H, W), np.uint8)}, "must be bool"),
    ({"labels": None, "part_masks": np.zeros((2, H, W), bool),
      "object_mask": np.zeros((H, W - 1), bool)}, "object_mask must be"),
])
def test_inconsistent_samples_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Sample(**{"image_id": "x", "image": _image(), "part_names": PARTS, "class_index": 0,
                  "class_name": "cat", **kwargs})


def test_background_mask_is_row_zero_of_the_region_masks_in_both_forms():
    for s in (_label_sample(), _mask_sample(void=True)):
        np.testing.assert_array_equal(s.background_mask(), s.region_masks()[0])
