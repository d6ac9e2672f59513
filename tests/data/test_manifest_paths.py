"""Paths read from a manifest or an annotation file stay inside the dataset root (``..``,
absolute paths and symlinks judged by where they resolve) unless ``allow_outside_root``; ids
must be strings or integers."""

from __future__ import annotations

import json
import os

import pytest

from reportgen.data.inspect import inspect_dataset
from reportgen.data.sample import Sample
from reportgen.data.spec import check_options, load_dataset
from reportgen.errors import ConfigError, DatasetError
from reportgen.exclusions import Exclusion


@pytest.fixture()
def outside(tmp_path, make):
    """An image and a label map in a folder beside the dataset root."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "img.png").write_bytes(make.png(make.rgb()))
    (folder / "lab.png").write_bytes(make.png(make.label_map()))
    return folder


def _folder_dataset(root, make, samples: list[dict]):
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(exist_ok=True)
    (root / "images" / "in.png").write_bytes(make.png(make.rgb()))
    (root / "labels" / "in.png").write_bytes(make.png(make.label_map()))
    inside = {"id": "in", "image": "images/in.png", "labels": "labels/in.png", "class": "cat"}
    (root / "dataset.json").write_text(json.dumps({
        "classes": ["cat"], "parts": ["head", "tail"], "samples": [inside, *samples]}))
    return root


@pytest.mark.parametrize("image, labels", [
    ("../outside/img.png", "labels/in.png"),
    ("images/in.png", "../outside/lab.png"),
    ("{outside}/img.png", "labels/in.png"),
], ids=["dotdot-image", "dotdot-labels", "absolute"])
def test_folder_manifest_paths_outside_the_root_are_excluded(tmp_path, make, outside, image,
                                                             labels):
    root = _folder_dataset(tmp_path / "ds", make, [{
        "id": "x", "image": image.format(outside=outside),
        "labels": labels.format(outside=outside), "class": "cat"}])
    items = {i.image_id: i for i in load_dataset(root)}
    assert isinstance(items["in"], Sample)
    assert isinstance(items["x"], Exclusion)
    assert "outside the dataset root" in items["x"].reason
    assert "allow_outside_root" in items["x"].reason
    allowed = {i.image_id: i for i in load_dataset(root, allow_outside_root=True)}
    assert isinstance(allowed["x"], Sample)
    in_spec = {i.image_id: i for i in load_dataset({"root": root, "allow_outside_root": True})}
    assert isinstance(in_spec["x"], Sample)


def test_a_symlink_inside_the_root_pointing_outside_is_judged_by_its_target(tmp_path, make,
                                                                            outside):
    root = _folder_dataset(tmp_path / "ds", make, [{
        "id": "x", "image": "images/link.png", "labels": "labels/in.png", "class": "cat"}])
    os.symlink(outside / "img.png", root / "images" / "link.png")
    items = {i.image_id: i for i in load_dataset(root)}
    assert isinstance(items["x"], Exclusion) and str(outside / "img.png") in items["x"].reason


def test_a_symlink_that_stays_inside_the_root_is_fine(tmp_path, make):
    root = _folder_dataset(tmp_path / "ds", make, [{
        "id": "x", "image": "images/alias.png", "labels": "labels/in.png", "class": "cat"}])
    os.symlink(root / "images" / "in.png", root / "images" / "alias.png")
    assert all(isinstance(i, Sample) for i in load_dataset(root))


def test_partimagenet_file_names_outside_the_root_are_excluded(tmp_path, make, outside):
    from reportgen.data.masks import encode_rle

    root = tmp_path / "pin"
    (root / "images").mkdir(parents=True)
    (root / "images" / "n01440764_1.png").write_bytes(make.png(make.rgb()))
    mask = make.label_map() == 1
    names = {"in": "n01440764_1.png", "x": "../../outside/img.png", "y": f"{outside}/img.png"}
    coco = {"categories": [{"id": 1, "name": "Fish Head", "supercategory": "Fish"}],
            "images": [{"id": k, "file_name": v, "height": make.H, "width": make.W}
                       for k, v in names.items()],
            "annotations": [{"id": i, "image_id": k, "category_id": 1,
                             "segmentation": {"size": [make.H, make.W],
                                              "counts": encode_rle(mask)}}
                            for i, k in enumerate(names)]}
    (root / "ann.json").write_text(json.dumps(coco))
    (root / "classes.json").write_text(json.dumps(dict.fromkeys(names, "fish")))
    spec = {"format": "partimagenet", "root": root, "annotations": "ann.json",
            "class_map": "classes.json"}
    items = {i.image_id: i for i in load_dataset(spec)}
    assert isinstance(items["in"], Sample)
    for key in ("x", "y"):
        assert isinstance(items[key], Exclusion)
        assert "outside the dataset root" in items[key].reason
    allowed = {i.image_id: i for i in load_dataset(spec, allow_outside_root=True)}
    assert isinstance(allowed["y"], Sample)


def test_allow_outside_root_is_checked_like_an_option():
    check_options("folder", {"allow_outside_root": True, "max_image_pixels": 10})
    with pytest.raises(DatasetError, match="allow_outside_root"):
        check_options("folder", {"allow_outside_root": "yes"})


# ---------------------------------------------------------------- ids


@pytest.mark.parametrize("bad", [[1], 1.5, None, True, {"a": 1}, ""])
def test_folder_sample_id_that_is_not_a_string_or_integer_names_the_manifest(tmp_path, make,
                                                                             bad):
    root = _folder_dataset(tmp_path / "ds", make, [{
        "id": bad, "image": "images/in.png", "labels": "labels/in.png", "class": "cat"}])
    with pytest.raises(DatasetError) as info:
        load_dataset(root)
    message = str(info.value)
    assert str(root / "dataset.json") in message and "samples[1]" in message
    assert "'id'" in message and repr(bad) in message


def test_integer_ids_are_still_accepted(tmp_path, make):
    root = _folder_dataset(tmp_path / "ds", make, [{
        "id": 7, "image": "images/in.png", "labels": "labels/in.png", "class": "cat"}])
    assert [i.image_id for i in load_dataset(root)] == ["in", "7"]


@pytest.mark.parametrize("key", ["image", "labels", "class"])
def test_folder_sample_paths_and_class_must_be_strings(tmp_path, make, key):
    entry = {"id": "x", "image": "images/in.png", "labels": "labels/in.png", "class": "cat"}
    root = _folder_dataset(tmp_path / "ds", make, [{**entry, key: ["images/in.png"]}])
    with pytest.raises(DatasetError, match=rf"samples\[1\]: '{key}' must be a non-empty string"):
        load_dataset(root)


def test_partimagenet_image_id_that_is_a_list_names_the_annotation_file(tmp_path):
    root = tmp_path / "pin"
    root.mkdir()
    (root / "ann.json").write_text(json.dumps({
        "categories": [{"id": 1, "name": "Head"}],
        "images": [{"id": [1], "file_name": "n01440764_1.png"}], "annotations": []}))
    with pytest.raises(DatasetError, match=r"images\[0\]\.id must be a string or an integer"):
        load_dataset({"format": "partimagenet", "root": root, "annotations": "ann.json"})


# ---------------------------------------------------------------- inspect --limit


@pytest.mark.parametrize("limit", [0, -2, 1.5])
def test_inspect_refuses_a_limit_below_one(folder_dataset, limit):
    with pytest.raises(ConfigError, match="at least 1") as info:
        inspect_dataset(folder_dataset, limit=limit)
    assert "\n" not in str(info.value)


def test_inspect_with_limit_one_reads_one_item(folder_dataset):
    assert inspect_dataset(folder_dataset, limit=1).items == 1

