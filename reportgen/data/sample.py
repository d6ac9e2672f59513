"""The ``Sample`` that flows from a dataset adapter into the heatmap engine.

A sample carries its regions in one of two forms:

* **label map** (folder, PartImageNet, .mat label maps): ``labels`` (H, W) uint8 with
  0 = background, i = ``part_names[i - 1]``, 255 = void. Parts never overlap. ``part_masks``,
  ``object_mask`` and ``void_mask`` are None.
* **masks** (PASCAL-Part): ``labels`` is None; ``part_masks`` (K, H, W) bool, one mask per
  name in ``part_names`` (they may overlap: eyes inside head); ``object_mask`` (H, W) bool is the
  object's silhouette; ``void_mask`` (H, W) bool, optional, marks pixels dropped from every sum.

What a consumer reads:

* scoring against a label map (``has_label_map``): ``labels`` and ``part_names``;
* scoring against masks: ``part_masks``, ``background_mask()`` and ``valid_pixels()``
  (i.e. ``void_mask``), for ``metrics.pqah.score_masks``;
* any region or object metric, either form: ``region_masks()`` (background first, in
  ``region_names`` order), ``object_region()`` (the object mask O of METRICS.md) and
  ``valid_pixels()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reportgen.vocab import BACKGROUND, IGNORE_INDEX

__all__ = ["BACKGROUND", "IGNORE_INDEX", "Sample"]


@dataclass(frozen=True, eq=False)
class Sample:
    """One object to explain.

    ``image`` is (H, W, 3) uint8 RGB. Regions are a label map or masks (module docstring), at
    the image's resolution. ``part_names`` are the dataset's full part vocabulary, so label ids
    and mask rows mean the same in every sample. ``object_id`` numbers the objects of one image
    (PASCAL-Part: one sample per object); ``source`` is the image's path. ``decode_factor``
    f > 1: a large file decoded at 1/f of its size, its regions sampled to match
    (``reportgen.data.images``).
    """

    image_id: str
    image: np.ndarray
    labels: np.ndarray | None
    part_names: tuple[str, ...]
    class_index: int
    class_name: str
    object_id: int = 0
    source: str = ""
    part_masks: np.ndarray | None = None
    object_mask: np.ndarray | None = None
    void_mask: np.ndarray | None = None
    decode_factor: int = 1

    def __post_init__(self) -> None:
        hw = self.image.shape[:2]
        if self.image.ndim != 3 or self.image.shape[2] != 3:
            raise ValueError(f"image must be (H, W, 3), got {self.image.shape}")
        if self.labels is not None:
            if self.part_masks is not None or self.object_mask is not None \
                    or self.void_mask is not None:
                raise ValueError("a sample has either a label map or masks, not both")
            _check_plane(self.labels, hw, "labels")
            return
        if self.part_masks is None:
            raise ValueError("a sample needs a label map or part masks")
        if self.part_masks.shape != (len(self.part_names), *hw):
            raise ValueError(f"part_masks must be (K={len(self.part_names)}, {hw[0]}, {hw[1]}), "
                             f"got {self.part_masks.shape}")
        for name in ("part_masks", "object_mask", "void_mask"):
            mask = getattr(self, name)
            if mask is not None and mask.dtype != np.bool_:
                raise ValueError(f"{name} must be bool, got {mask.dtype}")
        for name in ("object_mask", "void_mask"):
            if getattr(self, name) is not None:
                _check_plane(getattr(self, name), hw, name)

    @property
    def region_names(self) -> tuple[str, ...]:
        """Column order of region scores: background first, then the parts."""
        return (BACKGROUND, *self.part_names)

    @property
    def has_label_map(self) -> bool:
        return self.labels is not None

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the image and of every mask."""
        return self.image.shape[0], self.image.shape[1]

    def valid_pixels(self) -> np.ndarray:
        """(H, W) bool: pixels that count in sums (not void)."""
        if self.labels is not None:
            return self.labels != IGNORE_INDEX
        if self.void_mask is None:
            return np.ones(self.size, bool)
        return ~self.void_mask

    def object_region(self) -> np.ndarray:
        """(H, W) bool object mask O: the silhouette when there is one, else the parts' union."""
        if self.labels is not None:
            return (self.labels > 0) & (self.labels != IGNORE_INDEX)
        union = self.part_masks.any(axis=0)
        obj = union if self.object_mask is None else self.object_mask | union
        return obj & self.valid_pixels()

    def background_mask(self) -> np.ndarray:
        """(H, W) bool: valid pixels outside the object region (label 0 for label maps)."""
        if self.labels is not None:
            return self.labels == 0
        return self.valid_pixels() & ~self.object_region()

    def region_masks(self) -> np.ndarray:
        """(1 + K, H, W) bool in ``region_names`` order; void pixels are in no region.

        Background is every valid pixel outside the object region; parts may overlap.
        """
        if self.labels is not None:
            ids = np.arange(len(self.part_names) + 1, dtype=np.intp)
            return self.labels[None, :, :] == ids[:, None, None]
        valid = self.valid_pixels()
        return np.concatenate([self.background_mask()[None], self.part_masks & valid[None]])

    def region_label_maps(self) -> np.ndarray:
        """(1 + K, H, W) uint8: map r is 1 on region r, 0 elsewhere, 255 on void pixels.

        Lets a label-map scorer (two regions: 0 = rest, 1 = region) score overlapping regions
        one at a time: every map has the same valid pixels, so heat totals agree.
        """
        maps = self.region_masks().astype(np.uint8)
        maps[:, ~self.valid_pixels()] = IGNORE_INDEX
        return maps


def _check_plane(array: np.ndarray, hw: tuple[int, ...], name: str) -> None:
    if array.shape != hw:
        raise ValueError(f"{name} must be {hw}, got {array.shape}")
