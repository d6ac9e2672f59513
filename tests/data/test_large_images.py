"""Large images: above ``max_image_pixels`` a sample is excluded with its size (never decoded);
above ``reduce_above_pixels`` it is decoded at 1/2, 1/4, ... with its regions sampled onto the
same grid; at or below, nothing changes.

Huge files are made cheaply: a tiny PNG or JPEG whose header declares 14000 x 14000 (readers
must refuse it from the header, before decoding anything).
"""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from reportgen.data.images import DecodedImage, decode_image, read_label_map, reduction_factor
from reportgen.data.inspect import inspect_dataset
from reportgen.data.masks import rasterize_polygons, segmentation_mask
from reportgen.data.policy import DEFAULT_MAX_IMAGE_PIXELS
from reportgen.data.sample import Sample
from reportgen.data.spec import load_dataset
from reportgen.errors import DatasetError
from reportgen.exclusions import Exclusion

H, W = 12, 16
HUGE = 14000


def png_declaring(width: int, height: int) -> bytes:
    """A valid small PNG whose IHDR is rewritten to ``width x height`` (CRC fixed)."""
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4: ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr: ihdr + 17]))
    data[ihdr + 17: ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small baseline JPEG whose SOF0 header is rewritten to ``width x height``."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5: sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _by_id(spec, **policy) -> dict[str, list]:
    by_id: dict[str, list] = {}
    for item in load_dataset(spec, **policy):
        by_id.setdefault(item.image_id, []).append(item)
    return by_id


# ---------------------------------------------------------------- above the pixel limit


@pytest.mark.parametrize("declare", [png_declaring, jpeg_declaring], ids=["png", "jpeg"])
def test_image_declaring_14000x14000_is_excluded_with_its_size_and_the_rest_load(
        builder, declare):
    builder.image_path("b").write_bytes(declare(HUGE, HUGE))
    items = _by_id(builder.spec())
    assert [type(i) for i in items["a"]] == [Sample]
    assert [type(i) for i in items["c"]] == [Sample]
    (bad,) = items["b"]
    assert isinstance(bad, Exclusion), bad
    assert f"{HUGE}x{HUGE}" in bad.reason and "max_image_pixels" in bad.reason
    assert str(builder.image_path("b")) in bad.reason


def test_the_pixel_limit_is_configurable_in_the_spec_and_as_a_keyword(builder):
    limit = H * W - 1
    excluded = _by_id(builder.spec(), max_image_pixels=limit)
    assert all(isinstance(i, Exclusion) and f"{W}x{H}" in i.reason
               for items in excluded.values() for i in items)
    in_spec = _by_id({**builder.spec(), "max_image_pixels": limit})
    assert all(isinstance(i, Exclusion) for items in in_spec.values() for i in items)
    overridden = _by_id({**builder.spec(), "max_image_pixels": limit}, max_image_pixels=H * W)
    assert all(isinstance(i, Sample) for items in overridden.values() for i in items)


def test_default_limit_lets_12000x12000_through_and_stops_14000x14000():
    assert 12000 * 12000 <= DEFAULT_MAX_IMAGE_PIXELS < HUGE * HUGE


def test_label_map_declaring_too_many_pixels_is_excluded_naming_the_label_file(tmp_path, make):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "images" / "a.png").write_bytes(make.png(make.rgb()))
    (root / "labels" / "a.png").write_bytes(png_declaring(HUGE, HUGE))
    (root / "dataset.json").write_text(json.dumps({
        "classes": ["cat"], "parts": ["head", "tail"],
        "samples": [{"id": "a", "image": "images/a.png", "labels": "labels/a.png",
                     "class": "cat"}]}))
    (bad,) = load_dataset(root)
    assert isinstance(bad, Exclusion)
    assert str(root / "labels" / "a.png") in bad.reason and f"{HUGE}x{HUGE}" in bad.reason


def test_inspect_lists_the_oversized_image_as_a_problem(builder):
    builder.image_path("b").write_bytes(png_declaring(HUGE, HUGE))
    result = inspect_dataset(builder.spec())
    assert result.samples == 2
    (problem,) = result.problems
    assert problem.image_id == "b" and f"{HUGE}x{HUGE}" in problem.reason


def test_reading_leaves_pil_s_global_limits_as_they_were(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(png_declaring(HUGE, HUGE))
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ValueError, match="max_image_pixels"):
        decode_image(path)
    with pytest.raises(ValueError, match="max_image_pixels"):
        read_label_map(path)
    assert before == Image.MAX_IMAGE_PIXELS


@pytest.mark.parametrize("value", [0, -5, True, "big"])
def test_a_bad_pixel_limit_is_a_dataset_error(builder, value):
    with pytest.raises(DatasetError, match="max_image_pixels"):
        load_dataset({**builder.spec(), "max_image_pixels": value})


# ---------------------------------------------------------------- decoded at a reduced size


def test_reduction_factor_is_the_smallest_power_of_two_that_fits():
    assert reduction_factor(12, 16, None) == 1
    assert reduction_factor(12, 16, 192) == 1
    assert reduction_factor(12, 16, 191) == 2      # 6 x 8 = 48
    assert reduction_factor(12, 16, 47) == 4       # 3 x 4 = 12
    assert reduction_factor(12000, 12000, 2048 * 2048) == 8


def test_sample_points_are_block_centres_and_the_last_partial_block_is_clipped():
    image = DecodedImage(np.zeros((3, 4, 3), np.uint8), (9, 13), factor=4)
    rows, cols = image.sample_points()
    assert rows.tolist() == [2, 6, 8] and cols.tolist() == [2, 6, 10, 12]
    plane = np.arange(9 * 13).reshape(9, 13)
    np.testing.assert_array_equal(image.fit(plane), plane[np.ix_(rows, cols)])
    whole = DecodedImage(np.zeros((9, 13, 3), np.uint8), (9, 13))
    assert whole.fit(plane) is plane  # factor 1: the annotation itself, untouched


def test_every_format_reduces_a_large_image_and_samples_its_regions_to_match(builder, make):
    items = list(load_dataset(builder.spec(), reduce_above_pixels=H * W - 1))
    assert [i.image_id for i in items] == ["a", "b", "c"]
    for k, sample in enumerate(items):
        assert isinstance(sample, Sample), sample
        assert sample.decode_factor == 2 and sample.size == (H // 2, W // 2)
        expected = np.asarray(Image.fromarray(make.rgb(seed=k)).reduce(2))
        np.testing.assert_array_equal(sample.image, expected)
        labels = make.label_map(shift=k)[1::2, 1::2]   # the centre pixel of each 2 x 2 block
        regions = sample.region_masks()
        np.testing.assert_array_equal(regions[0], labels == 0)
        np.testing.assert_array_equal(regions[1:], np.stack([labels == 1, labels == 2]))


def test_images_at_or_below_the_reduce_limit_are_decoded_exactly_as_stored(builder, make):
    for k, sample in enumerate(load_dataset(builder.spec(), reduce_above_pixels=H * W)):
        assert sample.decode_factor == 1
        np.testing.assert_array_equal(sample.image, make.rgb(seed=k))


@pytest.mark.parametrize("size", [(64, 48), (65, 49)])
def test_a_large_jpeg_is_reduced_while_decoding(tmp_path, size):
    path = tmp_path / "big.jpg"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    image = decode_image(path, reduce_above=size[0] * size[1] // 4 + 40)
    assert image.factor == 2 and image.full_size == (size[1], size[0])
    assert image.pixels.shape == (-(-size[1] // 2), -(-size[0] // 2), 3)
    with Image.open(path) as img:  # what JPEG draft mode decodes at 1/2
        img.draft("RGB", (size[0] // 2, size[1] // 2))
        assert img.size == (-(-size[0] // 2), -(-size[1] // 2))
        np.testing.assert_array_equal(image.pixels, np.asarray(img.convert("RGB")))


def test_a_reduced_exif_rotated_image_keeps_its_regions_aligned(builder, corpus, make):
    data, _ = corpus.exif_rotated()  # top half red, bottom half blue as displayed
    builder.image_path("b").write_bytes(data)
    (b,) = _by_id(builder.spec(), reduce_above_pixels=H * W - 1)["b"]
    assert isinstance(b, Sample) and b.size == (H // 2, W // 2)
    assert np.abs(b.image[:2].astype(int) - (255, 0, 0)).max() <= 40   # red on top
    assert np.abs(b.image[-2:].astype(int) - (0, 0, 255)).max() <= 40  # blue below
    labels = make.label_map(shift=1)[1::2, 1::2]
    np.testing.assert_array_equal(b.region_masks()[1], labels == 1)


def test_polygons_and_rle_sampled_equal_the_full_masks_indexed_at_the_points():
    polygon = [[1.2, 0.7, 14.6, 2.1, 11.3, 11.8, 0.4, 9.5]]
    image = DecodedImage(np.zeros((3, 4, 3), np.uint8), (H, W), factor=4)
    rows, cols = image.sample_points()
    full = rasterize_polygons(polygon, H, W)
    np.testing.assert_array_equal(segmentation_mask(polygon, H, W, (rows, cols)),
                                  full[np.ix_(rows, cols)])
    from reportgen.data.masks import encode_rle

    rle = {"size": [H, W], "counts": encode_rle(full)}
    np.testing.assert_array_equal(segmentation_mask(rle, H, W, (rows, cols)),
                                  full[np.ix_(rows, cols)])
