""".mat label maps with a label list (the CCP layout), read in place from ../shared/data/ccp."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from reportgen.data.sample import IGNORE_INDEX, Sample
from reportgen.data.spec import load_dataset
from reportgen.errors import DatasetError
from reportgen.exclusions import Exclusion


@pytest.fixture(scope="module")
def ccp(real_data) -> Path:
    return real_data / "ccp"


def _spec(root: Path, **options) -> dict:
    return {"format": "mat_labelmap", "root": root, "class_name": "person", **options}


def _label_names(ccp: Path) -> list[str]:
    raw = scipy.io.loadmat(ccp / "label_list.mat")["label_list"][0]
    return [str(v[0]) if v.size else "" for v in raw]


# ---------------------------------------------------------------- real files


def test_all_150_ccp_photos_load_with_their_label_maps(ccp):
    ds = load_dataset(_spec(ccp))
    assert len(ds) == 150
    assert ds.class_names == ("person",)
    assert ds.part_names == tuple(_label_names(ccp)[1:])  # 'null' (id 0) is background
    counts = {"Sample": 0, "Exclusion": 0}
    for item in ds:
        counts[type(item).__name__] += 1
    assert counts == {"Sample": 150, "Exclusion": 0}


def test_ccp_label_map_keeps_the_file_ids_and_the_photo_size(ccp):
    first = next(iter(load_dataset(_spec(ccp))))
    truth = scipy.io.loadmat(ccp / "annotations" / "0001.mat")["groundtruth"]
    assert first.image_id == "0001" and first.image.shape == (*truth.shape, 3)
    np.testing.assert_array_equal(first.labels, truth)
    hair = first.part_names.index("hair") + 1
    assert (first.labels == hair).any()


def test_ccp_grouping_merges_labels_and_sends_some_to_background_or_void(ccp):
    grouping = {"footwear": ["shoes", "boots", "heels", "sneakers", "sandals", "flats"],
                "background": ["skin"], "void": ["hair"]}
    ds = load_dataset(_spec(ccp, grouping=grouping, unmapped_labels="background"), limit=5)
    assert ds.part_names == ("footwear",)
    names = _label_names(ccp)
    kinds = []
    for sample in ds:
        truth = scipy.io.loadmat(ccp / "annotations" / f"{sample.image_id}.mat")["groundtruth"]
        feet = np.isin(truth, [names.index(n) for n in grouping["footwear"]])
        kinds.append(type(sample).__name__)
        if isinstance(sample, Exclusion):  # no footwear in this photo: no part pixels
            assert not feet.any() and "no part pixels" in sample.reason
            continue
        np.testing.assert_array_equal(sample.labels == 1, feet)
        np.testing.assert_array_equal(sample.labels == IGNORE_INDEX,
                                      truth == names.index("hair"))
    assert kinds.count("Sample") >= 3


def test_ccp_grouping_keeps_unnamed_labels_as_their_own_parts_by_default(ccp):
    ds = load_dataset(_spec(ccp, grouping={"top": ["blouse", "shirt", "t-shirt", "top"]}))
    assert ds.part_names[0] == "top" and "jeans" in ds.part_names
    assert "blouse" not in ds.part_names and len(ds.part_names) == 58 - 4 + 1


def test_class_map_gives_each_image_its_class(ccp, tmp_path):
    mapping = tmp_path / "classes.json"
    mapping.write_text(json.dumps({"0001": "dress", "0002": "coat"}))
    ds = load_dataset({"format": "mat_labelmap", "root": ccp, "class_map": str(mapping)},
                      limit=3)
    assert ds.class_names == ("coat", "dress")
    a, b, c = ds
    assert (a.class_name, a.class_index) == ("dress", 1)
    assert (b.class_name, b.class_index) == ("coat", 0)
    assert isinstance(c, Exclusion) and "no class for this image" in c.reason
    assert str(mapping) in c.reason


# ---------------------------------------------------------------- made in code


def _write(root: Path, make, labels: np.ndarray, names=("null", "head", "tail"),
           variable="groundtruth") -> None:
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "photos").mkdir(exist_ok=True)
    cell = np.empty((1, len(names)), dtype=object)
    cell[0, :] = [np.array(n) if n else np.zeros((0,), "U1") for n in names]
    scipy.io.savemat(root / "label_list.mat", {"label_list": cell})
    scipy.io.savemat(root / "annotations" / "x.mat", {variable: labels})
    (root / "photos" / "x.png").write_bytes(make.png(make.rgb(*labels.shape)))


def test_float_label_maps_with_integer_values_are_accepted(tmp_path, make):
    _write(tmp_path, make, make.label_map().astype(np.float64))
    (sample,) = load_dataset(_spec(tmp_path))
    np.testing.assert_array_equal(sample.labels, make.label_map())


def test_non_integer_label_values_are_excluded(tmp_path, make):
    _write(tmp_path, make, make.label_map() + 0.5)
    (item,) = load_dataset(_spec(tmp_path))
    assert isinstance(item, Exclusion) and "non-integer" in item.reason


def test_an_empty_label_list_entry_gets_a_placeholder_name(tmp_path, make):
    _write(tmp_path, make, make.label_map(), names=("null", "", "tail"))
    assert load_dataset(_spec(tmp_path)).part_names == ("label_1", "tail")


def test_label_map_variable_can_be_named(tmp_path, make):
    _write(tmp_path, make, make.label_map(), variable="seg")
    scipy.io.savemat(tmp_path / "annotations" / "x.mat",
                     {"seg": make.label_map(), "other": np.zeros(2)})
    (item,) = load_dataset(_spec(tmp_path))
    assert isinstance(item, Exclusion) and "labels_variable" in item.reason
    (sample,) = load_dataset(_spec(tmp_path, labels_variable="seg"))
    assert isinstance(sample, Sample)


def test_3d_label_map_is_excluded(tmp_path, make):
    _write(tmp_path, make, np.zeros((4, 5, 2), np.uint8))
    (item,) = load_dataset(_spec(tmp_path))
    assert isinstance(item, Exclusion) and "not a 2-D label map" in item.reason


# ---------------------------------------------------------------- structural errors


def test_class_name_or_class_map_is_required(ccp):
    with pytest.raises(DatasetError, match="exactly one of 'class_name'"):
        load_dataset({"format": "mat_labelmap", "root": ccp})


def test_auto_detected_mat_folder_without_options_says_what_is_missing(ccp):
    with pytest.raises(DatasetError, match="class_name"):
        load_dataset(ccp)


def test_unreadable_label_list_is_a_one_line_dataset_error(tmp_path, make):
    _write(tmp_path, make, make.label_map())
    (tmp_path / "label_list.mat").write_bytes(b"garbage" * 50)
    with pytest.raises(DatasetError) as info:
        load_dataset(_spec(tmp_path))
    assert str(tmp_path / "label_list.mat") in str(info.value) and "\n" not in str(info.value)


def test_grouping_naming_unknown_labels_is_a_dataset_error(tmp_path, make):
    _write(tmp_path, make, make.label_map())
    with pytest.raises(DatasetError, match=r"not in the label list: \['wing'\]"):
        load_dataset(_spec(tmp_path, grouping={"limbs": ["wing"]}))


def test_duplicate_label_names_are_a_dataset_error(tmp_path, make):
    _write(tmp_path, make, make.label_map(), names=("null", "tail", "tail"))
    with pytest.raises(DatasetError, match="duplicate names"):
        load_dataset(_spec(tmp_path))


def test_missing_photo_folder_is_a_dataset_error(tmp_path, make):
    _write(tmp_path, make, make.label_map())
    with pytest.raises(DatasetError, match="image folder not found"):
        load_dataset(_spec(tmp_path, images="pictures"))
