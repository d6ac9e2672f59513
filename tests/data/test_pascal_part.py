"""PASCAL-Part: one sample per object, overlapping part masks, silhouettes, part grouping.

Real files: ../shared/data/pascal_part (4 images, 9 objects), read in place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from reportgen.data.pascal_part import PascalPartDataset, PascalPartOptions
from reportgen.data.pascal_part_parts import (
    DEFAULT_GROUPING,
    FINE_PARTS,
    VOC_CLASSES,
    base_part_name,
)
from reportgen.data.sample import Sample
from reportgen.data.spec import load_dataset
from reportgen.errors import DatasetError
from reportgen.exclusions import Exclusion

H, W = 12, 16


@pytest.fixture(scope="module")
def pascal_root(real_data) -> Path:
    return real_data / "pascal_part"


@pytest.fixture(scope="module")
def objects(pascal_root) -> list:
    return list(load_dataset(pascal_root))


# ---------------------------------------------------------------- real files


def test_real_files_give_one_sample_per_object(objects, pascal_root):
    assert all(isinstance(o, Sample) for o in objects)
    assert [(o.image_id, o.object_id, o.class_name) for o in objects] == [
        ("2008_000008", 0, "person"), ("2008_000008", 1, "horse"),
        ("2008_000009", 0, "cow"), ("2008_000009", 1, "cow"),
        ("2008_000019", 0, "dog"), ("2008_000019", 1, "dog"), ("2008_000019", 2, "dog"),
        ("2008_000026", 0, "person"), ("2008_000026", 1, "dog")]
    assert [o.class_index for o in objects[:3]] == [14, 12, 9]  # class_ind - 1, VOC order
    assert objects[0].source == str(pascal_root / "JPEGImages" / "2008_000008.jpg")
    assert len(load_dataset(pascal_root)) == 4  # annotation files, known without reading


def test_objects_of_one_image_share_the_image_but_not_their_masks(objects):
    person, horse = objects[0], objects[1]
    assert person.image.shape == (442, 500, 3)
    np.testing.assert_array_equal(person.image, horse.image)
    assert not (person.object_mask & horse.object_mask).all()
    assert person.object_mask.sum() == 6670 and horse.object_mask.sum() == 38559


def test_object_mask_is_the_file_silhouette(objects, pascal_root):
    raw = scipy.io.loadmat(pascal_root / "Annotations_Part" / "2008_000019.mat")
    silhouettes = [o["mask"] > 0 for o in raw["anno"]["objects"][0, 0][0]]
    for sample, silhouette in zip(objects[4:7], silhouettes, strict=True):
        np.testing.assert_array_equal(sample.object_mask, silhouette)


def test_overlapping_parts_are_kept_as_masks(objects):
    dog = objects[5]  # has ears, eyes, nose inside the head
    assert dog.labels is None and dog.part_masks.dtype == np.bool_
    head, eye, ear = (dog.part_masks[dog.part_names.index(n)] for n in ("head", "eye", "ear"))
    assert eye.any() and ear.any()
    assert (head & ear).any()  # an ear pixel is also a head pixel
    assert (dog.part_masks.sum(axis=0) > 1).any()


def test_default_grouping_merges_left_right_and_upper_lower_parts(objects, pascal_root):
    person = objects[0]
    raw = scipy.io.loadmat(pascal_root / "Annotations_Part" / "2008_000008.mat")
    parts = raw["anno"]["objects"][0, 0][0][0]["parts"][0]
    fine = {str(p["part_name"][0]): p["mask"] > 0 for p in parts}
    leg = person.part_masks[person.part_names.index("leg")]
    np.testing.assert_array_equal(leg, fine["llleg"] | fine["luleg"] | fine["ruleg"])
    arm = person.part_masks[person.part_names.index("arm")]
    np.testing.assert_array_equal(arm, fine["llarm"] | fine["luarm"])


def test_grouping_none_keeps_the_fine_names(pascal_root):
    ds = load_dataset({"format": "pascal_part", "root": pascal_root, "grouping": "none",
                       "classes": ["dog"]})
    assert {"lear", "rear", "lfpa", "muzzle"} <= set(ds.part_names)
    dogs = [s for s in ds if isinstance(s, Sample)]
    assert len(dogs) == 4  # person, horse, cows are not configured: skipped
    assert all(s.class_index == 0 for s in dogs)


def test_custom_grouping_and_dropped_parts(pascal_root):
    ds = load_dataset({"format": "pascal_part", "root": pascal_root, "classes": ["dog"],
                       "grouping": {"face": ["head", "leye", "reye", "nose", "muzzle"]},
                       "unmapped_parts": "drop"})
    assert ds.part_names == ("face",)
    samples = [s for s in ds if isinstance(s, Sample)]
    assert len(samples) == 4 and all(s.part_masks.shape[0] == 1 for s in samples)


def test_custom_grouping_without_drop_excludes_objects_with_unmapped_parts(pascal_root):
    ds = load_dataset({"format": "pascal_part", "root": pascal_root, "classes": ["dog"],
                       "grouping": {"face": ["head"]}})
    items = list(ds)
    assert items and all(isinstance(i, Exclusion) for i in items)
    assert "is not in the grouping" in items[0].reason and "object 0" in items[0].reason


def test_other_objects_can_be_void_instead_of_background(pascal_root):
    ds = load_dataset({"format": "pascal_part", "root": pascal_root, "other_objects": "void"})
    person, horse = list(ds)[:2]
    assert person.void_mask is not None
    np.testing.assert_array_equal(person.void_mask, horse.object_mask & ~person.object_mask)
    assert not person.region_masks()[0][horse.object_mask].any()


# ---------------------------------------------------------------- vocabulary


def test_default_grouping_covers_every_fine_part_exactly_once():
    fine_to_coarse: dict[str, list[str]] = {}
    for coarse, fines in DEFAULT_GROUPING.items():
        for fine in fines:
            fine_to_coarse.setdefault(fine, []).append(coarse)
    assert all(len(c) == 1 for c in fine_to_coarse.values())
    for cls in VOC_CLASSES:
        missing = set(FINE_PARTS[cls]) - set(fine_to_coarse)
        assert not missing, (cls, missing)


def test_numbered_instances_reduce_to_their_base_name():
    assert base_part_name("wheel_12") == "wheel"
    assert base_part_name("lfleg") == "lfleg"


def test_default_vocabulary_follows_the_configured_classes(pascal_root):
    dogs = load_dataset({"format": "pascal_part", "root": pascal_root, "classes": ["dog"]})
    assert dogs.part_names == ("head", "eye", "ear", "nose", "muzzle", "neck", "torso", "leg",
                               "paw", "tail")
    assert dogs.class_parts == {"dog": ("head", "eye", "ear", "nose", "torso", "neck", "leg",
                                        "paw", "tail", "muzzle")}


def test_dataset_class_opens_without_a_spec(pascal_root):
    ds = PascalPartDataset(pascal_root, limit=2, options=PascalPartOptions(classes=("horse",)))
    assert ds.class_names == ("horse",) and len(ds) == 2
    assert [s.class_name for s in ds] == ["horse"]


# ---------------------------------------------------------------- made in code


def _write(root: Path, stem: str, objects: list[dict], make, imname: str | None = None,
           image: bool = True) -> None:
    (root / "Annotations_Part").mkdir(parents=True, exist_ok=True)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(root / "Annotations_Part" / f"{stem}.mat",
                     {"anno": {"imname": imname or stem,
                               "objects": make.struct_array(objects)}})
    if image:
        (root / "JPEGImages" / f"{imname or stem}.jpg").write_bytes(make.png(make.rgb()))


def _object(cls: str, parts: list[tuple[str, np.ndarray]], make, silhouette=None) -> dict:
    masks = [m for _, m in parts]
    sil = silhouette if silhouette is not None else (
        np.logical_or.reduce(masks) if masks else np.zeros((H, W), bool))
    return {"class": cls, "class_ind": np.array([[VOC_CLASSES.index(cls) + 1]]),
            "mask": sil.astype(np.uint8),
            "parts": make.struct_array([{"part_name": n, "mask": m.astype(np.uint8)}
                                        for n, m in parts]) if parts else np.zeros((0, 0))}


def _block(r0, r1, c0, c1) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[r0:r1, c0:c1] = True
    return m


def test_object_without_parts_is_excluded_with_a_reason_and_its_neighbours_load(tmp_path,
                                                                               make):
    _write(tmp_path, "img", [
        _object("dog", [("head", _block(1, 4, 1, 4)), ("lfleg", _block(5, 8, 1, 3))], make),
        _object("boat", [], make, silhouette=_block(0, 12, 8, 16)),
        _object("dog", [("tail", _block(9, 11, 10, 14))], make)], make)
    items = list(load_dataset(tmp_path))
    assert [type(i).__name__ for i in items] == ["Sample", "Exclusion", "Sample"]
    assert items[1].image_id == "img" and "object 1" in items[1].reason
    assert "boat has no part annotations" in items[1].reason
    assert [s.object_id for s in (items[0], items[2])] == [0, 2]


def test_object_with_only_empty_part_masks_is_excluded(tmp_path, make):
    empty = np.zeros((H, W), bool)
    _write(tmp_path, "img", [_object("dog", [("head", empty)], make,
                                     silhouette=_block(1, 5, 1, 5))], make)
    (item,) = load_dataset(tmp_path)
    assert isinstance(item, Exclusion) and "no part pixels" in item.reason


def test_part_pixels_outside_the_silhouette_join_the_object_mask(tmp_path, make):
    _write(tmp_path, "img", [_object("dog", [("head", _block(1, 4, 1, 4))], make,
                                     silhouette=_block(1, 3, 1, 4))], make)
    (sample,) = load_dataset(tmp_path)
    np.testing.assert_array_equal(sample.object_mask, _block(1, 4, 1, 4))


def test_numbered_parts_merge_into_one_coarse_part(tmp_path, make):
    _write(tmp_path, "img", [_object("car", [("wheel_1", _block(8, 11, 1, 4)),
                                             ("wheel_2", _block(8, 11, 10, 13))], make)], make)
    (sample,) = load_dataset({"format": "pascal_part", "root": tmp_path, "classes": ["car"]})
    wheel = sample.part_masks[sample.part_names.index("wheel")]
    assert wheel.sum() == 18


def test_missing_class_name_falls_back_to_class_ind(tmp_path, make):
    obj = _object("cow", [("head", _block(1, 4, 1, 4))], make)
    obj["class"] = ""
    _write(tmp_path, "img", [obj], make)
    (sample,) = load_dataset(tmp_path)
    assert sample.class_name == "cow"


def test_mat_without_anno_struct_is_excluded_naming_the_file(tmp_path, make):
    _write(tmp_path, "good", [_object("dog", [("head", _block(1, 4, 1, 4))], make)], make)
    scipy.io.savemat(tmp_path / "Annotations_Part" / "other.mat", {"x": np.zeros(3)})
    items = list(load_dataset(tmp_path))
    assert isinstance(items[0], Sample)
    assert isinstance(items[1], Exclusion)
    assert "other.mat" in items[1].reason and "anno" in items[1].reason


def test_matlab_v73_file_is_excluded_with_a_hint(tmp_path, make):
    _write(tmp_path, "good", [_object("dog", [("head", _block(1, 4, 1, 4))], make)], make)
    v73 = bytearray(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: x HDF5 schema 1.00 .")
    v73 += b" " * (116 - len(v73)) + b"\x00" * 8 + b"\x00\x02IM" + b"\x00" * 400
    (tmp_path / "Annotations_Part" / "h5.mat").write_bytes(bytes(v73))
    bad = list(load_dataset(tmp_path))[1]
    assert isinstance(bad, Exclusion) and "v7.3" in bad.reason


# ---------------------------------------------------------------- structural errors


def test_missing_annotation_folder_is_a_one_line_dataset_error(tmp_path):
    (tmp_path / "JPEGImages").mkdir()
    with pytest.raises(DatasetError, match="Annotations_Part: annotation folder not found"):
        load_dataset({"format": "pascal_part", "root": tmp_path})


def test_empty_annotation_folder_is_a_dataset_error(tmp_path):
    (tmp_path / "JPEGImages").mkdir()
    (tmp_path / "Annotations_Part").mkdir()
    with pytest.raises(DatasetError, match=r"no \.mat annotation files"):
        load_dataset(tmp_path)


def test_grouping_that_puts_a_part_in_two_groups_is_a_dataset_error(pascal_root):
    with pytest.raises(DatasetError, match="'lear' in both"):
        load_dataset({"format": "pascal_part", "root": pascal_root,
                      "grouping": {"ear": ["lear"], "head": ["head", "lear"]}})


@pytest.mark.parametrize("options, message", [
    ({"grouping": "coarse"}, "option 'grouping'"),
    ({"unmapped_parts": "ignore"}, "one of"),
    ({"colour": "red"}, "unknown option"),
])
def test_bad_options_are_one_line_dataset_errors(pascal_root, options, message):
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset({"format": "pascal_part", "root": pascal_root, **options})
    assert "\n" not in str(info.value)
