"""The folder dataset reader: manifest structure, lazy per-sample reading, exclusions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reportgen.data import load_dataset
from reportgen.data.folder import FolderDataset
from reportgen.data.sample import Sample
from reportgen.errors import DatasetError
from reportgen.exclusions import Exclusion
from reportgen.sample_data.world import CLASSES, PARTS

H, W = 12, 16
EXIF_ORIENTATION = 0x0112


# ---------------------------------------------------------------- helpers


def _labels(h: int = H, w: int = W) -> np.ndarray:
    """A label map using background, both parts and a void pixel."""
    labels = np.zeros((h, w), np.uint8)
    labels[: h // 2, : w // 2] = 1
    labels[h // 2 :, w // 2 :] = 2
    labels[0, -1] = 255
    return labels


def _image(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _write_manifest(root: Path, samples: list, classes=("cat", "dog"), parts=("head", "tail"),
                    **extra) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "dataset.json"
    as_json = [list(v) if isinstance(v, tuple) else v for v in (classes, parts)]
    path.write_text(json.dumps({"name": "tiny", "classes": as_json[0], "parts": as_json[1],
                                "samples": samples, **extra}), encoding="utf-8")
    return path


def _entry(image_id: str, cls: str = "cat", image: str | None = None,
           labels: str | None = None) -> dict:
    return {"id": image_id, "image": image or f"images/{image_id}.png",
            "labels": labels or f"labels/{image_id}.png", "class": cls}


def _write_pair(root: Path, image_id: str, image: np.ndarray | None = None,
                labels: np.ndarray | None = None) -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    Image.fromarray(_image() if image is None else image).save(
        root / "images" / f"{image_id}.png")
    Image.fromarray(_labels() if labels is None else labels).save(
        root / "labels" / f"{image_id}.png")


def _dataset_with_one_bad(root: Path, bad: dict) -> list:
    """Two good samples around ``bad``; returns the iterated items in manifest order."""
    _write_pair(root, "good_a")
    _write_pair(root, "good_b")
    _write_manifest(root, [_entry("good_a"), bad, _entry("good_b", "dog")])
    return list(FolderDataset(root))


def _assert_excluded(items: list, image_id: str, path: Path) -> Exclusion:
    """The bad item is an Exclusion naming ``path``; the good ones around it still load."""
    assert len(items) == 3
    assert isinstance(items[0], Sample) and items[0].image_id == "good_a"
    assert isinstance(items[2], Sample) and items[2].image_id == "good_b"
    bad = items[1]
    assert isinstance(bad, Exclusion), bad
    assert bad.image_id == image_id
    assert bad.stage == "data"
    assert str(path) in bad.reason
    assert "\n" not in bad.reason
    return bad


def _dataset_error(root: Path) -> str:
    with pytest.raises(DatasetError) as info:
        FolderDataset(root)
    message = str(info.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------- valid dataset


def test_valid_dataset_yields_samples_with_rgb_images_and_label_maps(folder_dataset,
                                                                    world_samples):
    dataset = FolderDataset(folder_dataset)
    assert len(dataset) == 8
    assert dataset.name == "parts-world"
    assert dataset.class_names == CLASSES
    assert dataset.part_names == PARTS
    items = list(dataset)
    assert all(isinstance(s, Sample) for s in items)
    for i, (sample, truth) in enumerate(zip(items, world_samples, strict=True)):
        assert sample.image_id == f"s_{i:04d}"
        assert sample.image.shape == (96, 96, 3) and sample.image.dtype == np.uint8
        assert sample.labels.shape == (96, 96) and sample.labels.dtype == np.uint8
        np.testing.assert_array_equal(sample.image, truth.image)
        np.testing.assert_array_equal(sample.labels, truth.labels)
        assert sample.class_index == truth.class_index
        assert sample.class_name == CLASSES[truth.class_index]
        assert sample.part_names == PARTS
        assert sample.source == str(folder_dataset / "images" / f"s_{i:04d}.png")


def test_class_index_follows_the_manifest_class_order(tmp_path):
    root = tmp_path / "ds"
    _write_pair(root, "a")
    _write_pair(root, "b")
    _write_manifest(root, [_entry("a", "dog"), _entry("b", "cat")], classes=("cat", "dog"))
    a, b = FolderDataset(root)
    assert (a.class_index, a.class_name) == (1, "dog")
    assert (b.class_index, b.class_name) == (0, "cat")
    assert a.region_names == ("background", "head", "tail")


def test_dataset_is_read_lazily_only_the_manifest_up_front(folder_dataset):
    for png in (folder_dataset / "images").iterdir():
        png.unlink()
    dataset = FolderDataset(folder_dataset)  # no image is opened here
    assert len(dataset) == 8
    items = list(dataset)
    assert all(isinstance(e, Exclusion) for e in items)


def test_images_are_read_when_iterated_not_when_opened(folder_dataset):
    dataset = FolderDataset(folder_dataset)
    (folder_dataset / "images" / "s_0003.png").unlink()
    items = list(dataset)
    assert [type(i).__name__ for i in items].count("Exclusion") == 1
    assert isinstance(items[3], Exclusion) and items[3].image_id == "s_0003"


def test_limit_keeps_only_the_first_samples(folder_dataset):
    dataset = load_dataset(folder_dataset, limit=3)
    assert len(dataset) == 3
    assert [s.image_id for s in dataset] == ["s_0000", "s_0001", "s_0002"]
    assert len(FolderDataset(folder_dataset, limit=100)) == 8


# ---------------------------------------------------------------- structural errors


def test_missing_root_raises_dataset_error_naming_it(tmp_path):
    root = tmp_path / "nowhere"
    assert str(root) in _dataset_error(root)


def test_root_that_is_a_file_raises_dataset_error(tmp_path):
    root = tmp_path / "file.txt"
    root.write_text("x")
    assert str(root) in _dataset_error(root)


def test_missing_manifest_raises_dataset_error_naming_it(tmp_path):
    (tmp_path / "ds").mkdir()
    message = _dataset_error(tmp_path / "ds")
    assert str(tmp_path / "ds" / "dataset.json") in message
    assert "not found" in message


def test_invalid_json_manifest_raises_dataset_error_naming_it(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    (root / "dataset.json").write_text('{"classes": ["a", ', encoding="utf-8")
    assert str(root / "dataset.json") in _dataset_error(root)


def test_manifest_that_is_not_a_json_object_raises_dataset_error(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    (root / "dataset.json").write_text(json.dumps([{"id": "a"}]), encoding="utf-8")
    assert str(root / "dataset.json") in _dataset_error(root)


@pytest.mark.parametrize("key", ["classes", "parts"])
def test_missing_names_list_raises_dataset_error_naming_the_key(tmp_path, key):
    root = tmp_path / "ds"
    path = _write_manifest(root, [])
    manifest = json.loads(path.read_text())
    del manifest[key]
    path.write_text(json.dumps(manifest))
    message = _dataset_error(root)
    assert str(path) in message and repr(key) in message


@pytest.mark.parametrize("value", [[], "cat", ["cat", 3]])
def test_classes_must_be_a_non_empty_list_of_strings(tmp_path, value):
    path = _write_manifest(tmp_path / "ds", [], classes=value)
    message = _dataset_error(tmp_path / "ds")
    assert str(path) in message and "'classes'" in message


@pytest.mark.parametrize("key", ["classes", "parts"])
def test_duplicate_names_raise_dataset_error(tmp_path, key):
    names = {"classes": ("cat", "dog", "cat"), "parts": ("head", "head")}
    kwargs = {key: names[key]}
    path = _write_manifest(tmp_path / "ds", [], **kwargs)
    message = _dataset_error(tmp_path / "ds")
    assert str(path) in message and "duplicate" in message and repr(key) in message


def test_samples_must_be_a_list(tmp_path):
    path = _write_manifest(tmp_path / "ds", {"a": 1})
    message = _dataset_error(tmp_path / "ds")
    assert str(path) in message and "'samples'" in message


@pytest.mark.parametrize("entry", [
    {"id": "a", "image": "images/a.png", "class": "cat"},  # no labels
    "images/a.png",
    None,
])
def test_bad_sample_entry_raises_dataset_error_naming_its_index(tmp_path, entry):
    path = _write_manifest(tmp_path / "ds", [_entry("ok"), entry])
    message = _dataset_error(tmp_path / "ds")
    assert str(path) in message
    assert "samples[1]" in message


# ---------------------------------------------------------------- per-sample exclusions


def test_missing_image_becomes_an_exclusion_naming_the_file(tmp_path):
    root = tmp_path / "ds"
    items = _dataset_with_one_bad(root, _entry("gone"))
    bad = _assert_excluded(items, "gone", root / "images" / "gone.png")
    assert "not found" in bad.reason
    assert bad.source == str(root / "images" / "gone.png")


def test_missing_label_map_becomes_an_exclusion_naming_the_label_file(tmp_path):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    Image.fromarray(_image()).save(root / "images" / "nolabel.png")
    items = _dataset_with_one_bad(root, _entry("nolabel"))
    _assert_excluded(items, "nolabel", root / "labels" / "nolabel.png")


def test_garbage_bytes_image_becomes_an_exclusion_naming_the_file(tmp_path):
    root = tmp_path / "ds"
    _write_pair(root, "junk")
    (root / "images" / "junk.png").write_bytes(b"this is not a png at all" * 20)
    items = _dataset_with_one_bad(root, _entry("junk"))
    bad = _assert_excluded(items, "junk", root / "images" / "junk.png")
    assert "not a readable image" in bad.reason


@pytest.mark.parametrize("keep", [0.5, 0.05])
def test_truncated_png_becomes_an_exclusion_naming_the_file(tmp_path, keep):
    root = tmp_path / "ds"
    _write_pair(root, "cut", image=_image(64, 64, seed=3), labels=_labels(64, 64))
    png = root / "images" / "cut.png"
    data = png.read_bytes()
    png.write_bytes(data[: int(len(data) * keep)])
    items = _dataset_with_one_bad(root, _entry("cut"))
    _assert_excluded(items, "cut", png)


def test_truncated_png_is_excluded_even_after_weasyprint_relaxed_pil(tmp_path):
    import weasyprint  # noqa: F401  (sets PIL's global LOAD_TRUNCATED_IMAGES = True)
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    root = tmp_path / "ds"
    _write_pair(root, "cut", image=_image(64, 64, seed=3), labels=_labels(64, 64))
    png = root / "images" / "cut.png"
    png.write_bytes(png.read_bytes()[:2000])
    _assert_excluded(_dataset_with_one_bad(root, _entry("cut")), "cut", png)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the global setting is restored


def test_png_with_a_corrupted_data_stream_becomes_an_exclusion(tmp_path):
    root = tmp_path / "ds"
    _write_pair(root, "flip", image=_image(64, 64, seed=4), labels=_labels(64, 64))
    png = root / "images" / "flip.png"
    data = bytearray(png.read_bytes())
    data[len(data) // 2] ^= 0xFF
    png.write_bytes(bytes(data))
    items = _dataset_with_one_bad(root, _entry("flip"))
    _assert_excluded(items, "flip", png)


def test_label_map_size_mismatch_becomes_an_exclusion_naming_the_label_file(tmp_path):
    root = tmp_path / "ds"
    _write_pair(root, "size", labels=_labels(H + 1, W))
    items = _dataset_with_one_bad(root, _entry("size"))
    bad = _assert_excluded(items, "size", root / "labels" / "size.png")
    assert f"{W}x{H + 1}" in bad.reason and f"{W}x{H}" in bad.reason


def test_unknown_label_ids_become_an_exclusion_listing_them(tmp_path):
    root = tmp_path / "ds"
    labels = _labels()
    labels[1, 1] = 3  # the manifest has two parts: 0, 1, 2 and 255 are valid
    labels[2, 2] = 7
    _write_pair(root, "ids", labels=labels)
    items = _dataset_with_one_bad(root, _entry("ids"))
    bad = _assert_excluded(items, "ids", root / "labels" / "ids.png")
    assert "[3, 7]" in bad.reason


def test_void_label_255_is_allowed(tmp_path):
    root = tmp_path / "ds"
    labels = np.full((H, W), 255, np.uint8)
    labels[0, 0] = 2
    _write_pair(root, "void", labels=labels)
    _write_manifest(root, [_entry("void")])
    (sample,) = FolderDataset(root)
    assert isinstance(sample, Sample)
    np.testing.assert_array_equal(sample.labels, labels)


def test_rgb_label_map_becomes_an_exclusion_naming_the_label_file(tmp_path):
    root = tmp_path / "ds"
    _write_pair(root, "rgb", labels=np.stack([_labels()] * 3, axis=-1))
    items = _dataset_with_one_bad(root, _entry("rgb"))
    bad = _assert_excluded(items, "rgb", root / "labels" / "rgb.png")
    assert "single-channel" in bad.reason


def test_unknown_class_becomes_an_exclusion_naming_the_manifest(tmp_path):
    root = tmp_path / "ds"
    _write_pair(root, "zebra")
    items = _dataset_with_one_bad(root, _entry("zebra", cls="zebra"))
    bad = _assert_excluded(items, "zebra", root / "dataset.json")
    assert "'zebra'" in bad.reason


def test_duplicate_id_becomes_an_exclusion_and_the_first_is_kept(tmp_path):
    root = tmp_path / "ds"
    _write_pair(root, "twin")
    _write_manifest(root, [_entry("twin"), _entry("twin", "dog")])
    first, second = FolderDataset(root)
    assert isinstance(first, Sample) and first.class_name == "cat"
    assert isinstance(second, Exclusion)
    assert second.image_id == "twin" and second.stage == "data"
    assert "duplicate" in second.reason and "'twin'" in second.reason


def test_duplicate_id_exclusion_reason_names_the_file(tmp_path):
    root = tmp_path / "ds"
    _write_pair(root, "twin")
    _write_manifest(root, [_entry("twin"), _entry("twin", "dog")])
    _, second = FolderDataset(root)
    assert isinstance(second, Exclusion)
    named = (str(root / "dataset.json"), str(root / "images" / "twin.png"))
    assert any(path in second.reason for path in named), second.reason


# ---------------------------------------------------------------- image conversions


def _single(root: Path, image_path: Path, labels: np.ndarray) -> Sample:
    (root / "labels").mkdir(parents=True, exist_ok=True)
    Image.fromarray(labels).save(root / "labels" / "x.png")
    _write_manifest(root, [_entry("x", image=str(image_path.relative_to(root)))])
    (item,) = FolderDataset(root)
    assert isinstance(item, Sample), item
    assert item.image.dtype == np.uint8 and item.image.ndim == 3 and item.image.shape[2] == 3
    return item


def test_grayscale_image_is_converted_to_rgb(tmp_path):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    gray = np.arange(H * W, dtype=np.uint8).reshape(H, W)
    Image.fromarray(gray, mode="L").save(root / "images" / "x.png")
    sample = _single(root, root / "images" / "x.png", _labels())
    assert sample.image.shape == (H, W, 3)
    for c in range(3):
        np.testing.assert_array_equal(sample.image[..., c], gray)


def test_rgba_image_is_converted_to_rgb_dropping_alpha(tmp_path):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] = 10, 120, 250, 128
    Image.fromarray(rgba, mode="RGBA").save(root / "images" / "x.png")
    sample = _single(root, root / "images" / "x.png", _labels())
    assert sample.image.shape == (H, W, 3)
    np.testing.assert_array_equal(sample.image[0, 0], [10, 120, 250])


def test_16_bit_image_spanning_the_full_range_is_converted_to_rgb_uint8(tmp_path):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    deep = np.zeros((H, W), np.uint16)
    deep[:, W // 2 :] = 65535
    Image.fromarray(deep).save(root / "images" / "x.png")
    assert Image.open(root / "images" / "x.png").mode.startswith("I")
    sample = _single(root, root / "images" / "x.png", _labels())
    assert sample.image.shape == (H, W, 3)
    np.testing.assert_array_equal(sample.image[0, 0], [0, 0, 0])
    np.testing.assert_array_equal(sample.image[0, -1], [255, 255, 255])


def test_16_bit_image_keeps_its_brightness_and_is_not_stretched(tmp_path):
    """A uniform mid-grey 16-bit image (128 * 257) must stay mid-grey, not become white."""
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    deep = np.full((H, W), 128 * 257, np.uint16)
    deep[0, 0] = 64 * 257
    Image.fromarray(deep).save(root / "images" / "x.png")
    sample = _single(root, root / "images" / "x.png", _labels())
    np.testing.assert_array_equal(sample.image[1, 1], [128, 128, 128])
    np.testing.assert_array_equal(sample.image[0, 0], [64, 64, 64])


def test_exif_orientation_6_is_applied_to_the_image(tmp_path):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    stored = np.zeros((20, 40, 3), np.uint8)  # stored landscape: left red, right blue
    stored[:, :20] = (255, 0, 0)
    stored[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # display = stored rotated 90 degrees clockwise
    Image.fromarray(stored).save(root / "images" / "x.jpg", exif=exif, quality=95)
    # the label map is at the displayed (portrait) resolution
    sample = _single(root, root / "images" / "x.jpg", _labels(40, 20))
    assert sample.image.shape == (40, 20, 3)
    top, bottom = sample.image[:18].astype(int), sample.image[22:].astype(int)
    assert np.abs(top - [255, 0, 0]).max() <= 8  # the stored left half is now on top
    assert np.abs(bottom - [0, 0, 255]).max() <= 8


def test_exif_rotated_image_with_stored_size_labels_is_excluded(tmp_path):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir(parents=True)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(root / "images" / "x.jpg", exif=exif)
    Image.fromarray(np.zeros((20, 40), np.uint8)).save(root / "labels" / "x.png")
    _write_manifest(root, [_entry("x", image="images/x.jpg")])
    (item,) = FolderDataset(root)
    assert isinstance(item, Exclusion)
    assert "40x20" in item.reason and "20x40" in item.reason


# ---------------------------------------------------------------- YAML manifests


def _yaml_manifest(root: Path, samples: list, name: str = "dataset.yaml", **extra) -> Path:
    import yaml

    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    path.write_text(yaml.safe_dump({"name": "tiny", "classes": ["cat", "dog"],
                                    "parts": ["head", "tail"], "samples": samples, **extra}))
    return path


@pytest.mark.parametrize("name", ["dataset.yaml", "dataset.yml"])
def test_yaml_manifest_is_read_like_json(tmp_path, name):
    root = tmp_path / "ds"
    _write_pair(root, "a")
    path = _yaml_manifest(root, [_entry("a", "dog")], name=name)
    dataset = FolderDataset(root)
    assert dataset.manifest_path == path
    (sample,) = dataset
    assert isinstance(sample, Sample) and sample.class_name == "dog"


def test_invalid_yaml_manifest_is_a_dataset_error_with_its_position(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    (root / "dataset.yaml").write_text("classes: [cat\nparts: ]\n")
    message = _dataset_error(root)
    assert str(root / "dataset.yaml") in message and "line" in message


def test_two_manifests_are_ambiguous(tmp_path):
    root = tmp_path / "ds"
    _write_manifest(root, [])
    _yaml_manifest(root, [])
    assert "several manifests" in _dataset_error(root)


def test_manifest_option_chooses_the_file(tmp_path):
    root = tmp_path / "ds"
    _write_pair(root, "a")
    _write_manifest(root, [_entry("a")])
    _yaml_manifest(root, [_entry("a", "dog")], name="dog_split.yaml")
    (sample,) = load_dataset({"format": "folder", "root": root, "manifest": "dog_split.yaml"})
    assert sample.class_name == "dog"


# ---------------------------------------------------------------- per-class part sets


def test_class_parts_are_exposed_and_a_foreign_part_excludes_the_sample(tmp_path):
    root = tmp_path / "ds"
    _write_pair(root, "cat_ok", labels=np.where(_labels() == 2, 0, _labels()).astype(np.uint8))
    _write_pair(root, "cat_tail")  # has a tail, but cats here have heads only
    _write_pair(root, "dog")
    _write_manifest(root, [_entry("cat_ok"), _entry("cat_tail"), _entry("dog", "dog")],
                    class_parts={"cat": ["head"]})
    dataset = FolderDataset(root)
    assert dataset.class_parts == {"cat": ("head",)}
    ok, bad, dog = dataset
    assert isinstance(ok, Sample) and isinstance(dog, Sample)
    assert isinstance(bad, Exclusion)
    assert "['tail'] are not parts of class 'cat'" in bad.reason


@pytest.mark.parametrize("class_parts, message", [
    ({"cow": ["head"]}, "unknown class 'cow'"),
    ({"cat": ["wing"]}, "unknown parts ['wing']"),
    ({"cat": "head"}, "must be a list"),
    (["cat"], "must map class names"),
])
def test_malformed_class_parts_are_dataset_errors(tmp_path, class_parts, message):
    _write_manifest(tmp_path / "ds", [], class_parts=class_parts)
    assert message in _dataset_error(tmp_path / "ds")


def test_label_map_with_no_part_pixel_is_excluded(tmp_path):
    root = tmp_path / "ds"
    _write_pair(root, "empty", labels=np.zeros((H, W), np.uint8))
    bad = _assert_excluded(_dataset_with_one_bad(root, _entry("empty")), "empty",
                           root / "labels" / "empty.png")
    assert "no part pixels" in bad.reason
