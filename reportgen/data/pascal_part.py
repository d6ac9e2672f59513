"""PASCAL-Part: ``Annotations_Part/*.mat`` (struct ``anno``) and ``JPEGImages/*.jpg``.

Each .mat holds ``anno.imname`` and ``anno.objects``; an object has ``class``, ``class_ind``
(1..20, VOC order), ``mask`` (H, W silhouette) and ``parts`` (``part_name``, ``mask``). One
sample per object: fine parts grouped into coarse ones (``pascal_part_parts``), kept as
overlapping masks, the silhouette as the object mask. Only the file listing is read up front.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from reportgen.data.base import Item, TaskDataset, check_root, exclusion
from reportgen.data.images import (
    READ_ERRORS,
    DecodedImage,
    decode_image,
    describe_error,
    find_image,
    index_images,
    size_mismatch,
)
from reportgen.data.matfile import MatFileError, as_list, mat_string, read_mat
from reportgen.data.options import check_names, resolve
from reportgen.data.pascal_part_parts import (
    DEFAULT_GROUPING,
    FINE_PARTS,
    VOC_CLASSES,
    base_part_name,
    identity_grouping,
)
from reportgen.data.policy import ReadPolicy
from reportgen.data.registry import register_format
from reportgen.data.sample import Sample
from reportgen.errors import DatasetError
from reportgen.exclusions import Exclusion


@dataclass(frozen=True)
class PascalPartOptions:
    """Options of the ``pascal_part`` format (paths relative to the root).

    ``classes``: the class vocabulary and its order (default: the 20 VOC classes); objects of
    other classes are skipped. ``grouping``: ``default`` (DEFAULT_GROUPING), ``none`` (fine
    names) or a mapping coarse -> fine names. ``unmapped_parts``: an object with a part the
    grouping lacks is excluded (``exclude``) or the part is left out (``drop``).
    ``other_objects``: pixels of the image's other objects count as ``background`` or ``void``.
    """

    annotations: str = "Annotations_Part"
    images: str = "JPEGImages"
    classes: tuple[str, ...] | None = None
    grouping: Literal["default", "none"] | dict[str, tuple[str, ...]] = "default"
    unmapped_parts: Literal["exclude", "drop"] = "exclude"
    other_objects: Literal["background", "void"] = "background"


def has_part_annotations(root: Path) -> bool:
    """Whether ``root`` has the PASCAL-Part layout (format detection)."""
    return (root / "Annotations_Part").is_dir()


@register_format("pascal_part", options=PascalPartOptions, detect=has_part_annotations)
class PascalPartDataset(TaskDataset):
    """PASCAL-Part objects as mask samples; ``len()`` counts annotation files (images).

    Images are found by listing the image folder (``imname`` is matched against file stems,
    never joined to a path), so no annotation can point outside it.
    """

    def __init__(self, root: str | Path, limit: int | None = None,
                 options: PascalPartOptions | None = None, policy: ReadPolicy | None = None):
        self.options = options or PascalPartOptions()
        self.policy = policy or ReadPolicy()
        self.root = check_root(Path(root))
        self.limit = limit
        self.name = self.root.name
        self.manifest_path = resolve(self.root, self.options.annotations)
        if not self.manifest_path.is_dir():
            raise DatasetError(f"{self.manifest_path}: annotation folder not found")
        self.images_dir = resolve(self.root, self.options.images)
        if not self.images_dir.is_dir():
            raise DatasetError(f"{self.images_dir}: image folder not found")
        where = f"{self.root} (pascal_part)"
        self.class_names = check_names(self.options.classes or VOC_CLASSES, "classes", where)
        grouping = self._grouping()
        self.part_names = check_names(list(grouping), "the grouping's part names", where)
        # fine name -> row of the coarse part in part_masks
        self._coarse = {base_part_name(f): c for c, fines in grouping.items() for f in fines}
        self._row = {name: k for k, name in enumerate(self.part_names)}
        self.class_parts = {c: tuple(dict.fromkeys(
            self._coarse[f] for f in FINE_PARTS.get(c, ()) if f in self._coarse))
            for c in self.class_names}
        self._files = sorted(p for p in self.manifest_path.iterdir() if p.suffix == ".mat")
        if not self._files:
            raise DatasetError(f"{self.manifest_path}: no .mat annotation files")
        self._image_index = index_images(self.images_dir)

    def _grouping(self) -> dict[str, tuple[str, ...]]:
        grouping = self.options.grouping
        if grouping == "none":
            return identity_grouping(self.class_names)
        if grouping == "default":
            # only the coarse parts the configured classes can have, in the default's order
            fines = {f for c in self.class_names for f in FINE_PARTS.get(c, ())}
            return {c: f for c, f in DEFAULT_GROUPING.items() if fines & set(f)} or \
                dict(DEFAULT_GROUPING)
        seen: dict[str, str] = {}
        for coarse, fines in grouping.items():
            for fine in fines:
                if base_part_name(fine) in seen:
                    raise DatasetError(f"{self.root} (pascal_part): grouping puts {fine!r} in "
                                       f"both {seen[base_part_name(fine)]!r} and {coarse!r}")
                seen[base_part_name(fine)] = coarse
        return dict(grouping)

    def __len__(self) -> int:
        return len(self._files) if self.limit is None else min(self.limit, len(self._files))

    def tasks(self) -> list[Path]:
        return list(self._files)

    def run_task(self, path: Path) -> list[Item]:
        """Every object of one annotation file (the image id is only known inside it)."""
        try:
            anno = read_mat(path, ["anno"]).get("anno")
            if anno is None or not hasattr(anno, "objects"):
                raise MatFileError("no struct 'anno' with 'objects' (not a PASCAL-Part "
                                   "annotation)")
        except MatFileError as exc:
            return [exclusion(path.stem, path, str(exc))]
        image_id = mat_string(getattr(anno, "imname", "")) or path.stem
        return list(self._objects(path, image_id, as_list(anno.objects)))

    def item_filter(self) -> Callable[[Path, list[Item]], list[Item]]:
        """Keeps the first annotation file of each image id; a later one is excluded."""
        seen: dict[str, Path] = {}

        def keep(path: Path, items: list[Item]) -> list[Item]:
            unreadable = (len(items) == 1 and isinstance(items[0], Exclusion)
                          and items[0].image_id == path.stem and items[0].source == str(path))
            if not items or unreadable:
                return items
            image_id = items[0].image_id
            if image_id in seen:
                return [exclusion(image_id, path, f"duplicate image id {image_id!r} (already "
                                  f"read from {seen[image_id].name}; only the first is used)")]
            seen[image_id] = path
            return items

        return keep

    def _objects(self, path: Path, image_id: str, objects: list[Any]) -> Iterator[Item]:
        image_path, problem = find_image(self.images_dir, image_id, self._image_index)
        if problem:
            yield exclusion(image_id, path, problem)
            return
        try:
            image = decode_image(image_path, self.policy.max_image_pixels,
                                 self.policy.reduce_above_pixels)
        except READ_ERRORS as exc:
            yield exclusion(image_id, image_path, describe_error(exc))
            return
        silhouettes: list[np.ndarray | None] = []
        for obj in objects:
            mask = np.asarray(getattr(obj, "mask", np.zeros(0)))
            silhouettes.append(image.fit(mask) > 0 if mask.shape == image.full_size else None)
        for k, obj in enumerate(objects):
            cls = self._class_name(obj)
            if cls not in self.class_names:
                continue  # not a configured class: skipped, not a problem
            yield self._object(path, image_id, image, image_path, k, obj, cls, silhouettes)

    def _class_name(self, obj: Any) -> str:
        name = mat_string(getattr(obj, "class", ""))
        if name:
            return name
        index = np.asarray(getattr(obj, "class_ind", 0)).ravel()
        return VOC_CLASSES[int(index[0]) - 1] if index.size and 1 <= index[0] <= 20 else ""

    def _object(self, path: Path, image_id: str, image: DecodedImage, image_path: Path,
                k: int, obj: Any, cls: str, silhouettes: list[np.ndarray | None]) -> Item:
        """One object; ``silhouettes`` are on the decoded grid (None: wrong size)."""
        def excluded(reason: str) -> Item:
            return exclusion(image_id, path, reason, image_path, object_id=k)

        silhouette = silhouettes[k]
        if silhouette is None:
            found = np.asarray(getattr(obj, "mask", np.zeros(0))).shape
            return excluded(_mismatch("object mask", found, image, image_path))
        parts = [p for p in as_list(getattr(obj, "parts", [])) if hasattr(p, "mask")]
        if not parts:
            return excluded(f"{cls} has no part annotations")
        masks = np.zeros((len(self.part_names), *image.pixels.shape[:2]), bool)
        for part in parts:
            fine = base_part_name(mat_string(getattr(part, "part_name", "")))
            mask = np.asarray(part.mask)
            if mask.shape != image.full_size:
                return excluded(_mismatch(f"part {fine!r} mask", mask.shape, image, image_path))
            coarse = self._coarse.get(fine)
            if coarse is None:
                if self.options.unmapped_parts == "drop":
                    continue
                return excluded(f"part {fine!r} of {cls} is not in the grouping (add it, or set "
                                "unmapped_parts: drop)")
            masks[self._row[coarse]] |= image.fit(mask) > 0
        if not masks.any():
            return excluded(f"{cls} has no part pixels (empty part masks)")
        object_mask = silhouette | masks.any(axis=0)
        void = None
        if self.options.other_objects == "void":
            others = [s for j, s in enumerate(silhouettes) if j != k and s is not None]
            void = np.logical_or.reduce(others) & ~object_mask if others else None
        return Sample(image_id=image_id, image=image.pixels, labels=None,
                      part_names=self.part_names, class_index=self.class_names.index(cls),
                      class_name=cls, object_id=k, source=str(image_path), part_masks=masks,
                      object_mask=object_mask, void_mask=void, decode_factor=image.factor)


def _mismatch(what: str, shape: tuple[int, ...], image: DecodedImage, image_path: Path
              ) -> str:
    if len(shape) != 2:
        return f"{what} is not 2-D (shape {tuple(shape)})"
    return size_mismatch(what, shape, image.full_size, image_path) or ""
