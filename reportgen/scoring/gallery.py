"""The example gallery's selection and file: for every part, the images with the highest and
the lowest PH.

``GalleryCollector`` streams over the score stage's output and keeps, per (model, method,
part), only the two extreme samples seen so far (memory does not grow with the number of
images): a thumbnail of the image, the heatmap (the score stage's prepared heatmap, resized to
the thumbnail and divided by its peak) and the part's mask at the thumbnail's size. ``save``
writes one compressed ``.npz`` (``gallery.npz`` in the run directory) that ``load_gallery``
reads back without a model or a dataset, so ``reportgen render`` can redraw it
(``reportgen.report.gallery``).

Ties are broken by ``(image_id, object_id)`` (the smaller wins), so the selection does not
depend on how the images were split into batches.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from PIL import Image

from reportgen.data.sample import Sample
from reportgen.io import atomic_write
from reportgen.metrics.normalize import prepare_heatmaps
from reportgen.scoring.table import BatchScores
from reportgen.vocab import BASELINE_MODEL

Rank = Literal["highest", "lowest"]
RANKS: tuple[Rank, Rank] = ("highest", "lowest")
PH = "pqah.ph"
GALLERY_FORMAT = "reportgen-gallery"
GALLERY_VERSION = 1
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same gallery gives the same bytes
LONG_SIDE_FACTOR = 2  # a thumbnail's long side <= 2 x thumb_size: panoramas stay small
_THUMB_CACHE = 32  # image thumbnails kept for reuse (~75 KB each at 128 px)

@dataclass(frozen=True, eq=False)
class GalleryEntry:
    """One example image for one (model, method, part) and rank.

    ``image`` (h, w, 3) uint8, sized by ``thumbnail_size``; ``heatmap`` (h, w) float16 in
    [0, 1] (METRICS.md normalisation, resized bilinearly to the thumbnail); ``mask`` (h, w) bool,
    the part. ``ph`` is the sample's PH on the part: it orders the selection and is not a fact,
    so figures never print it.
    """

    model: str
    method: str
    part: str
    rank: Rank
    image_id: str
    object_id: int
    class_name: str
    ph: float
    image: np.ndarray
    heatmap: np.ndarray
    mask: np.ndarray

    def meta(self) -> dict:
        return {"model": self.model, "method": self.method, "part": self.part,
                "rank": self.rank, "image_id": self.image_id, "object_id": self.object_id,
                "class_name": self.class_name, "ph": self.ph}


def thumbnail_size(size: tuple[int, int], thumb_size: int) -> tuple[int, int]:
    """(H, W) -> (h, w) with the same aspect ratio: short side <= thumb_size and long side <=
    LONG_SIDE_FACTOR * thumb_size, never upscaled. Capping the short side (not the long one)
    keeps a tall photo as wide as a square one: a 850 x 550 photo becomes 198 x 128."""
    height, width = size
    scale = min(1.0, thumb_size / max(min(height, width), 1),
                LONG_SIDE_FACTOR * thumb_size / max(height, width, 1))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _thumb_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if image.shape[:2] == size:
        return np.ascontiguousarray(image, dtype=np.uint8)
    resized = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).resize(
        (size[1], size[0]), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8)


def _thumb_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average the mask to ``size`` and keep cells at least half covered; a part too small
    for that keeps every cell it touches, so a present part never vanishes."""
    if mask.shape == size:
        return mask.astype(bool)
    cover = np.asarray(Image.fromarray(mask.astype(np.float32)).resize(
        (size[1], size[0]), Image.Resampling.BOX))
    small = cover >= 0.5
    return small if small.any() else cover > 0


def _thumb_heatmap(heatmap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The prepared (clipped) heatmap resized to the thumbnail (bilinear, as the metrics
    resize) and divided by its peak: (h, w) float16 in [0, 1]."""
    clipped, peak, degenerate = prepare_heatmaps(np.asarray(heatmap, np.float32)[None], size)
    if degenerate[0]:
        return np.zeros(size, np.float16)
    return np.clip(clipped[0] / peak[0], 0, 1).astype(np.float16)


def _part_mask(sample: Sample, part: str) -> np.ndarray:
    """(H, W) bool mask of ``part`` in ``sample`` (void pixels excluded)."""
    k = sample.part_names.index(part)
    if sample.labels is not None:
        return sample.labels == k + 1
    return sample.part_masks[k] & sample.valid_pixels()


def _extremes(ph: pd.DataFrame) -> dict[Rank, pd.DataFrame]:
    """Per region, the row with the highest and the lowest ``value``; ties -> smallest
    (image_id, object_id). One sort per rank over the whole table (no loop over rows)."""
    out = {}
    for rank, descending in (("highest", True), ("lowest", False)):
        ordered = ph.sort_values(["region", "value", "image_id", "object_id"],
                                 ascending=[True, not descending, True, True], kind="stable")
        out[rank] = ordered.drop_duplicates("region", keep="first")
    return out


def _better(rank: Rank, new: tuple[float, str, int], old: tuple[float, str, int]) -> bool:
    """Is candidate ``new`` = (ph, image_id, object_id) preferred to ``old`` for ``rank``?"""
    if new[0] != old[0]:
        return new[0] > old[0] if rank == "highest" else new[0] < old[0]
    return new[1:] < old[1:]


class GalleryCollector:
    """Streaming selection of gallery examples (see the module docstring).

    ``part_names``: the dataset's part vocabulary (the gallery's row order); ``thumb_size``:
    shortest thumbnail side in pixels (``thumbnail_size``); ``include_models``: collect only
    these models (None: all); ``include_baselines``: also collect the ``baseline`` model's
    random/center heatmaps.
    """

    def __init__(self, part_names: Sequence[str], thumb_size: int = 128,
                 include_models: Collection[str] | None = None, include_baselines: bool = True):
        if thumb_size < 1:
            raise ValueError(f"thumb_size must be >= 1, got {thumb_size}")
        self.part_names = tuple(part_names)
        self.thumb_size = int(thumb_size)
        self.include_models = None if include_models is None else frozenset(include_models)
        self.include_baselines = include_baselines
        self._best: dict[tuple[str, str, str, Rank], GalleryEntry] = {}
        # The last few image thumbnails by image id: one image is often the extreme of
        # several parts, methods or models (a LANCZOS resize of a photo costs ~4 ms).
        self._thumbs: OrderedDict[tuple[str, tuple[int, int]], np.ndarray] = OrderedDict()

    def wants(self, model: str) -> bool:
        if model == BASELINE_MODEL and not self.include_baselines:
            return False
        return self.include_models is None or model in self.include_models

    def update(self, model: str, method: str, samples: Sequence[Sample], scored: BatchScores,
               table: pd.DataFrame | None = None) -> None:
        """Offer one scored batch: ``scored`` is ``score_batch``'s output for ``samples`` (its
        groups hold the prepared heatmaps); ``table`` (default ``scored.table``) the rows to
        select from (other models, metrics and regions in it are ignored)."""
        table = scored.table if table is None else table
        if not self.wants(model) or table.empty or not samples:
            return
        ph = table[(table["metric"] == PH) & (table["model"] == model)
                   & (table["method"] == method) & table["region"].isin(self.part_names)]
        if ph.empty:
            return
        ph = ph.assign(object_id=ph["object_id"].astype(np.int64))
        index = {(s.image_id, int(s.object_id)): i for i, s in enumerate(samples)}
        where = {i: (group, j) for group in scored.groups for j, i in enumerate(group.indices)}
        for rank, rows in _extremes(ph).items():
            for row in rows.itertuples(index=False):  # at most one row per part
                key = (model, method, row.region, rank)
                candidate = (float(row.value), str(row.image_id), int(row.object_id))
                old = self._best.get(key)
                if old is not None and not _better(rank, candidate,
                                                   (old.ph, old.image_id, old.object_id)):
                    continue
                i = index.get(candidate[1:])
                if i is None or i not in where:
                    raise ValueError(f"table row {candidate[1:]} is not among the samples")
                group, j = where[i]
                heat = group.prepared.rows([j]).to_numpy().clipped[0]
                self._best[key] = self._entry(model, method, row.region, rank, candidate[0],
                                              samples[i], heat)

    def _entry(self, model: str, method: str, part: str, rank: Rank, value: float,
               sample: Sample, heatmap: np.ndarray) -> GalleryEntry:
        size = thumbnail_size(sample.size, self.thumb_size)
        return GalleryEntry(model, method, part, rank, sample.image_id, int(sample.object_id),
                            sample.class_name, value, self._thumb(sample, size),
                            _thumb_heatmap(heatmap, size),
                            _thumb_mask(_part_mask(sample, part), size))

    def merge(self, entries: Sequence[GalleryEntry]) -> None:
        """Add entries another collector selected (e.g. a Ray worker's, for its batch): per
        (model, method, part, rank) the better one stays, ties broken as in ``update``, so
        merging the batches' selections gives what one collector streaming them all gives."""
        for e in entries:
            key = (e.model, e.method, e.part, e.rank)
            old = self._best.get(key)
            if old is None or _better(e.rank, (e.ph, e.image_id, e.object_id),
                                      (old.ph, old.image_id, old.object_id)):
                self._best[key] = e

    def _thumb(self, sample: Sample, size: tuple[int, int]) -> np.ndarray:
        key = (sample.image_id, size)
        thumb = self._thumbs.get(key)
        if thumb is None:
            thumb = self._thumbs[key] = _thumb_image(sample.image, size)
            if len(self._thumbs) > _THUMB_CACHE:
                self._thumbs.popitem(last=False)
        else:
            self._thumbs.move_to_end(key)
        return thumb

    def entries(self) -> list[GalleryEntry]:
        """Entries sorted by model, method, part (dataset order), rank (highest first)."""
        return sorted(self._best.values(), key=lambda e: _entry_order(e, self.part_names))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the gallery to one compressed .npz, atomically; the same entries give the
        same bytes."""
        return save_gallery(path, self.entries(), self.part_names, self.thumb_size)


def _entry_order(entry: GalleryEntry, part_names: Sequence[str]) -> tuple:
    part = (part_names.index(entry.part), "") if entry.part in part_names else (
        len(part_names), entry.part)
    return entry.model, entry.method, part, RANKS.index(entry.rank)


def _write_npz(target: Path, arrays: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buf.getvalue(), compresslevel=6)


def save_gallery(path: str | os.PathLike, entries: Sequence[GalleryEntry],
                 part_names: Sequence[str], thumb_size: int) -> Path:
    """Write ``entries`` as ``path`` (.npz): a JSON ``meta`` string and, per entry i,
    ``image_i``, ``heatmap_i``, ``mask_i``."""
    meta = {"format": GALLERY_FORMAT, "version": GALLERY_VERSION,
            "part_names": list(part_names), "thumb_size": int(thumb_size),
            "entries": [e.meta() for e in entries]}
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    for i, e in enumerate(entries):
        arrays[f"image_{i}"] = e.image.astype(np.uint8)
        arrays[f"heatmap_{i}"] = e.heatmap.astype(np.float16)
        arrays[f"mask_{i}"] = e.mask.astype(bool)
    return atomic_write(path, lambda tmp: _write_npz(tmp, arrays))


def load_gallery(path: str | os.PathLike) -> list[GalleryEntry]:
    """Read a gallery written by ``save`` / ``save_gallery`` (no model or dataset needed)."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(data["meta"].item())
        if meta.get("format") != GALLERY_FORMAT or meta.get("version") != GALLERY_VERSION:
            raise ValueError(f"{path}: not a reportgen gallery (format "
                             f"{meta.get('format')!r}, version {meta.get('version')!r})")
        return [GalleryEntry(**m, image=data[f"image_{i}"], heatmap=data[f"heatmap_{i}"],
                             mask=data[f"mask_{i}"])
                for i, m in enumerate(meta["entries"])]
