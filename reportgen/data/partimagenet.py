"""PartImageNet: COCO-style part annotations (polygons or RLE) over ImageNet images.

::

    {"images": [{"id": 7, "file_name": "n01440764_10026.JPEG", "height": 375, "width": 500}],
     "categories": [{"id": 0, "name": "Fish Head", "supercategory": "Fish"}],
     "annotations": [{"id": 1, "image_id": 7, "category_id": 0,
                      "segmentation": [[x1, y1, x2, y2, ...]] or {"size": [h, w], "counts": ...}}]}

Part categories are the parts (in category-id order); an image's class is the WordNet id at
the start of its file name, or comes from ``class_map``. The annotation JSON is parsed up front
(it is the index); images are read and masks rasterised when iterated. Parts that do not
overlap give a label map; overlapping annotations of different parts give part masks.
An image's path (``images`` / ``file_name``) must stay inside the dataset root or the
``images`` folder (symlinks resolved) unless the policy's ``allow_outside_root`` is set.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from reportgen.data.base import Item, TaskDataset, check_root, exclusion, repeated_indices
from reportgen.data.images import (
    READ_ERRORS,
    DecodedImage,
    decode_image,
    describe_error,
    size_mismatch,
)
from reportgen.data.masks import segmentation_mask
from reportgen.data.options import check_names, read_class_map, read_mapping_file, resolve
from reportgen.data.policy import ReadPolicy, outside_root
from reportgen.data.registry import register_format
from reportgen.data.sample import IGNORE_INDEX, Sample
from reportgen.errors import DatasetError

WORDNET_ID = re.compile(r"(n\d{8})")


@dataclass(frozen=True)
class PartImageNetOptions:
    """Options of the ``partimagenet`` format (paths relative to the root).

    ``annotations``: the COCO-style JSON. ``images``: the folder ``file_name`` is relative to
    (``images/<wnid>/<file_name>`` is tried too). ``class_map``: a JSON/YAML file mapping
    file names, image ids or WordNet ids to class names. ``classes``: the class order (default:
    sorted). ``part_names``: ``category`` ("Quadruped Head") or ``part`` ("Head", merged
    across supercategories).
    """

    annotations: str
    images: str = "images"
    class_map: str | None = None
    classes: tuple[str, ...] | None = None
    part_names: Literal["category", "part"] = "category"


@dataclass(frozen=True)
class _Image:
    image_id: str
    file_name: str
    height: int | None
    width: int | None
    class_name: str | None


@register_format("partimagenet", options=PartImageNetOptions)
class PartImageNetDataset(TaskDataset):
    """A lazily read PartImageNet split; iterating yields ``Sample`` or ``Exclusion`` items."""

    def __init__(self, root: str | Path, limit: int | None = None,
                 options: PartImageNetOptions | None = None, policy: ReadPolicy | None = None):
        if options is None:
            raise DatasetError(f"{root}: a partimagenet dataset needs the option 'annotations' "
                               "(the COCO-style JSON file)")
        self.options = options
        self.policy = policy or ReadPolicy()
        self.root = check_root(Path(root))
        self.limit = limit
        self.manifest_path = resolve(self.root, options.annotations)
        self.images_dir = resolve(self.root, options.images)
        coco = read_mapping_file(self.manifest_path)
        where = str(self.manifest_path)
        if not isinstance(coco, dict) or not all(
                isinstance(coco.get(k), list) for k in ("images", "annotations", "categories")):
            raise DatasetError(f"{where}: expected a COCO-style object with the lists images, "
                               "annotations, categories")
        info = coco.get("info") if isinstance(coco.get("info"), dict) else {}
        self.name = str(info.get("description") or self.root.name)
        self.part_names, self._category_label = self._categories(coco["categories"], where)
        class_map = read_class_map(resolve(self.root, options.class_map)) \
            if options.class_map else {}
        self._images = [self._image(i, raw, class_map, where)
                        for i, raw in enumerate(coco["images"])]
        if limit is not None:
            self._images = self._images[:limit]
        found = sorted({im.class_name for im in self._images if im.class_name})
        self.class_names = check_names(list(options.classes or found or ["unknown"]),
                                       "classes", where)
        self.class_parts: dict[str, tuple[str, ...]] = {}
        self._annotations = self._index(coco["annotations"], coco["images"], where)

    def _categories(self, categories: list, where: str) -> tuple[tuple[str, ...], dict]:
        rows = []
        for i, cat in enumerate(categories):
            if not isinstance(cat, dict) or "id" not in cat or not isinstance(cat.get("name"),
                                                                              str):
                raise DatasetError(f"{where}: categories[{i}] needs an id and a name")
            rows.append(cat)
        rows.sort(key=lambda c: (str(type(c["id"])), c["id"]))
        names = [self._part_name(c) for c in rows]
        if self.options.part_names == "category":
            parts = check_names(names, "the part category list", where)
        else:
            parts = tuple(dict.fromkeys(names))
        if len(parts) >= IGNORE_INDEX:
            raise DatasetError(f"{where}: at most {IGNORE_INDEX - 1} part categories supported")
        return parts, {c["id"]: parts.index(n) + 1 for c, n in zip(rows, names, strict=True)}

    def _part_name(self, cat: dict) -> str:
        name, sup = cat["name"].strip(), str(cat.get("supercategory") or "").strip()
        if self.options.part_names == "part" and sup and name.startswith(sup + " "):
            return name[len(sup) + 1:]
        return name

    def _image(self, index: int, raw: Any, class_map: dict[str, str], where: str) -> _Image:
        if not isinstance(raw, dict) or "id" not in raw or not isinstance(raw.get("file_name"),
                                                                          str):
            raise DatasetError(f"{where}: images[{index}] needs an id and a file_name")
        _check_id(raw["id"], f"{where}: images[{index}].id")
        file_name = raw["file_name"]
        wnid = WORDNET_ID.search(Path(file_name).name)
        keys = [file_name, Path(file_name).name, str(raw["id"])] + ([wnid[1]] if wnid else [])
        cls = next((class_map[k] for k in keys if k in class_map), None)
        if cls is None and not class_map and wnid:
            cls = wnid[1]
        size = [raw.get(k) for k in ("height", "width")]
        ok = all(isinstance(v, int) and v > 0 for v in size)
        return _Image(str(raw["id"]), file_name, size[0] if ok else None,
                      size[1] if ok else None, cls)

    def _index(self, annotations: list, images: list, where: str) -> dict[str, list[dict]]:
        known = {str(im["id"]) for im in images}
        by_image: dict[str, list[dict]] = defaultdict(list)
        orphans = []
        for i, ann in enumerate(annotations):
            if not isinstance(ann, dict) or "image_id" not in ann:
                raise DatasetError(f"{where}: annotations[{i}] needs an image_id")
            _check_id(ann["image_id"], f"{where}: annotations[{i}].image_id")
            key = str(ann["image_id"])
            if key not in known:
                orphans.append(key)
            by_image[key].append(ann)
        if orphans:
            raise DatasetError(f"{where}: {len(orphans)} annotations refer to image ids that "
                               f"are not in 'images' (e.g. {orphans[0]}); wrong split file?")
        return by_image

    def __len__(self) -> int:
        return len(self._images)

    def tasks(self) -> list[tuple[_Image, str | None]]:
        """(image, duplicated key or None) per annotated image; duplicates found up front."""
        same_id = repeated_indices([im.image_id for im in self._images])
        same_file = repeated_indices([im.file_name for im in self._images])
        return [(im, "id" if index in same_id else "file_name" if index in same_file else None)
                for index, im in enumerate(self._images)]

    def run_task(self, task: tuple[_Image, str | None]) -> list[Item]:
        im, duplicate = task
        if duplicate:
            value = im.image_id if duplicate == "id" else im.file_name
            return [exclusion(im.image_id, self.manifest_path, f"duplicate image {duplicate} "
                              f"{value!r} (only its first entry is used)",
                              self.images_dir / im.file_name)]
        return [self._read(im)]

    def _image_path(self, im: _Image) -> Path:
        path = self.images_dir / im.file_name
        wnid = WORDNET_ID.search(Path(im.file_name).name)
        if not path.exists() and wnid and (self.images_dir / wnid[1] / im.file_name).exists():
            return self.images_dir / wnid[1] / im.file_name
        return path

    def _read(self, im: _Image) -> Item:
        path = self._image_path(im)

        def excluded(reason: str, where: Path | None = None) -> Item:
            return exclusion(im.image_id, where or self.manifest_path, reason, path)

        if im.class_name is None:
            how = "the class map has no entry for it" if self.options.class_map else \
                "its file name has no WordNet id (nXXXXXXXX); give a class_map"
            return excluded(f"no class for {im.file_name!r}: {how}")
        if im.class_name not in self.class_names:
            return excluded(f"class {im.class_name!r} is not among the configured classes")
        annotations = self._annotations.get(im.image_id, [])
        if not annotations:
            return excluded(f"{im.file_name} has no part annotations")
        outside = outside_root(path, [self.root, self.images_dir], self.policy)
        if outside:
            return excluded(outside)
        try:
            image = decode_image(path, self.policy.max_image_pixels,
                                 self.policy.reduce_above_pixels)
        except READ_ERRORS as exc:
            return excluded(describe_error(exc), path)
        if im.height is not None:
            mismatch = size_mismatch("the annotated size", (im.height, im.width),
                                     image.full_size, path)
            if mismatch:
                return excluded(mismatch)
        try:
            masks = self._part_masks(annotations, image)
        except ValueError as exc:
            return excluded(str(exc))
        if not masks.any():
            return excluded(f"no part pixels ({im.file_name}'s part annotations are empty)")
        sample = dict(image_id=im.image_id, image=image.pixels, part_names=self.part_names,
                      class_index=self.class_names.index(im.class_name),
                      class_name=im.class_name, source=str(path),
                      decode_factor=image.factor)
        if (masks.sum(axis=0) > 1).any():  # overlapping parts: keep masks
            return Sample(labels=None, part_masks=masks, **sample)
        labels = (masks * np.arange(1, len(self.part_names) + 1, dtype=np.uint8)[:, None, None]
                  ).max(axis=0).astype(np.uint8)
        return Sample(labels=labels, **sample)

    def _part_masks(self, annotations: list[dict], image: DecodedImage) -> np.ndarray:
        """(K, h, w) bool on the decoded image's grid, one mask per part; ValueError naming a
        bad annotation. Segmentations are in full-size pixels (``image.full_size``)."""
        height, width = image.full_size
        points = image.sample_points() if image.factor > 1 else None
        masks = np.zeros((len(self.part_names), *image.pixels.shape[:2]), bool)
        for ann in annotations:
            label = self._category_label.get(ann.get("category_id"))
            name = f"annotation {ann.get('id', '?')}"
            if label is None:
                raise ValueError(f"{name} has the unknown category_id "
                                 f"{ann.get('category_id')!r}")
            if "segmentation" not in ann:
                raise ValueError(f"{name} has no segmentation")
            try:
                masks[label - 1] |= segmentation_mask(ann["segmentation"], height, width,
                                                      points)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{name}: {exc}") from None
        return masks


def _check_id(value: object, where: str) -> None:
    """A COCO id is a string or an integer: str() of a list or float would invent one."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise DatasetError(f"{where} must be a string or an integer, got {value!r}")
