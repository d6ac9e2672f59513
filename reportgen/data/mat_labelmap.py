"""Label maps in .mat files with a label list (the Clothing Co-Parsing layout).

::

    root/label_list.mat       cell of names; label id i means names[i], 0 = background
    root/annotations/ID.mat   one (H, W) integer label map per image
    root/photos/ID.jpg        the image (any of .jpg .jpeg .png .bmp .tif .webp)

The whole-image class comes from ``class_name`` (one class for all) or ``class_map`` (a JSON or
YAML file mapping image ids to class names). ``grouping`` merges labels into parts and may send
labels to ``background`` or ``void``; with a grouping, labels it does not name go where
``unmapped_labels`` says. Only the label list and the file listings are read up front.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from reportgen.data.base import Item, TaskDataset, check_root, exclusion, repeated_indices
from reportgen.data.images import (
    READ_ERRORS,
    ImageTooLarge,
    check_pixels,
    decode_image,
    describe_error,
    find_image,
    index_images,
    label_counts,
    size_mismatch,
)
from reportgen.data.matfile import MatFileError, as_list, mat_string, read_mat
from reportgen.data.options import check_names, read_class_map, resolve
from reportgen.data.policy import ReadPolicy
from reportgen.data.registry import register_format
from reportgen.data.sample import BACKGROUND, IGNORE_INDEX, Sample
from reportgen.errors import DatasetError

VOID = "void"


@dataclass(frozen=True)
class MatLabelMapOptions:
    """Options of the ``mat_labelmap`` format (paths relative to the root).

    ``labels_variable`` / ``label_list_variable``: variable names inside the .mat files
    (default: the only variable). One of ``class_name`` or ``class_map`` is required;
    ``classes`` fixes the class order (default: sorted names from the class map).
    """

    images: str = "photos"
    annotations: str = "annotations"
    label_list: str = "label_list.mat"
    labels_variable: str | None = None
    label_list_variable: str | None = None
    class_name: str | None = None
    class_map: str | None = None
    classes: tuple[str, ...] | None = None
    grouping: dict[str, tuple[str, ...]] | None = None
    unmapped_labels: Literal["keep", "background", "void"] = "keep"

    def __post_init__(self) -> None:
        if (self.class_name is None) == (self.class_map is None):
            raise DatasetError("mat_labelmap needs exactly one of 'class_name' (one class for "
                               "every image) or 'class_map' (a file mapping image ids to "
                               "classes)")


def has_label_list(root: Path) -> bool:
    """Whether ``root`` has the Clothing Co-Parsing layout (format detection)."""
    return (root / "label_list.mat").is_file()


@register_format("mat_labelmap", options=MatLabelMapOptions, detect=has_label_list)
class MatLabelMapDataset(TaskDataset):
    """Images with .mat label maps; iterating yields ``Sample`` or ``Exclusion`` items.

    Images are found by listing the image folder (by the annotation file's stem), so no path
    is read from a file.
    """

    def __init__(self, root: str | Path, limit: int | None = None,
                 options: MatLabelMapOptions | None = None, policy: ReadPolicy | None = None):
        if options is None:
            raise DatasetError(f"{root}: a mat_labelmap dataset needs the option 'class_name' "
                               "or 'class_map'")
        self.options = options
        self.policy = policy or ReadPolicy()
        self.root = check_root(Path(root))
        self.limit = limit
        self.name = self.root.name
        self.annotations_dir = resolve(self.root, options.annotations)
        self.images_dir = resolve(self.root, options.images)
        for folder, what in ((self.annotations_dir, "annotation"), (self.images_dir, "image")):
            if not folder.is_dir():
                raise DatasetError(f"{folder}: {what} folder not found")
        self.manifest_path = resolve(self.root, options.label_list)
        labels = self._label_list()
        self.part_names, self._lut = self._relabel(labels)
        self.class_parts: dict[str, tuple[str, ...]] = {}
        self._class_map: dict[str, str] = {}
        if options.class_map is not None:
            self._class_map = read_class_map(resolve(self.root, options.class_map))
        classes = options.classes or (
            (options.class_name,) if options.class_name else sorted(set(self._class_map.values())))
        self.class_names = check_names(list(classes), "classes", str(self.root))
        self._files = sorted(p for p in self.annotations_dir.iterdir() if p.suffix == ".mat")
        if not self._files:
            raise DatasetError(f"{self.annotations_dir}: no .mat annotation files")
        if limit is not None:
            self._files = self._files[:limit]
        self._image_index = index_images(self.images_dir)
        self.label_names = labels

    def _label_list(self) -> tuple[str, ...]:
        path = self.manifest_path
        try:
            data = read_mat(path)
        except MatFileError as exc:
            raise DatasetError(f"{path}: {exc}") from None
        name = self.options.label_list_variable or _only_variable(data)
        if name is None:
            raise DatasetError(f"{path}: {_ambiguous(data, 'label_list_variable')}")
        if name not in data:
            raise DatasetError(f"{path}: no variable {name!r} (found {sorted(data)})")
        labels = [mat_string(v) for v in as_list(data[name])]
        if len(labels) < 2:
            raise DatasetError(f"{path}: the label list needs background and at least one part")
        if len(labels) > IGNORE_INDEX:
            raise DatasetError(f"{path}: at most {IGNORE_INDEX} labels are supported")
        # empty entries get a placeholder name so that ids stay aligned
        return tuple(n or f"label_{i}" for i, n in enumerate(labels))

    def _relabel(self, labels: tuple[str, ...]) -> tuple[tuple[str, ...], np.ndarray]:
        """Part names and a lookup table: file label id -> sample label id (255 = unknown)."""
        lut = np.full(65536, IGNORE_INDEX, np.uint8)
        where = f"{self.manifest_path}: grouping"
        grouping = self.options.grouping
        self._known = np.zeros(65536, bool)
        self._known[: len(labels)] = True
        if grouping is None:
            parts = check_names(list(labels[1:]), "the label list", str(self.manifest_path))
            lut[: len(labels)] = np.arange(len(labels))
            return parts, lut
        unknown = sorted({n for names in grouping.values() for n in names} - set(labels))
        if unknown:
            raise DatasetError(f"{where} names labels not in the label list: {unknown[:8]}")
        parts = [c for c in grouping if c not in (BACKGROUND, VOID)]
        unmapped = self.options.unmapped_labels
        if unmapped == "keep":
            named = {n for names in grouping.values() for n in names}
            parts += [n for n in labels[1:] if n not in named]
        parts = check_names(parts, "the grouping's parts", where)
        target = {BACKGROUND: 0, VOID: IGNORE_INDEX} | {p: i + 1 for i, p in enumerate(parts)}
        default = {"keep": None, "background": 0, "void": IGNORE_INDEX}[unmapped]
        lut[: len(labels)] = [default if default is not None else target.get(n, 0)
                              for n in labels]
        lut[0] = 0
        for coarse, names in grouping.items():
            for name in names:
                lut[labels.index(name)] = target[coarse]
        return parts, lut

    def __len__(self) -> int:
        return len(self._files)

    def tasks(self) -> list[tuple[Path, bool]]:
        """(annotation file, is a duplicate id) per file; ids compare case-insensitively."""
        duplicates = repeated_indices([path.stem.casefold() for path in self._files])
        return [(path, index in duplicates) for index, path in enumerate(self._files)]

    def run_task(self, task: tuple[Path, bool]) -> list[Item]:
        path, duplicate = task
        if duplicate:
            return [exclusion(path.stem, path, f"duplicate id {path.stem!r} (another "
                              "annotation file has the same name; only the first is used)")]
        return [self._read(path, path.stem)]

    def _read(self, path: Path, image_id: str) -> Item:
        cls = self.options.class_name or self._class_map.get(image_id)
        if cls is None:
            return exclusion(image_id, resolve(self.root, self.options.class_map or ""),
                             "no class for this image in the class map", path)
        if cls not in self.class_names:
            return exclusion(image_id, path, f"class {cls!r} is not among the classes "
                             f"{list(self.class_names)}")
        try:
            labels = self._labels(path)
            check_pixels("the label map", labels.shape[1], labels.shape[0],
                         self.policy.max_image_pixels)
        except (MatFileError, ImageTooLarge) as exc:
            return exclusion(image_id, path, str(exc))
        image_path, problem = find_image(self.images_dir, image_id, self._image_index)
        if problem:
            return exclusion(image_id, path, problem)
        try:
            image = decode_image(image_path, self.policy.max_image_pixels,
                                 self.policy.reduce_above_pixels)
        except READ_ERRORS as exc:
            return exclusion(image_id, image_path, describe_error(exc))
        mismatch = size_mismatch("label map", labels.shape, image.full_size, image_path)
        if mismatch:
            return exclusion(image_id, path, mismatch, image_path)
        present = np.flatnonzero(label_counts(labels, minlength=1))
        unknown = present[~self._known[present]]
        if unknown.size:
            return exclusion(image_id, path, f"unknown label ids {unknown.tolist()[:10]} (the "
                             f"label list has ids 0..{len(self.label_names) - 1})", image_path)
        labels = self._lut[image.fit(labels)]
        if not ((labels > 0) & (labels != IGNORE_INDEX)).any():
            return exclusion(image_id, path, "no part pixels (the label map is all background "
                             "or void)", image_path)
        return Sample(image_id=image_id, image=image.pixels, labels=labels,
                      part_names=self.part_names, class_index=self.class_names.index(cls),
                      class_name=cls, source=str(image_path), decode_factor=image.factor)

    def _labels(self, path: Path) -> np.ndarray:
        """The (H, W) label map as uint16 ids; MatFileError when it is missing or not integer."""
        data = read_mat(path, [self.options.labels_variable] if self.options.labels_variable
                        else None)
        name = self.options.labels_variable or _only_variable(data)
        if name is None:
            raise MatFileError(_ambiguous(data, "labels_variable"))
        if name not in data:
            raise MatFileError(f"no variable {name!r} (found {sorted(data)})")
        arr = np.asarray(data[name])
        if arr.ndim != 2 or arr.dtype.kind not in "uifb":
            raise MatFileError(f"{name!r} is not a 2-D label map (shape {arr.shape}, "
                               f"{arr.dtype})")
        if arr.dtype.kind == "f" and not (np.isfinite(arr).all() and (arr == np.round(arr)).all()):
            raise MatFileError(f"{name!r} has non-integer label values")
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise MatFileError(f"{name!r} has label ids outside 0..65535")
        return arr.astype(np.uint16, copy=False)  # ids fit (checked): 2 bytes a pixel


def _only_variable(data: dict) -> str | None:
    return next(iter(data)) if len(data) == 1 else None


def _ambiguous(data: dict, option: str) -> str:
    return f"expected one variable, found {sorted(data)}; choose one with the {option!r} option"
