"""Precomputed heatmaps: a folder of per-image .npy/.npz or one .npz archive, keyed by id."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from reportgen.data.heatmap_files import (
    HeatmapArchive,
    HeatmapFileError,
    HeatmapFolder,
    heatmap_groups,
    open_heatmaps,
)
from reportgen.data.sample import Sample
from reportgen.errors import DatasetError


def _heat(seed: int, h: int = 7, w: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w)).astype(np.float32)


def _sample(image_id: str, object_id: int = 0, class_index: int = 1) -> Sample:
    labels = np.zeros((8, 8), np.uint8)
    labels[2:5, 2:5] = 1
    return Sample(image_id, np.zeros((8, 8, 3), np.uint8), labels, ("head",), class_index,
                  "dog", object_id=object_id)


# ---------------------------------------------------------------- folder


def test_folder_of_npy_and_npz_files_is_keyed_by_file_stem(tmp_path):
    np.save(tmp_path / "a.npy", _heat(0))
    np.savez(tmp_path / "b.npz", heatmap=_heat(1), target=np.int64(3), predicted=np.int64(2))
    np.savez(tmp_path / "c.npz", shap=_heat(2).astype(np.float64))  # the only array
    source = open_heatmaps(tmp_path)
    assert isinstance(source, HeatmapFolder) and len(source) == 3 and "a" in source
    np.testing.assert_array_equal(source.get("a").heatmap, _heat(0))
    b = source.get("b")
    np.testing.assert_array_equal(b.heatmap, _heat(1))
    assert (b.target, b.predicted) == (3, 2)
    c = source.get("c")
    assert c.heatmap.dtype == np.float32 and c.target is None


def test_per_object_heatmaps_stack_along_the_first_axis(tmp_path):
    np.save(tmp_path / "img.npy", np.stack([_heat(0), _heat(1)]))
    source = open_heatmaps(tmp_path)
    np.testing.assert_array_equal(source.get("img", 1).heatmap, _heat(1))
    with pytest.raises(HeatmapFileError, match="holds 2 heatmaps, none for object 2"):
        source.get("img", 2)


@pytest.mark.parametrize("write, message", [
    (lambda p: None, "no heatmap x.npy or x.npz"),
    (lambda p: (np.save(p / "x.npy", _heat(0)), np.savez(p / "x.npz", heatmap=_heat(0))),
     "duplicate heatmaps for id 'x'"),
    (lambda p: (p / "x.npy").write_bytes(b"\x93NUMPY garbage"), "unreadable heatmap"),
    (lambda p: np.save(p / "x.npy", np.zeros(5)), r"must be \(h, w\)"),
    (lambda p: np.save(p / "x.npy", np.array(["a", "b"])), "must be numeric"),
    (lambda p: np.savez(p / "x.npz", a=_heat(0), b=_heat(1)), "expected an array 'heatmap'"),
])
def test_folder_problems_are_per_sample_errors_naming_the_file(tmp_path, write, message):
    write(tmp_path)
    with pytest.raises(HeatmapFileError, match=message) as info:
        open_heatmaps(tmp_path).get("x")
    assert str(tmp_path) in str(info.value) and "\n" not in str(info.value)


# ---------------------------------------------------------------- one archive


def test_archive_rows_are_found_by_id_and_object_id(tmp_path):
    path = tmp_path / "shap.npz"
    np.savez(path, heatmaps=np.stack([_heat(i) for i in range(3)]),
             ids=np.array(["a", "b", "b"]), object_ids=np.array([0, 0, 1]),
             targets=np.array([4, 5, 6]), predicted=np.array([4, 1, 6]))
    source = open_heatmaps(path)
    assert isinstance(source, HeatmapArchive) and len(source) == 3
    record = source.get("b", 1)
    np.testing.assert_array_equal(record.heatmap, _heat(2))
    assert (record.target, record.predicted) == (6, 6)
    with pytest.raises(HeatmapFileError, match="no heatmap for id 'c'"):
        source.get("c")


def test_uncompressed_archive_is_memory_mapped_not_loaded(tmp_path):
    path = tmp_path / "big.npz"
    big = np.zeros((400, 64, 64), np.float32)  # 6.5 MB
    big[123] = _heat(0, 64, 64)
    np.savez(path, heatmaps=big, ids=np.array([str(i) for i in range(400)]))
    del big
    tracemalloc.start()
    try:
        source = open_heatmaps(path)
        row = source.get("123").heatmap
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(row, _heat(0, 64, 64))
    assert peak < 1_000_000, peak


def test_compressed_archive_is_read_too(tmp_path):
    path = tmp_path / "lime.npz"
    np.savez_compressed(path, heatmaps=np.stack([_heat(0), _heat(1)]), ids=np.array(["a", "b"]))
    np.testing.assert_array_equal(open_heatmaps(path).get("b").heatmap, _heat(1))


def test_duplicate_ids_in_an_archive_are_a_per_sample_error(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, heatmaps=np.stack([_heat(0), _heat(1)]), ids=np.array(["a", "a"]))
    with pytest.raises(HeatmapFileError, match="duplicate id 'a'"):
        open_heatmaps(path).get("a")


@pytest.mark.parametrize("arrays, message", [
    ({"heatmaps": np.zeros((2, 3, 3))}, r"lacks \['ids'\]"),
    ({"heatmaps": np.zeros((2, 3, 3)), "ids": np.array(["a"])}, "must be"),
    ({"heatmaps": np.zeros((2, 3)), "ids": np.array(["a", "b"])}, "must be"),
    ({"heatmaps": np.zeros((2, 3, 3)), "ids": np.array(["a", "b"]),
      "targets": np.array([1])}, "'targets' must be"),
])
def test_malformed_archive_is_a_structural_error(tmp_path, arrays, message):
    np.savez(tmp_path / "m.npz", **arrays)
    with pytest.raises(DatasetError, match=message):
        open_heatmaps(tmp_path / "m.npz")


@pytest.mark.parametrize("name", ["missing", "file.txt"])
def test_heatmaps_path_that_is_neither_folder_nor_npz_is_a_structural_error(tmp_path, name):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DatasetError, match=name):
        open_heatmaps(tmp_path / name)


def test_corrupt_archive_is_a_structural_error(tmp_path):
    (tmp_path / "c.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DatasetError, match="unreadable heatmap archive"):
        open_heatmaps(tmp_path / "c.npz")


# ---------------------------------------------------------------- grouping for scoring


def test_groups_stack_heatmaps_of_one_size_and_exclude_samples_without_one(tmp_path: Path):
    np.save(tmp_path / "a.npy", _heat(0, 7, 7))
    np.save(tmp_path / "b.npy", _heat(1, 14, 14))
    np.savez(tmp_path / "c.npz", heatmap=_heat(2, 7, 7), predicted=np.int64(0))
    samples = [_sample("a"), _sample("b"), _sample("c", class_index=2), _sample("gone")]
    groups, excluded = heatmap_groups(samples, open_heatmaps(tmp_path), "external", "shap")
    assert [[s.image_id for s in g.samples] for g in groups] == [["a", "c"], ["b"]]
    first = groups[0]
    assert first.heatmaps.shape == (2, 7, 7) and first.heatmaps.dtype == np.float32
    np.testing.assert_array_equal(first.target, [1, 2])  # the samples' classes
    np.testing.assert_array_equal(first.predicted, [-1, 0])  # -1: no prediction known
    (gone,) = excluded
    assert (gone.image_id, gone.stage, gone.model, gone.method) == (
        "gone", "heatmap", "external", "shap")
    assert "no heatmap gone.npy" in gone.reason
