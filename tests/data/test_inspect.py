"""``inspect_dataset``: counts per class and part, pixel shares, problems, rendered as text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reportgen.data.inspect import inspect_dataset, render_inspection
from reportgen.errors import DatasetError


def test_counts_classes_parts_and_pixel_shares_of_a_label_map_dataset(folder_dataset):
    result = inspect_dataset(folder_dataset)
    assert result.items == result.samples == 8 and not result.problems
    assert sum(result.class_counts.values()) == 8
    assert set(result.class_counts) <= set(result.class_names)
    shares = [result.pixel_share(r) for r in ("background", *result.part_names, "void")]
    assert sum(shares) == pytest.approx(1.0)  # label maps: every pixel in one region
    assert result.total_pixels == 8 * 96 * 96


def test_pixel_counts_match_the_label_maps(tmp_path, make):
    from PIL import Image

    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    labels = make.label_map()
    labels[0, :4] = 255
    Image.fromarray(make.rgb()).save(root / "images" / "a.png")
    Image.fromarray(labels).save(root / "labels" / "a.png")
    (root / "dataset.json").write_text(json.dumps({
        "classes": ["cat", "dog"], "parts": ["head", "tail", "wing"],
        "samples": [{"id": "a", "image": "images/a.png", "labels": "labels/a.png",
                     "class": "cat"},
                    {"id": "b", "image": "images/b.png", "labels": "labels/b.png",
                     "class": "cat"}]}))
    result = inspect_dataset(root)
    assert result.pixels["head"] == (labels == 1).sum()
    assert result.pixels["void"] == 4
    assert result.part_samples == {"head": 1, "tail": 1}
    assert result.pixel_share("tail") == pytest.approx((labels == 2).mean())
    assert len(result.problems) == 1 and result.problems[0].image_id == "b"
    assert "part 'wing' is never present" in result.notes
    assert "class 'dog' has no samples" in result.notes


def test_overlapping_masks_are_counted_per_part(real_data):
    result = inspect_dataset({"format": "pascal_part", "root": real_data / "pascal_part",
                              "classes": ["dog", "person"]})
    assert result.class_counts == {"dog": 4, "person": 2}
    assert result.overlapping == 6
    assert result.part_samples["head"] == 6 and result.part_samples["paw"] == 4
    parts = sum(result.pixel_share(p) for p in result.part_names)
    assert parts > 1 - result.pixel_share("background")  # overlaps count twice
    assert result.class_part_samples["person"]["hand"] == 1


def test_rendered_text_lists_classes_parts_and_problems(tmp_path, make, builder):
    builder.image_path("b").write_bytes(b"broken")
    text = render_inspection(inspect_dataset(builder.spec()))
    assert f"({builder.format})" in text
    assert "3 items: 2 samples, 1 excluded" in text
    assert "pixel share" in text and "background" in text
    assert "Problems (1)" in text and "  b: " in text
    assert str(builder.image_path("b").name) in text


def test_rendered_text_truncates_long_problem_lists(folder_dataset):
    for png in (folder_dataset / "images").iterdir():
        png.unlink()
    text = render_inspection(inspect_dataset(folder_dataset), max_problems=3)
    assert "Problems (8)" in text and "... and 5 more" in text
    assert "No problems found." not in text


def test_to_dict_is_json_ready(real_data):
    result = inspect_dataset({"format": "mat_labelmap", "root": real_data / "ccp",
                              "class_name": "person"}, limit=4)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["samples"] == 4 and data["classes"] == {"person": 4}
    assert data["parts"]["hair"]["samples"] >= 1
    assert 0 < data["background_pixel_share"] < 1
    assert np.isclose(sum(p["pixel_share"] for p in data["parts"].values())
                      + data["background_pixel_share"] + data["void_pixel_share"], 1, atol=1e-4)


def test_structural_problems_raise_before_any_reading(tmp_path):
    with pytest.raises(DatasetError):
        inspect_dataset(tmp_path / "missing")
