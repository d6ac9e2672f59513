"""Every format against the same corpus of broken files: a bad sample becomes an exclusion
with a one-line reason naming the file, the samples around it still load, and unusual but
valid images (grey, RGBA, 16-bit, EXIF-rotated) are converted.

The ``builder`` fixture (tests/data/conftest.py) runs each test once per format.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFile

from reportgen.data.sample import Sample
from reportgen.data.spec import load_dataset
from reportgen.exclusions import Exclusion

H, W = 12, 16


def _items(builder) -> dict[str, list]:
    by_id: dict[str, list] = {}
    for item in load_dataset(builder.spec()):
        by_id.setdefault(item.image_id, []).append(item)
    return by_id


def _only_b_excluded(builder, *needles: str) -> Exclusion:
    """a and c load as samples; b is one exclusion whose reason contains every needle."""
    items = _items(builder)
    for good in ("a", "c"):
        assert [type(i) for i in items[good]] == [Sample], items[good]
    (bad,) = items["b"]
    assert isinstance(bad, Exclusion), bad
    assert bad.stage == "data"
    assert "\n" not in bad.reason
    for needle in needles:
        assert needle in bad.reason, (needle, bad.reason)
    return bad


def _sample_b(builder) -> Sample:
    (b,) = _items(builder)["b"]
    assert isinstance(b, Sample), b
    assert b.image.dtype == np.uint8 and b.image.shape == (H, W, 3)
    return b


def _label_masks(labels: np.ndarray) -> np.ndarray:
    return np.stack([labels == 1, labels == 2])


# ---------------------------------------------------------------- the valid dataset


def test_every_format_yields_the_same_images_and_part_regions(builder, make):
    items = list(load_dataset(builder.spec()))
    assert [i.image_id for i in items] == ["a", "b", "c"]
    for k, sample in enumerate(items):
        assert isinstance(sample, Sample), sample
        np.testing.assert_array_equal(sample.image, make.rgb(seed=k))
        regions = sample.region_masks()
        assert regions.shape == (3, H, W)
        np.testing.assert_array_equal(regions[1:], _label_masks(make.label_map(shift=k)))
        np.testing.assert_array_equal(regions[0], make.label_map(shift=k) == 0)
        assert tuple(n.replace("Fish ", "").lower() for n in sample.region_names) == (
            "background", "head", "tail")
        assert sample.source.endswith(builder.image_path(sample.image_id).name)


# ---------------------------------------------------------------- broken images


def test_missing_image_is_excluded_naming_where_it_was_looked_for(builder):
    builder.image_path("b").unlink()
    _only_b_excluded(builder, str(builder.image_path("b").parent))


@pytest.mark.parametrize("broken", ["garbage", "empty", "truncated_png_half",
                                    "truncated_png_header", "truncated_jpeg",
                                    "flipped_byte_png"])
def test_corrupt_or_truncated_image_is_excluded_naming_it(builder, corpus, broken):
    data = {"garbage": corpus.garbage(), "empty": b"",
            "truncated_png_half": corpus.truncated_png(0.5),
            "truncated_png_header": corpus.truncated_png(0.05),
            "truncated_jpeg": corpus.truncated_jpeg(),
            "flipped_byte_png": corpus.flipped_byte_png()}[broken]
    builder.image_path("b").write_bytes(data)
    _only_b_excluded(builder, str(builder.image_path("b")))


def test_truncated_image_is_excluded_even_when_pil_was_told_to_load_truncated_files(
        builder, corpus, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # what weasyprint does
    builder.image_path("b").write_bytes(corpus.truncated_png(0.5))
    _only_b_excluded(builder, str(builder.image_path("b")))
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the global setting is restored


def test_image_of_another_size_than_its_annotation_is_excluded_naming_both_sizes(builder,
                                                                                  make):
    builder.image_path("b").write_bytes(make.png(make.rgb(H + 2, W)))
    _only_b_excluded(builder, f"{W}x{H}", f"{W}x{H + 2}")


# ---------------------------------------------------------------- conversions


@pytest.mark.parametrize("kind", ["gray", "rgba", "gray16"])
def test_grey_rgba_and_16_bit_images_become_rgb_uint8(builder, corpus, kind):
    data, expected = getattr(corpus, kind)()
    builder.image_path("b").write_bytes(data)
    np.testing.assert_array_equal(_sample_b(builder).image, expected)


def test_cmyk_jpeg_becomes_rgb(builder, corpus):
    data, expected = corpus.cmyk()
    builder.image_path("b").write_bytes(data)
    assert np.abs(_sample_b(builder).image.astype(int) - expected).max() <= 3


def test_exif_orientation_is_applied_before_matching_the_annotation(builder, corpus, make):
    data, expected = corpus.exif_rotated()
    builder.image_path("b").write_bytes(data)
    with Image.open(builder.image_path("b")) as stored:
        assert stored.size == (H, W)  # stored portrait, displayed landscape
    sample = _sample_b(builder)
    for rows in (slice(0, H // 2 - 2), slice(H // 2 + 2, H)):  # away from the JPEG edge
        assert np.abs(sample.image[rows].astype(int) - expected[rows]).max() <= 12
    np.testing.assert_array_equal(sample.region_masks()[1:],
                                  _label_masks(make.label_map(shift=1)))


def test_annotation_made_for_the_unrotated_image_is_excluded_saying_so(builder, corpus):
    builder.image_path("b").write_bytes(corpus.exif_rotated_stored_size())
    _only_b_excluded(builder, "EXIF orientation 6", f"{H}x{W}", f"{W}x{H}")


# ---------------------------------------------------------------- broken annotations


@pytest.mark.parametrize("how", ["garbage", "truncated"])
def test_corrupt_or_truncated_annotation_is_excluded_naming_it(builder, how):
    needle = builder.break_annotation("b", how)
    _only_b_excluded(builder, needle)


def test_unknown_label_id_or_part_is_excluded_naming_it(builder):
    needle = builder.unknown_label("b")
    _only_b_excluded(builder, needle)


def test_annotation_without_any_part_pixel_is_excluded(builder, make):
    builder.set_labels("b", np.zeros((H, W), np.uint8))
    _only_b_excluded(builder, "no part")


def test_duplicate_id_is_excluded_and_the_first_one_is_kept(builder):
    needle = builder.duplicate("b")
    items = _items(builder)
    assert [type(i) for i in items["a"]] == [Sample]
    assert [type(i) for i in items["c"]] == [Sample]
    kinds = [type(i) for i in items["b"]]
    excluded = [i for i in items["b"] if isinstance(i, Exclusion)]
    assert excluded and needle in excluded[0].reason, items["b"]
    if builder.format != "mat_labelmap":  # two photos for one id: neither can be chosen
        assert kinds[0] is Sample


def test_limit_stops_reading_after_n_items(builder):
    builder.image_path("c").unlink()  # never reached
    items = list(load_dataset(builder.spec(), limit=2))
    assert [type(i) for i in items] == [Sample, Sample]
