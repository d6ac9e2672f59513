"""The native folder format: ``images/``, ``labels/`` (PNG label maps) and ``dataset.json``.

``dataset.json``::

    {"name": "parts-world",
     "classes": ["bird", "fish"],
     "parts": ["head", "body", "tail", "legs"],
     "samples": [{"id": "0001", "image": "images/0001.png",
                  "labels": "labels/0001.png", "class": "bird"}]}

Label maps hold 0 for background, i for ``parts[i - 1]`` and 255 for void pixels. Reading is
lazy: only the manifest is parsed up front; each image is read when it is iterated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from reportgen.data.sample import IGNORE_INDEX, Sample
from reportgen.errors import DatasetError
from reportgen.exclusions import Exclusion

MANIFEST = "dataset.json"


@dataclass(frozen=True)
class _Entry:
    image_id: str
    image: str
    labels: str
    class_name: str


class FolderDataset:
    """A lazily read folder dataset; iterating yields ``Sample`` or ``Exclusion`` items."""

    def __init__(self, root: str | Path, limit: int | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"dataset root {self.root} does not exist or is not a folder")
        manifest_path = self.root / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DatasetError(f"{manifest_path}: manifest not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DatasetError(f"{manifest_path}: unreadable manifest ({exc})") from None
        if not isinstance(manifest, dict):
            raise DatasetError(f"{manifest_path}: the manifest must be a JSON object with the "
                               "keys classes, parts, samples")
        self.manifest_path = manifest_path
        self.name = str(manifest.get("name", self.root.name))
        self.class_names = tuple(_string_list(manifest, "classes", manifest_path))
        self.part_names = tuple(_string_list(manifest, "parts", manifest_path))
        if len(self.part_names) >= IGNORE_INDEX:
            raise DatasetError(f"{manifest_path}: at most {IGNORE_INDEX - 1} parts are supported")
        entries = manifest.get("samples")
        if not isinstance(entries, list):
            raise DatasetError(f"{manifest_path}: 'samples' must be a list")
        self._entries = [self._parse_entry(i, e) for i, e in enumerate(entries)]
        if limit is not None:
            self._entries = self._entries[:limit]

    def _parse_entry(self, index: int, entry: object) -> _Entry:
        if not isinstance(entry, dict) or not {"id", "image", "labels", "class"} <= entry.keys():
            raise DatasetError(
                f"{self.manifest_path}: samples[{index}] needs the keys id, image, labels, class"
            )
        return _Entry(str(entry["id"]), str(entry["image"]), str(entry["labels"]),
                      str(entry["class"]))

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Sample | Exclusion]:
        seen: set[str] = set()
        for entry in self._entries:
            if entry.image_id in seen:
                yield Exclusion(entry.image_id, "data",
                                f"{self.manifest_path}: duplicate id {entry.image_id!r} "
                                "(only its first sample is used)", str(self.root / entry.image))
                continue
            seen.add(entry.image_id)
            yield self._read(entry)

    def _read(self, entry: _Entry) -> Sample | Exclusion:
        image_path = self.root / entry.image
        labels_path = self.root / entry.labels

        def excluded(reason: str, path: Path) -> Exclusion:
            return Exclusion(entry.image_id, "data", f"{path}: {reason}", str(image_path))

        if entry.class_name not in self.class_names:
            return excluded(f"class {entry.class_name!r} is not in the manifest's classes",
                            self.manifest_path)
        try:
            image = read_rgb(image_path)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            return excluded(_describe(exc), image_path)
        try:
            labels = read_label_map(labels_path)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            return excluded(_describe(exc), labels_path)
        if labels.shape != image.shape[:2]:
            return excluded(f"label map is {labels.shape[1]}x{labels.shape[0]} but the image is "
                            f"{image.shape[1]}x{image.shape[0]}", labels_path)
        unknown = np.setdiff1d(np.unique(labels), [*range(len(self.part_names) + 1), IGNORE_INDEX])
        if unknown.size:
            return excluded(f"unknown label ids {unknown.tolist()} (manifest has "
                            f"{len(self.part_names)} parts)", labels_path)
        return Sample(
            image_id=entry.image_id,
            image=image,
            labels=labels,
            part_names=self.part_names,
            class_index=self.class_names.index(entry.class_name),
            class_name=entry.class_name,
            source=str(image_path),
        )


@contextmanager
def _strict_decoding() -> Iterator[None]:
    """Truncated files raise instead of loading half-grey.

    weasyprint sets PIL's process-wide ``LOAD_TRUNCATED_IMAGES = True`` on import; a dataset
    reader must not inherit that.
    """
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def read_rgb(path: Path) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 RGB, applying its EXIF orientation."""
    with _strict_decoding(), Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        if img.mode.startswith("I"):
            # 16-bit (or 32-bit integer) grey: map the 16-bit range onto 8 bits, keeping
            # brightness (no per-image stretch).
            arr = np.asarray(img, dtype=np.float64)
            img = Image.fromarray(np.clip(np.round(arr / 257.0), 0, 255).astype(np.uint8))
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def read_label_map(path: Path) -> np.ndarray:
    """Read a single-channel PNG label map as (H, W) uint8."""
    with _strict_decoding(), Image.open(path) as img:
        if img.mode not in ("L", "P", "I", "I;16"):
            raise ValueError(f"label map must be single-channel, got mode {img.mode}")
        arr = np.asarray(img)
    if arr.max(initial=0) > IGNORE_INDEX:
        raise ValueError(f"label ids above {IGNORE_INDEX} in label map")
    return arr.astype(np.uint8)


def _describe(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, UnidentifiedImageError):
        return "not a readable image (corrupt or unknown format)"
    return f"unreadable ({exc})"


def _string_list(manifest: dict, key: str, path: Path) -> list[str]:
    value = manifest.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise DatasetError(f"{path}: {key!r} must be a non-empty list of names")
    if len(set(value)) != len(value):
        raise DatasetError(f"{path}: {key!r} has duplicate names")
    return value


def load_dataset(spec: str | Path, limit: int | None = None) -> FolderDataset:
    """Open a dataset from its root folder (the only format so far: the folder format)."""
    return FolderDataset(spec, limit=limit)
