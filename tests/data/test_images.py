"""Image helpers shared by the adapters: file lookup by id, size checks, error wording."""

from __future__ import annotations

from PIL import UnidentifiedImageError

from reportgen.data.images import describe_error, find_image, index_images, size_mismatch


def test_find_image_accepts_any_image_suffix_and_refuses_ambiguity(tmp_path):
    (tmp_path / "a.JPG").write_bytes(b"x")
    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / "b.jpg").write_bytes(b"x")
    (tmp_path / "c.txt").write_bytes(b"x")
    index = index_images(tmp_path)
    assert find_image(tmp_path, "a", index) == (tmp_path / "a.JPG", None)
    path, problem = find_image(tmp_path, "b", index)
    assert path is None and "several images for id 'b'" in problem
    path, problem = find_image(tmp_path, "c")
    assert path is None and "no image c.*" in problem and str(tmp_path) in problem


def test_size_mismatch_reports_width_x_height(tmp_path, make):
    assert size_mismatch("label map", (12, 16), (12, 16), tmp_path / "x.png") is None
    assert size_mismatch("label map", (13, 16), (12, 16), tmp_path / "x.png") == (
        "label map is 16x13 but the image is 16x12")


def test_size_mismatch_names_the_exif_rotation_when_the_annotation_fits_the_stored_image(
        tmp_path, make):
    path = tmp_path / "r.jpg"
    path.write_bytes(make.jpeg(make.rgb(12, 16), orientation=8))
    reason = size_mismatch("mask", (12, 16), (16, 12), path)
    assert "EXIF orientation 8" in reason and "unrotated" in reason


def test_error_descriptions_are_one_line():
    assert describe_error(FileNotFoundError(2, "x")) == "file not found"
    assert describe_error(IsADirectoryError(21, "x")) == "is a folder, not a file"
    assert "corrupt" in describe_error(UnidentifiedImageError("x"))
    assert describe_error(OSError("broken\ndata stream")) == "unreadable (broken data stream)"
