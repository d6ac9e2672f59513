"""Dataset specs: a folder path, a spec file or a mapping -> the right lazy dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reportgen.data import Dataset, load_dataset
from reportgen.data.folder import FolderDataset
from reportgen.data.mat_labelmap import MatLabelMapDataset
from reportgen.data.pascal_part import PascalPartDataset
from reportgen.data.spec import check_options, format_options, parse_spec
from reportgen.errors import DatasetError


def _error(spec) -> str:
    with pytest.raises(DatasetError) as info:
        load_dataset(spec)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_folder_path_is_the_folder_format(folder_dataset):
    ds = load_dataset(folder_dataset)
    assert isinstance(ds, FolderDataset) and isinstance(ds, Dataset)
    assert ds.format == "folder" and len(ds) == 8


def test_a_limit_keeps_the_first_items(folder_dataset):
    ds = load_dataset(folder_dataset, limit=3)
    assert len(ds) == 3 and len(list(ds)) == 3


def test_pascal_part_layout_is_detected(real_data):
    assert isinstance(load_dataset(real_data / "pascal_part"), PascalPartDataset)


def test_mapping_with_nested_options_equals_flat_options(real_data):
    flat = load_dataset({"format": "mat_labelmap", "root": real_data / "ccp",
                         "class_name": "person"})
    nested = load_dataset({"format": "mat_labelmap", "root": str(real_data / "ccp"),
                           "options": {"class_name": "person"}})
    assert isinstance(flat, MatLabelMapDataset) and flat.part_names == nested.part_names


def test_spec_file_root_is_relative_to_the_file(tmp_path, real_data):
    spec = tmp_path / "ccp.yaml"
    spec.write_text(f"format: mat_labelmap\nroot: {real_data / 'ccp'}\nclass_name: person\n")
    assert load_dataset(spec, limit=2).class_names == ("person",)
    (tmp_path / "sub").mkdir()
    rel = tmp_path / "sub" / "spec.json"
    rel.write_text(json.dumps({"format": "folder", "root": "../world"}))
    assert parse_spec(rel).root == tmp_path / "sub" / ".." / "world"


def test_a_folder_manifest_file_is_a_spec_too(folder_dataset):
    ds = load_dataset(folder_dataset / "dataset.json")
    assert isinstance(ds, FolderDataset) and ds.root == folder_dataset


def test_pydantic_like_config_sections_are_accepted(folder_dataset):
    class Section:
        def model_dump(self):
            return {"format": "folder", "root": folder_dataset, "options": {}}

    assert len(load_dataset(Section())) == 8


def test_unknown_format_lists_the_known_ones(tmp_path):
    message = _error({"format": "voc", "root": tmp_path})
    assert "'voc'" in message and "pascal_part" in message and "partimagenet" in message


def test_missing_root_key_and_missing_root_folder_are_dataset_errors(tmp_path):
    assert "'root'" in _error({"format": "folder"})
    assert str(tmp_path / "nope") in _error(tmp_path / "nope")
    assert str(tmp_path / "nope") in _error({"format": "pascal_part", "root": tmp_path / "nope"})


def test_option_given_twice_is_a_dataset_error(tmp_path):
    assert "both" in _error({"format": "mat_labelmap", "root": tmp_path, "class_name": "a",
                             "options": {"class_name": "b"}})


def test_spec_file_that_is_not_a_mapping_is_a_dataset_error(tmp_path):
    (tmp_path / "s.yaml").write_text("- a\n- b\n")
    assert "mapping" in _error(tmp_path / "s.yaml")


def test_plain_file_is_neither_folder_nor_spec(tmp_path):
    (tmp_path / "x.txt").write_text("x")
    assert "not a dataset folder nor a spec file" in _error(tmp_path / "x.txt")


@pytest.mark.parametrize("fmt, options, message", [
    ("folder", {"manifest": 3}, "option 'manifest' must be a string or empty, got 3"),
    ("pascal_part", {"classes": "dog"}, "option 'classes' must be a list or empty"),
    ("pascal_part", {"grouping": {"leg": "lleg"}}, "option 'grouping'"),
    ("mat_labelmap", {}, "exactly one of 'class_name'"),
    ("partimagenet", {"annotations": "a.json", "part_names": "short"},
     r"must be one of \['category', 'part'\]"),
    ("mat_labelmap", {"class_name": "p", "unmapped_labels": True}, "unmapped_labels"),
])
def test_check_options_validates_without_touching_files(fmt, options, message):
    with pytest.raises(DatasetError, match=message):
        check_options(fmt, options, where="config dataset")


def test_valid_options_pass_the_check_and_every_format_lists_its_options():
    check_options("pascal_part", {"grouping": {"leg": ["lleg", "rleg"]}, "classes": ["dog"]})
    assert format_options("folder") == ["manifest"]
    assert "grouping" in format_options("pascal_part")
    assert "annotations" in format_options("partimagenet")


def test_spec_path_accepts_str_and_path(folder_dataset: Path):
    assert parse_spec(str(folder_dataset)) == parse_spec(folder_dataset)


def test_command_line_parts_make_a_spec(tmp_path):
    from reportgen.data.spec import spec_from_cli

    assert spec_from_cli(tmp_path) == tmp_path
    assert spec_from_cli(tmp_path, "pascal_part", ["classes=[dog, cat]", "grouping=none"]) == {
        "root": str(tmp_path), "format": "pascal_part", "classes": ["dog", "cat"],
        "grouping": "none"}
    assert spec_from_cli(tmp_path, None, ["class_name=person"])["class_name"] == "person"
    for bad in ("novalue", "=x", "classes=[dog"):
        with pytest.raises(DatasetError, match="--option"):
            spec_from_cli(tmp_path, None, [bad])
