"""PartImageNet: COCO-style part annotations (polygons, RLE) -> samples; no data shipped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reportgen.data.masks import encode_counts, encode_rle
from reportgen.data.partimagenet import PartImageNetDataset, PartImageNetOptions
from reportgen.data.sample import Sample
from reportgen.data.spec import load_dataset
from reportgen.errors import DatasetError
from reportgen.exclusions import Exclusion

H, W = 20, 24
CATEGORIES = [{"id": 0, "name": "Quadruped Head", "supercategory": "Quadruped"},
              {"id": 1, "name": "Quadruped Body", "supercategory": "Quadruped"},
              {"id": 2, "name": "Fish Head", "supercategory": "Fish"},
              {"id": 3, "name": "Fish Tail", "supercategory": "Fish"}]


def _block(r0, r1, c0, c1) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[r0:r1, c0:c1] = True
    return m


def _rect(c0, r0, c1, r1) -> list[list[float]]:
    return [[c0, r0, c1, r0, c1, r1, c0, r1]]


def _write(root: Path, make, images: list[dict], annotations: list[dict],
           categories=CATEGORIES, name="annotations/train.json") -> dict:
    (root / "images").mkdir(parents=True, exist_ok=True)
    for k, im in enumerate(images):
        path = root / "images" / im["file_name"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make.png(make.rgb(im.get("height", H), im.get("width", W), seed=k)))
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(json.dumps({"images": images, "annotations": annotations,
                                         "categories": categories}))
    return {"format": "partimagenet", "root": str(root), "annotations": name}


def _two_images(root: Path, make) -> dict:
    images = [{"id": 17, "file_name": "n02085620_1.JPEG", "height": H, "width": W},
              {"id": 18, "file_name": "n01440764_7.JPEG", "height": H, "width": W}]
    annotations = [
        {"id": 1, "image_id": 17, "category_id": 0, "segmentation": _rect(2, 2, 8, 7)},
        {"id": 2, "image_id": 17, "category_id": 1, "iscrowd": 1,
         "segmentation": {"size": [H, W], "counts": encode_rle(_block(8, 18, 4, 20))}},
        {"id": 3, "image_id": 18, "category_id": 2,
         "segmentation": {"size": [H, W],
                          "counts": encode_counts(encode_rle(_block(5, 15, 2, 10)))}},
        {"id": 4, "image_id": 18, "category_id": 3, "segmentation": _rect(18, 6, 23, 14)},
    ]
    return _write(root, make, images, annotations)


def test_polygons_and_rle_become_a_label_map_with_the_category_order(tmp_path, make):
    dog, fish = load_dataset(_two_images(tmp_path, make))
    assert dog.part_names == ("Quadruped Head", "Quadruped Body", "Fish Head", "Fish Tail")
    expected = np.zeros((H, W), np.uint8)
    expected[_block(2, 7, 2, 8)] = 1
    expected[_block(8, 18, 4, 20)] = 2
    np.testing.assert_array_equal(dog.labels, expected)
    expected = np.zeros((H, W), np.uint8)
    expected[_block(5, 15, 2, 10)] = 3
    expected[_block(6, 14, 18, 23)] = 4
    np.testing.assert_array_equal(fish.labels, expected)
    assert dog.image_id == "17" and dog.source.endswith("n02085620_1.JPEG")


def test_class_comes_from_the_wordnet_id_in_the_file_name(tmp_path, make):
    ds = load_dataset(_two_images(tmp_path, make))
    assert ds.class_names == ("n01440764", "n02085620")
    dog, fish = ds
    assert (dog.class_name, dog.class_index) == ("n02085620", 1)
    assert (fish.class_name, fish.class_index) == ("n01440764", 0)


def test_class_map_renames_wordnet_ids_and_fixes_the_class_order(tmp_path, make):
    spec = _two_images(tmp_path, make)
    (tmp_path / "classes.yaml").write_text("n02085620: chihuahua\nn01440764: tench\n")
    ds = load_dataset({**spec, "class_map": "classes.yaml", "classes": ["tench", "chihuahua"]})
    assert [(s.class_name, s.class_index) for s in ds] == [("chihuahua", 1), ("tench", 0)]


def test_part_names_can_drop_the_supercategory_and_merge_across_it(tmp_path, make):
    ds = load_dataset({**_two_images(tmp_path, make), "part_names": "part"})
    assert ds.part_names == ("Head", "Body", "Tail")
    _, fish = ds
    assert set(np.unique(fish.labels)) == {0, 1, 3}  # Fish Head is Head (1)


def test_overlapping_part_annotations_are_kept_as_masks(tmp_path, make):
    images = [{"id": 1, "file_name": "n02085620_1.JPEG", "height": H, "width": W}]
    annotations = [{"id": 1, "image_id": 1, "category_id": 0, "segmentation": _rect(2, 2, 10, 10)},
                   {"id": 2, "image_id": 1, "category_id": 1, "segmentation": _rect(8, 8, 16, 16)}]
    (sample,) = load_dataset(_write(tmp_path, make, images, annotations))
    assert sample.labels is None
    assert sample.part_masks[0, 9, 9] and sample.part_masks[1, 9, 9]
    assert sample.part_masks[0].sum() == 64 and sample.part_masks[1].sum() == 64


def test_images_under_a_wordnet_subfolder_are_found(tmp_path, make):
    images = [{"id": 1, "file_name": "n02085620_1.JPEG", "height": H, "width": W}]
    annotations = [{"id": 1, "image_id": 1, "category_id": 0, "segmentation": _rect(2, 2, 9, 9)}]
    spec = _write(tmp_path, make, images, annotations)
    sub = tmp_path / "images" / "n02085620"
    sub.mkdir()
    (tmp_path / "images" / "n02085620_1.JPEG").rename(sub / "n02085620_1.JPEG")
    (sample,) = load_dataset(spec)
    assert sample.source == str(sub / "n02085620_1.JPEG")


def test_image_without_height_and_width_uses_the_image_size(tmp_path, make):
    images = [{"id": 1, "file_name": "n02085620_1.JPEG"}]
    annotations = [{"id": 1, "image_id": 1, "category_id": 0, "segmentation": _rect(2, 2, 9, 9)}]
    (sample,) = load_dataset(_write(tmp_path, make, images, annotations))
    assert isinstance(sample, Sample) and (sample.labels == 1).sum() == 49


# ---------------------------------------------------------------- per-sample problems


def _one_image(tmp_path, make, annotations, file_name="n02085620_1.JPEG", **opts) -> Exclusion:
    images = [{"id": 1, "file_name": file_name, "height": H, "width": W}]
    (item,) = load_dataset({**_write(tmp_path, make, images, annotations), **opts})
    assert isinstance(item, Exclusion), item
    assert str(tmp_path / "annotations" / "train.json") in item.reason
    return item


def test_image_without_annotations_is_excluded(tmp_path, make):
    assert "has no part annotations" in _one_image(tmp_path, make, []).reason


def test_empty_rle_is_excluded_as_no_part_pixels(tmp_path, make):
    empty = {"size": [H, W], "counts": [H * W]}
    item = _one_image(tmp_path, make, [{"id": 5, "image_id": 1, "category_id": 0,
                                        "segmentation": empty}])
    assert "no part pixels" in item.reason


def test_rle_of_the_wrong_size_is_excluded_naming_the_annotation(tmp_path, make):
    rle = {"size": [H + 1, W], "counts": [(H + 1) * W]}
    item = _one_image(tmp_path, make, [{"id": 5, "image_id": 1, "category_id": 0,
                                        "segmentation": rle}])
    assert "annotation 5" in item.reason and f"{W}x{H + 1}" in item.reason


def test_annotation_without_segmentation_is_excluded(tmp_path, make):
    item = _one_image(tmp_path, make, [{"id": 5, "image_id": 1, "category_id": 0}])
    assert "annotation 5 has no segmentation" in item.reason


def test_file_name_without_wordnet_id_and_no_class_map_is_excluded(tmp_path, make):
    item = _one_image(tmp_path, make, [{"id": 5, "image_id": 1, "category_id": 0,
                                        "segmentation": _rect(1, 1, 5, 5)}],
                      file_name="dog_photo.png")
    assert "no WordNet id" in item.reason and "class_map" in item.reason


def test_class_outside_the_configured_classes_is_excluded(tmp_path, make):
    item = _one_image(tmp_path, make, [{"id": 5, "image_id": 1, "category_id": 0,
                                        "segmentation": _rect(1, 1, 5, 5)}],
                      classes=["n01440764"])
    assert "'n02085620' is not among the configured classes" in item.reason


# ---------------------------------------------------------------- structural errors


def _error(spec) -> str:
    with pytest.raises(DatasetError) as info:
        load_dataset(spec)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_missing_annotation_file_is_a_dataset_error(tmp_path):
    message = _error({"format": "partimagenet", "root": tmp_path, "annotations": "x.json"})
    assert str(tmp_path / "x.json") in message and "not found" in message


def test_invalid_json_is_a_dataset_error_with_its_position(tmp_path):
    (tmp_path / "a.json").write_text('{"images": [')
    message = _error({"format": "partimagenet", "root": tmp_path, "annotations": "a.json"})
    assert "invalid JSON at line 1" in message


def test_json_without_the_coco_lists_is_a_dataset_error(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"images": []}))
    assert "images, annotations, categories" in _error(
        {"format": "partimagenet", "root": tmp_path, "annotations": "a.json"})


def test_annotations_of_unknown_images_are_a_dataset_error(tmp_path, make):
    spec = _write(tmp_path, make, [{"id": 1, "file_name": "n02085620_1.JPEG"}],
                  [{"id": 9, "image_id": 99, "category_id": 0, "segmentation": _rect(1, 1, 4, 4)}])
    assert "refer to image ids that are not in 'images' (e.g. 99)" in _error(spec)


def test_no_categories_is_a_dataset_error(tmp_path, make):
    assert "the part category list is empty" in _error(_write(tmp_path, make, [], [],
                                                              categories=[]))


def test_duplicate_category_names_are_a_dataset_error(tmp_path, make):
    cats = [{"id": 0, "name": "Head"}, {"id": 1, "name": "Head"}]
    spec = _write(tmp_path, make, [], [], categories=cats)
    assert "duplicate names ['Head']" in _error(spec)


def test_annotations_option_is_required(tmp_path):
    assert "option 'annotations' is required" in _error({"format": "partimagenet",
                                                         "root": tmp_path})


def test_dataset_class_needs_its_options(tmp_path):
    with pytest.raises(DatasetError, match="needs the option 'annotations'"):
        PartImageNetDataset(tmp_path)
    (tmp_path / "a.json").write_text(json.dumps({"images": [], "annotations": [],
                                                 "categories": CATEGORIES}))
    ds = PartImageNetDataset(tmp_path, options=PartImageNetOptions(annotations="a.json"))
    assert len(ds) == 0 and list(ds) == []
