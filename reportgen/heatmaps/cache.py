"""A content-addressed heatmap cache that survives SIGKILL.

Each ``store`` call writes one shard file (``<hash>.npz``) atomically (temporary file +
rename): after a kill a batch is either wholly in the cache or not at all, so a resumed run
recomputes whole batches with the same composition and gets identical values. A shard holds
per heatmap: its key, the (h, w) heatmap as float16, the predicted class, its probability
and the explained class. The index (key -> shard, row) is rebuilt by reading only the keys
of each shard when the cache is opened.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reportgen.heatmaps.base import HeatmapBatch
from reportgen.io import atomic_write

SHARD_SUFFIX = ".npz"


@dataclass(frozen=True)
class CachedHeatmap:
    """One stored heatmap: (h, w) float16 plus the prediction it came with."""

    heatmap: np.ndarray
    predicted: int
    probability: float
    target: int


@dataclass(frozen=True)
class CacheReport:
    """What a cache folder holds: heatmaps, shard files, bytes; unreadable and leftover
    temporary files (from killed writes) are counted apart."""

    path: Path
    heatmaps: int
    files: int
    bytes: int
    unreadable: int = 0
    temporary: int = 0

    def describe(self) -> str:
        text = (f"heatmap cache {self.path}: {self.heatmaps:,} heatmaps in {self.files:,} "
                f"files, {self.bytes / 1e6:,.1f} MB")
        extras = [f"{n} {what}" for n, what in ((self.unreadable, "unreadable files"),
                                                (self.temporary, "leftover temporary files"))
                  if n]
        return text + (f" ({', '.join(extras)})" if extras else "")

    def as_dict(self) -> dict:
        return {"path": str(self.path), "heatmaps": self.heatmaps, "files": self.files,
                "bytes": self.bytes, "unreadable": self.unreadable, "temporary": self.temporary}


def quantize(batch: HeatmapBatch) -> HeatmapBatch:
    """The batch with heatmaps rounded through float16, exactly as the cache returns them
    (on the heatmaps' device: IEEE round-to-nearest-even, the same bits as numpy's)."""
    heat = batch.heatmaps
    rounded = (heat.half().float() if batch.on_device
               else heat.astype(np.float16).astype(np.float32))
    return HeatmapBatch(rounded, batch.predicted, batch.probability, batch.target)


def _read_keys(path: Path) -> np.ndarray | None:
    try:
        with np.load(path, allow_pickle=False) as shard:
            return shard["keys"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None


class HeatmapCache:
    """Heatmaps and predictions under content-hash keys (``reportgen.heatmaps.keys``)."""

    enabled = True

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._index: dict[str, tuple[Path, int]] = {}
        self._unreadable = 0
        if self.root.is_dir():
            for path in sorted(self.root.glob(f"*{SHARD_SUFFIX}")):
                self._add_shard(path)

    @classmethod
    def open(cls, root: str | Path, enabled: bool = True) -> HeatmapCache:
        """The cache in ``root``; ``enabled=False`` (``--no-cache``) reads and writes nothing."""
        return cls(root) if enabled else DisabledCache(root)

    @staticmethod
    def clear(root: str | Path) -> int:
        """Delete the cache's shard files (and leftover temporaries) in ``root``; returns how
        many files went. Other files in the folder are left alone."""
        root = Path(root)
        if not root.is_dir():
            return 0
        files = [*root.glob(f"*{SHARD_SUFFIX}"), *root.glob(".*.tmp")]
        for path in files:
            path.unlink(missing_ok=True)
        return len(files)

    def _add_shard(self, path: Path) -> None:
        keys = _read_keys(path)
        if keys is None:
            self._unreadable += 1
            return
        for row, key in enumerate(keys.tolist()):
            self._index[key] = (path, row)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def lookup(self, keys: Sequence[str]) -> list[CachedHeatmap | None]:
        """The stored entry for each key, None where absent (each shard read once)."""
        found: list[CachedHeatmap | None] = [None] * len(keys)
        by_shard: dict[Path, list[tuple[int, int]]] = {}
        for i, key in enumerate(keys):
            if key in self._index:
                path, row = self._index[key]
                by_shard.setdefault(path, []).append((i, row))
        for path, wanted in by_shard.items():
            try:
                with np.load(path, allow_pickle=False) as shard:
                    heat, predicted = shard["heatmaps"], shard["predicted"]
                    probability, target = shard["probability"], shard["target"]
            except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
                continue  # vanished or damaged since opening: recompute
            for i, row in wanted:
                found[i] = CachedHeatmap(heat[row], int(predicted[row]),
                                         float(probability[row]), int(target[row]))
        return found

    def store(self, keys: Sequence[str], batch: HeatmapBatch) -> Path | None:
        """Write the batch's heatmaps (as float16) under ``keys`` in one atomic shard file."""
        batch = batch.to_host()
        if len(keys) != len(batch.heatmaps):
            raise ValueError(f"{len(keys)} keys for {len(batch.heatmaps)} heatmaps")
        if not keys:
            return None
        name = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:32] + SHARD_SUFFIX
        path = self.root / name
        arrays = {"keys": np.asarray(keys, dtype="U64"),
                  "heatmaps": batch.heatmaps.astype(np.float16),
                  "predicted": batch.predicted.astype(np.int64),
                  "probability": batch.probability.astype(np.float32),
                  "target": batch.target.astype(np.int64)}

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)

        atomic_write(path, write)
        for row, key in enumerate(keys):
            self._index[key] = (path, row)
        return path

    def report(self) -> CacheReport:
        """Heatmaps, files and bytes in the cache folder (the cache size report)."""
        return cache_report(self.root, heatmaps=len(self), unreadable=self._unreadable)


class DisabledCache(HeatmapCache):
    """``--no-cache``: every lookup misses and nothing is written (the folder is untouched)."""

    enabled = False

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else Path()
        self._index = {}
        self._unreadable = 0

    def store(self, keys: Sequence[str], batch: HeatmapBatch) -> Path | None:
        return None

    def report(self) -> CacheReport:
        return CacheReport(self.root, 0, 0, 0)


def cache_report(root: str | Path, heatmaps: int | None = None, unreadable: int | None = None
                 ) -> CacheReport:
    """Size report of the cache folder ``root`` (counts heatmaps by reading shard keys)."""
    root = Path(root)
    shards = sorted(root.glob(f"*{SHARD_SUFFIX}")) if root.is_dir() else []
    temporary = [p for p in root.glob(".*.tmp")] if root.is_dir() else []
    if heatmaps is None or unreadable is None:
        counts = [_read_keys(p) for p in shards]
        heatmaps = sum(len(k) for k in counts if k is not None)
        unreadable = sum(k is None for k in counts)
    size = sum(p.stat().st_size for p in [*shards, *temporary])
    return CacheReport(root, heatmaps, len(shards) - unreadable, size, unreadable,
                       len(temporary))
