"""Precomputed heatmaps (SHAP, LIME, anything reportgen does not generate), keyed by image id.

Two layouts:

* a **folder** of ``<image_id>.npy`` or ``<image_id>.npz``: an (h, w) heatmap, or
  (n_objects, h, w) with row k for object k. An .npz holds it as ``heatmap`` (or as its only
  array) and may add ``target`` and ``predicted`` class indices (scalar or per object).
* one **.npz** with ``heatmaps`` (N, h, w) and ``ids`` (N,) str, optionally ``object_ids``
  (N,) int, ``targets`` (N,) int and ``predicted`` (N,) int. Saved with ``np.savez`` (not
  compressed), ``heatmaps`` is memory-mapped, so memory stays flat for any N; a compressed
  archive is decompressed once on first use.

Heatmaps may have any size and range; the metrics resize and normalise them. A missing,
duplicate or malformed heatmap is a per-sample problem (``HeatmapFileError``); an archive
without its arrays is a structural one (``DatasetError``).
"""

from __future__ import annotations

import zipfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reportgen.data.sample import Sample
from reportgen.errors import DatasetError
from reportgen.exclusions import Exclusion

SUFFIXES = (".npy", ".npz")


class HeatmapFileError(ValueError):
    """One sample's heatmap is missing or unusable (a one-line reason naming the file)."""


@dataclass(frozen=True)
class HeatmapRecord:
    """``heatmap`` (h, w) float32; ``target`` / ``predicted``: class indices, or None."""

    heatmap: np.ndarray
    target: int | None = None
    predicted: int | None = None


@dataclass(frozen=True)
class HeatmapGroup:
    """Samples whose heatmaps share one size, stacked for one scoring call.

    ``heatmaps`` (N, h, w) float32; ``target`` (N,) int64 (the sample's class when the file
    gives none); ``predicted`` (N,) int64, -1 where unknown (no model ran).
    """

    samples: list[Sample]
    heatmaps: np.ndarray
    target: np.ndarray
    predicted: np.ndarray


class HeatmapFolder:
    """``<image_id>.npy`` / ``.npz`` files in one folder (only the listing is read up front)."""

    def __init__(self, path: Path):
        self.path = path
        self._files: dict[str, list[Path]] = defaultdict(list)
        for entry in sorted(path.iterdir()):
            if entry.suffix in SUFFIXES:
                self._files[entry.stem].append(entry)

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, image_id: str) -> bool:
        return image_id in self._files

    def get(self, image_id: str, object_id: int = 0) -> HeatmapRecord:
        files = self._files.get(image_id, [])
        if not files:
            raise HeatmapFileError(f"{self.path}: no heatmap {image_id}.npy or {image_id}.npz")
        if len(files) > 1:
            raise HeatmapFileError(f"{self.path}: duplicate heatmaps for id {image_id!r}: "
                                   f"{[f.name for f in files]}")
        path = files[0]
        try:
            heat, target, predicted = _read_file(path)
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise HeatmapFileError(f"{path}: unreadable heatmap ({' '.join(str(exc).split())})"
                                   ) from None
        return HeatmapRecord(_pick(heat, object_id, path), _scalar(target, object_id),
                             _scalar(predicted, object_id))


class HeatmapArchive:
    """One .npz with ``heatmaps`` (N, h, w) and ``ids`` (N,); see the module docstring."""

    def __init__(self, path: Path):
        self.path = path
        try:
            with np.load(path, allow_pickle=False) as npz:
                names = set(npz.files)
                missing = {"heatmaps", "ids"} - names
                if missing:
                    raise DatasetError(f"{path}: heatmap archive lacks {sorted(missing)} "
                                       f"(has {sorted(names)})")
                ids = npz["ids"].astype(str)
                extra = {k: npz[k].astype(np.int64)
                         for k in ("object_ids", "targets", "predicted") if k in names}
        except DatasetError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise DatasetError(f"{path}: unreadable heatmap archive "
                               f"({' '.join(str(exc).split())})") from None
        try:
            self._heatmaps, shape = _member_memmap(path, "heatmaps")
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            raise DatasetError(f"{path}: unreadable 'heatmaps' ({' '.join(str(exc).split())})"
                               ) from None
        if len(shape) != 3 or ids.shape != (shape[0],):
            raise DatasetError(f"{path}: 'heatmaps' must be (N, h, w) and 'ids' (N,), got "
                               f"{shape} and {ids.shape}")
        for key, values in extra.items():
            if values.shape != ids.shape:
                raise DatasetError(f"{path}: {key!r} must be ({len(ids)},), got {values.shape}")
        objects = extra.get("object_ids", np.zeros(len(ids), np.int64))
        self._targets, self._predicted = extra.get("targets"), extra.get("predicted")
        self._rows: dict[tuple[str, int], int] = {}
        self._duplicates: set[tuple[str, int]] = set()
        for row, key in enumerate(zip(ids.tolist(), objects.tolist(), strict=True)):
            if key in self._rows:
                self._duplicates.add(key)
            self._rows.setdefault(key, row)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, image_id: str) -> bool:
        return (image_id, 0) in self._rows

    def get(self, image_id: str, object_id: int = 0) -> HeatmapRecord:
        key = (image_id, object_id)
        if key not in self._rows:
            raise HeatmapFileError(f"{self.path}: no heatmap for id {image_id!r}"
                                   + (f" object {object_id}" if object_id else ""))
        if key in self._duplicates:
            raise HeatmapFileError(f"{self.path}: duplicate id {image_id!r} (object "
                                   f"{object_id}); which heatmap is meant is ambiguous")
        row = self._rows[key]
        if self._heatmaps is None:  # compressed: decompress once
            with np.load(self.path, allow_pickle=False) as npz:
                self._heatmaps = npz["heatmaps"]
        heat = np.asarray(self._heatmaps[row], dtype=np.float32)
        return HeatmapRecord(heat, *(None if a is None else int(a[row])
                                     for a in (self._targets, self._predicted)))


def open_heatmaps(path: str | Path) -> HeatmapFolder | HeatmapArchive:
    """A folder of per-image files or one .npz archive; DatasetError when neither."""
    path = Path(path)
    if path.is_dir():
        return HeatmapFolder(path)
    if path.is_file() and path.suffix == ".npz":
        return HeatmapArchive(path)
    if not path.exists():
        raise DatasetError(f"heatmaps {path} not found")
    raise DatasetError(f"heatmaps {path}: expected a folder of .npy/.npz files or one .npz")


def heatmap_groups(samples: Sequence[Sample], source: HeatmapFolder | HeatmapArchive,
                   model: str = "", method: str = "") -> tuple[list[HeatmapGroup],
                                                                list[Exclusion]]:
    """The heatmaps of ``samples`` grouped by size, and an exclusion per sample without one."""
    by_shape: dict[tuple[int, ...], list[tuple[Sample, HeatmapRecord]]] = defaultdict(list)
    excluded = []
    for s in samples:
        try:
            record = source.get(s.image_id, s.object_id)
        except HeatmapFileError as exc:
            excluded.append(Exclusion(s.image_id, "heatmap", str(exc), s.source, model, method,
                                      s.object_id))
            continue
        by_shape[record.heatmap.shape].append((s, record))
    groups = []
    for rows in by_shape.values():
        groups.append(HeatmapGroup(
            samples=[s for s, _ in rows],
            heatmaps=np.stack([r.heatmap for _, r in rows]),
            target=np.array([s.class_index if r.target is None else r.target
                             for s, r in rows], np.int64),
            predicted=np.array([-1 if r.predicted is None else r.predicted for _, r in rows],
                               np.int64)))
    return groups, excluded


def _read_file(path: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False), None, None
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    heat_key = "heatmap" if "heatmap" in arrays else None
    if heat_key is None:
        candidates = [k for k in arrays if k not in ("target", "predicted")]
        if len(candidates) != 1:
            raise ValueError(f"expected an array 'heatmap', found {sorted(arrays)}")
        heat_key = candidates[0]
    return arrays[heat_key], arrays.get("target"), arrays.get("predicted")


def _pick(heat: np.ndarray, object_id: int, path: Path) -> np.ndarray:
    if heat.dtype.kind not in "fiub":
        raise HeatmapFileError(f"{path}: heatmap must be numeric, got {heat.dtype}")
    if heat.ndim == 3:
        if not 0 <= object_id < heat.shape[0]:
            raise HeatmapFileError(f"{path}: holds {heat.shape[0]} heatmaps, none for object "
                                   f"{object_id}")
        heat = heat[object_id]
    if heat.ndim != 2 or min(heat.shape) < 1:
        raise HeatmapFileError(f"{path}: heatmap must be (h, w) or (n_objects, h, w), got "
                               f"{heat.shape}")
    return heat.astype(np.float32)


def _scalar(values: np.ndarray | None, object_id: int) -> int | None:
    if values is None:
        return None
    flat = np.asarray(values).ravel()
    if flat.size == 1:
        return int(flat[0])
    return int(flat[object_id]) if object_id < flat.size else None


def _read_header(f) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


def _member_memmap(path: Path, name: str) -> tuple[np.ndarray | None, tuple[int, ...]]:
    """(memory map of ``name``.npy in an uncompressed .npz, or None when compressed; shape).

    Only the member's header is read (streamed when compressed), never its data.
    """
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{name}.npy")
        with archive.open(info) as member:
            shape, fortran, dtype = _read_header(member)
    if dtype.hasobject or dtype.kind not in "fiub":
        raise DatasetError(f"{path}: {name!r} must be numeric, got {dtype}")
    if info.compress_type != zipfile.ZIP_STORED:
        return None, shape
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        name_len = int.from_bytes(local[26:28], "little")
        extra_len = int.from_bytes(local[28:30], "little")
        f.seek(info.header_offset + 30 + name_len + extra_len)
        _read_header(f)
        offset = f.tell()
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                     order="F" if fortran else "C"), shape
