"""COCO segmentations: RLE (list and compressed string) and polygons -> boolean masks.

Reference strings and masks below were produced once with pycocotools 2.0.11 (not a
dependency), so the codec is checked against COCO's own implementation, not only itself.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from reportgen.data.masks import (
    decode_counts,
    decode_rle,
    encode_counts,
    encode_rle,
    rasterize_polygons,
    segmentation_mask,
)


def _small_mask() -> np.ndarray:
    m = np.zeros((7, 9), bool)
    m[1:4, 2:6] = True
    m[5, 0] = m[6, 8] = True
    m[:, 7] = True
    return m


def _medium_mask() -> np.ndarray:
    m = np.zeros((30, 40), bool)
    m[2:25, 3:30] = True
    m[10:14, 8:20] = False
    m[27:30, 35:40] = True
    return m


PYCOCOTOOLS_SMALL = "5192K0000064LJ"
PYCOCOTOOLS_MEDIUM = ("l2g0700000000AM33MM33MM33MM33MM33MM33MM33MM33MM33MM33MM33MM33<0000000000"
                      "00000000_5\\OUK0000000")


# ---------------------------------------------------------------- RLE


def test_compressed_rle_from_pycocotools_decodes_to_the_mask_it_encoded():
    np.testing.assert_array_equal(decode_rle(PYCOCOTOOLS_SMALL, 7, 9), _small_mask())
    np.testing.assert_array_equal(decode_rle(PYCOCOTOOLS_MEDIUM, 30, 40), _medium_mask())


def test_compressed_rle_accepts_bytes_as_json_loaders_may_give_them():
    np.testing.assert_array_equal(decode_rle(PYCOCOTOOLS_SMALL.encode(), 7, 9), _small_mask())


def test_encoding_reproduces_pycocotools_strings():
    assert encode_counts(encode_rle(_small_mask())) == PYCOCOTOOLS_SMALL
    assert encode_counts(encode_rle(_medium_mask())) == PYCOCOTOOLS_MEDIUM


def test_uncompressed_counts_run_column_major_starting_with_zeros():
    mask = np.array([[1, 0, 0],
                     [1, 1, 0]], bool)
    # column-major: 1 1 | 0 1 | 0 0  ->  runs 0 zeros, 2 ones, 1 zero, 1 one, 2 zeros
    assert encode_rle(mask) == [0, 2, 1, 1, 2]
    np.testing.assert_array_equal(decode_rle([0, 2, 1, 1, 2], 2, 3), mask)


def test_all_background_mask_is_one_run():
    assert encode_rle(np.zeros((4, 5), bool)) == [20]
    assert not decode_rle([20], 4, 5).any()


@settings(max_examples=60, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 40), st.integers(1, 40))))
def test_any_mask_survives_a_round_trip_through_the_compressed_string(mask):
    counts = encode_counts(encode_rle(mask))
    np.testing.assert_array_equal(decode_rle(counts, *mask.shape), mask)


def test_counts_that_do_not_cover_the_image_raise():
    with pytest.raises(ValueError, match="cover 19 pixels"):
        decode_rle([10, 9], 4, 5)


def test_negative_counts_raise():
    with pytest.raises(ValueError, match="non-negative"):
        decode_rle([25, -5], 4, 5)


@pytest.mark.parametrize("text, message", [("5192K0000064L\x7f", "invalid character"),
                                           ("5192K0000064LJo", "truncated")])
def test_malformed_compressed_string_raises(text, message):
    with pytest.raises(ValueError, match=message):
        decode_counts(text)


# ---------------------------------------------------------------- polygons


def test_rectangle_polygon_covers_exactly_the_pixels_whose_centres_it_contains():
    mask = rasterize_polygons([[2, 1, 6, 1, 6, 4, 2, 4]], 6, 8)
    expected = np.zeros((6, 8), bool)
    expected[1:4, 2:6] = True
    np.testing.assert_array_equal(mask, expected)


def test_quadrilateral_agrees_with_pycocotools_up_to_one_boundary_pixel():
    pycocotools = np.array([[0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                            [0, 1, 1, 1, 1, 1, 1, 0, 0, 0],
                            [0, 1, 1, 1, 1, 1, 1, 1, 0, 0],
                            [0, 0, 1, 1, 1, 1, 1, 0, 0, 0],
                            [0, 0, 1, 1, 1, 1, 1, 0, 0, 0],
                            [0, 0, 0, 0, 1, 1, 1, 0, 0, 0],
                            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], bool)
    mask = rasterize_polygons([[1.0, 1.0, 8.0, 1.5, 6.5, 6.0, 2.0, 5.0]], 7, 10)
    assert (mask != pycocotools).sum() <= 1


def test_triangle_has_the_pixel_count_pycocotools_gives():
    assert rasterize_polygons([[0, 0, 20, 0, 0, 20]], 20, 20).sum() == 190


def test_polygon_beyond_the_image_is_clipped():
    assert rasterize_polygons([[-5, -5, 20, -5, 20, 20, -5, 20]], 3, 4).all()


def test_several_polygons_are_united():
    mask = rasterize_polygons([[0, 0, 2, 0, 2, 2, 0, 2], [4, 0, 6, 0, 6, 2, 4, 2]], 3, 6)
    assert mask.sum() == 8 and not mask[:, 2:4].any()


def test_self_overlapping_polygon_follows_the_even_odd_rule():
    # a square traced twice around a hole: outer ring and inner ring in one polygon
    outer = [0, 0, 10, 0, 10, 10, 0, 10, 0, 0]
    inner = [3, 3, 3, 7, 7, 7, 7, 3, 3, 3]
    mask = rasterize_polygons([outer + inner], 10, 10)
    assert not mask[3:7, 3:7].any() and mask[0:3].all()


@pytest.mark.parametrize("poly, message", [([1, 2, 3, 4], "at least 3"),
                                           ([1, 2, 3, 4, 5], "at least 3"),
                                           ([0, 0, 4, 0, float("nan"), 4], "non-finite")])
def test_malformed_polygon_raises(poly, message):
    with pytest.raises(ValueError, match=message):
        rasterize_polygons([poly], 5, 5)


# ---------------------------------------------------------------- COCO segmentation field


def test_segmentation_dispatches_on_polygons_flat_polygon_and_rle():
    rle = {"size": [7, 9], "counts": PYCOCOTOOLS_SMALL}
    np.testing.assert_array_equal(segmentation_mask(rle, 7, 9), _small_mask())
    flat = segmentation_mask([2, 1, 6, 1, 6, 4, 2, 4], 6, 8)
    nested = segmentation_mask([[2, 1, 6, 1, 6, 4, 2, 4]], 6, 8)
    np.testing.assert_array_equal(flat, nested)


def test_rle_of_another_size_than_the_image_raises_naming_both():
    with pytest.raises(ValueError, match="9x7 differs from the image's 10x7"):
        segmentation_mask({"size": [7, 9], "counts": PYCOCOTOOLS_SMALL}, 7, 10)


@pytest.mark.parametrize("segmentation", [{"counts": "00"}, "polygon", 3])
def test_unknown_segmentation_shapes_raise(segmentation):
    with pytest.raises(ValueError):
        segmentation_mask(segmentation, 5, 5)
