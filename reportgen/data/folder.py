"""The native folder format: ``images/``, ``labels/`` (PNG label maps) and a manifest.

The manifest is ``dataset.json`` or ``dataset.yaml`` (``.yml``)::

    {"name": "parts-world",
     "classes": ["bird", "fish"],
     "parts": ["head", "body", "tail", "legs"],
     "class_parts": {"fish": ["head", "body", "tail"]},          # optional
     "samples": [{"id": "0001", "image": "images/0001.png",
                  "labels": "labels/0001.png", "class": "bird"}]}

Label maps hold 0 for background, i for ``parts[i - 1]`` and 255 for void pixels. A class
listed in ``class_parts`` may only have those parts (a fish with legs is excluded). Reading is
lazy: only the manifest is parsed up front; each image is read when it is iterated.

Sample ids are strings or integers; ``image`` and ``labels`` are paths relative to the root
that must stay inside it (``..``, absolute paths and symlinks are judged by where they
resolve) unless the policy's ``allow_outside_root`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reportgen.data.base import Item, TaskDataset, check_root, exclusion, repeated_indices
from reportgen.data.images import (
    READ_ERRORS,
    decode_image,
    describe_error,
    label_counts,
    read_label_map,
    size_mismatch,
)
from reportgen.data.options import read_mapping_file
from reportgen.data.policy import ReadPolicy, outside_root
from reportgen.data.registry import register_format
from reportgen.data.sample import IGNORE_INDEX, Sample
from reportgen.errors import DatasetError

MANIFEST = "dataset.json"
MANIFEST_NAMES = (MANIFEST, "dataset.yaml", "dataset.yml")


@dataclass(frozen=True)
class FolderOptions:
    """``manifest``: the manifest's file name in the root (default: the one of
    dataset.json, dataset.yaml, dataset.yml that exists)."""

    manifest: str | None = None


@dataclass(frozen=True)
class _Entry:
    image_id: str
    image: str
    labels: str
    class_name: str


def has_manifest(root: Path) -> bool:
    """Whether ``root`` holds a folder-format manifest (format detection)."""
    return any((root / name).is_file() for name in MANIFEST_NAMES)


@register_format("folder", options=FolderOptions, detect=has_manifest)
class FolderDataset(TaskDataset):
    """A lazily read folder dataset; iterating yields ``Sample`` or ``Exclusion`` items."""

    def __init__(self, root: str | Path, limit: int | None = None,
                 options: FolderOptions | None = None, policy: ReadPolicy | None = None):
        self.root = check_root(Path(root))
        self.limit = limit
        self.policy = policy or ReadPolicy()
        chosen = (options or FolderOptions()).manifest
        self.manifest_path = self._find_manifest(chosen)
        manifest = _read_manifest(self.manifest_path, searched=chosen is None)
        self.name = str(manifest.get("name", self.root.name))
        self.class_names = tuple(_string_list(manifest, "classes", self.manifest_path))
        self.part_names = tuple(_string_list(manifest, "parts", self.manifest_path))
        if len(self.part_names) >= IGNORE_INDEX:
            raise DatasetError(f"{self.manifest_path}: at most {IGNORE_INDEX - 1} parts are "
                               "supported")
        self.class_parts = self._class_parts(manifest.get("class_parts", {}))
        entries = manifest.get("samples")
        if not isinstance(entries, list):
            raise DatasetError(f"{self.manifest_path}: 'samples' must be a list")
        self._entries = [self._parse_entry(i, e) for i, e in enumerate(entries)]
        if limit is not None:
            self._entries = self._entries[:limit]
        # label id -> allowed, per class with a part set (row 0 background, 255 void allowed)
        self._allowed = {c: self._allowed_ids(parts) for c, parts in self.class_parts.items()}

    def _find_manifest(self, name: str | None) -> Path:
        if name is not None:
            return self.root / name
        found = [self.root / n for n in MANIFEST_NAMES if (self.root / n).is_file()]
        if len(found) > 1:
            raise DatasetError(f"{self.root}: several manifests {[p.name for p in found]}; "
                               "keep one or choose it with the 'manifest' option")
        return found[0] if found else self.root / MANIFEST

    def _class_parts(self, raw: object) -> dict[str, tuple[str, ...]]:
        where = f"{self.manifest_path}: 'class_parts'"
        if not isinstance(raw, dict):
            raise DatasetError(f"{where} must map class names to lists of part names")
        result = {}
        for cls, parts in raw.items():
            if cls not in self.class_names:
                raise DatasetError(f"{where} names the unknown class {cls!r}")
            if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
                raise DatasetError(f"{where}: {cls!r} must be a list of part names")
            unknown = [p for p in parts if p not in self.part_names]
            if unknown:
                raise DatasetError(f"{where}: {cls!r} names unknown parts {unknown}")
            result[cls] = tuple(parts)
        return result

    def _allowed_ids(self, parts: tuple[str, ...]) -> np.ndarray:
        allowed = np.zeros(IGNORE_INDEX + 1, bool)
        allowed[[0, IGNORE_INDEX]] = True
        allowed[[self.part_names.index(p) + 1 for p in parts]] = True
        return allowed

    def _parse_entry(self, index: int, entry: object) -> _Entry:
        where = f"{self.manifest_path}: samples[{index}]"
        if not isinstance(entry, dict) or not {"id", "image", "labels", "class"} <= entry.keys():
            raise DatasetError(f"{where} needs the keys id, image, labels, class")
        image_id = entry["id"]
        # str() of a list or a float would invent an id ("[1]", "1.0") nobody wrote
        if isinstance(image_id, bool) or not isinstance(image_id, (str, int)) or \
                image_id == "":
            raise DatasetError(f"{where}: 'id' must be a string or an integer, got "
                               f"{image_id!r}")
        for key in ("image", "labels", "class"):
            if not isinstance(entry[key], str) or not entry[key]:
                raise DatasetError(f"{where}: {key!r} must be a non-empty string, got "
                                   f"{entry[key]!r}")
        return _Entry(str(image_id), entry["image"], entry["labels"], entry["class"])

    def __len__(self) -> int:
        return len(self._entries)

    def tasks(self) -> list[tuple[_Entry, bool]]:
        """(entry, is a duplicate id) per manifest entry; duplicates are found up front."""
        duplicates = repeated_indices([e.image_id for e in self._entries])
        return [(entry, index in duplicates) for index, entry in enumerate(self._entries)]

    def run_task(self, task: tuple[_Entry, bool]) -> list[Item]:
        entry, duplicate = task
        if duplicate:
            return [exclusion(entry.image_id, self.manifest_path,
                              f"duplicate id {entry.image_id!r} (only its first sample is "
                              "used)", self.root / entry.image)]
        return [self._read(entry)]

    def _read(self, entry: _Entry) -> Item:
        image_path = self.root / entry.image
        labels_path = self.root / entry.labels

        def excluded(reason: str, path: Path) -> Item:
            return exclusion(entry.image_id, path, reason, image_path)

        if entry.class_name not in self.class_names:
            return excluded(f"class {entry.class_name!r} is not in the manifest's classes",
                            self.manifest_path)
        for path in (image_path, labels_path):
            outside = outside_root(path, [self.root], self.policy)
            if outside:
                return excluded(outside, self.manifest_path)
        policy = self.policy
        try:
            image = decode_image(image_path, policy.max_image_pixels,
                                 policy.reduce_above_pixels)
        except READ_ERRORS as exc:
            return excluded(describe_error(exc), image_path)
        try:
            labels = read_label_map(labels_path, policy.max_image_pixels)
        except READ_ERRORS as exc:
            return excluded(describe_error(exc), labels_path)
        mismatch = size_mismatch("label map", labels.shape, image.full_size, image_path)
        if mismatch:
            return excluded(mismatch, labels_path)
        present = _present(labels)  # the file's ids, checked at full size
        labels = image.fit(labels)
        scored = present if image.factor == 1 else _present(labels)
        known = np.zeros(IGNORE_INDEX + 1, bool)
        known[[*range(len(self.part_names) + 1), IGNORE_INDEX]] = True
        unknown = np.flatnonzero(present & ~known)
        if unknown.size:
            return excluded(f"unknown label ids {unknown.tolist()} (manifest has "
                            f"{len(self.part_names)} parts)", labels_path)
        if not scored[1: len(self.part_names) + 1].any():
            return excluded("no part pixels (the label map is all background or void)",
                            labels_path)
        allowed = self._allowed.get(entry.class_name)
        if allowed is not None and (present & ~allowed).any():
            foreign = [self.part_names[i - 1] for i in np.flatnonzero(present & ~allowed)]
            return excluded(f"parts {foreign} are not parts of class {entry.class_name!r} "
                            f"(class_parts in {self.manifest_path.name})", labels_path)
        return Sample(
            image_id=entry.image_id,
            image=image.pixels,
            labels=labels,
            part_names=self.part_names,
            class_index=self.class_names.index(entry.class_name),
            class_name=entry.class_name,
            source=str(image_path),
            decode_factor=image.factor,
        )


def _present(labels: np.ndarray) -> np.ndarray:
    """(256,) bool: which label ids occur in a uint8 label map."""
    return label_counts(labels) > 0


def _read_manifest(path: Path, searched: bool) -> dict:
    if not path.is_file():
        others = f" (nor {', '.join(MANIFEST_NAMES[1:])})" if searched else ""
        raise DatasetError(f"{path}: manifest not found{others}")
    try:
        manifest = read_mapping_file(path)
    except DatasetError as exc:
        raise DatasetError(f"unreadable manifest: {exc}") from None
    if not isinstance(manifest, dict):
        raise DatasetError(f"{path}: the manifest must be a mapping (JSON object) with the "
                           "keys classes, parts, samples")
    return manifest


def _string_list(manifest: dict, key: str, path: Path) -> list[str]:
    value = manifest.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise DatasetError(f"{path}: {key!r} must be a non-empty list of names")
    if len(set(value)) != len(value):
        raise DatasetError(f"{path}: {key!r} has duplicate names")
    return value

