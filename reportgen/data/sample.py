"""The ``Sample`` that flows from a dataset adapter into the heatmap engine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BACKGROUND = "background"
IGNORE_INDEX = 255


@dataclass(frozen=True)
class Sample:
    """One object to explain.

    ``image`` is (H, W, 3) uint8 RGB. ``labels`` is an (H, W) integer label map at the image's
    resolution: 0 = background, i = ``part_names[i - 1]``, 255 = ignore (void). ``part_names``
    are the dataset's full part vocabulary, so label ids mean the same in every sample.
    """

    image_id: str
    image: np.ndarray
    labels: np.ndarray
    part_names: tuple[str, ...]
    class_index: int
    class_name: str
    object_id: int = 0
    source: str = ""

    @property
    def region_names(self) -> tuple[str, ...]:
        """Column order of region scores: background first, then the parts."""
        return (BACKGROUND, *self.part_names)
