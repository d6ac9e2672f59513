"""The batch entry point: explain normalised inputs with a method, get host arrays back."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from reportgen.heatmaps import (  # noqa: F401 (register their methods)
    attribution,
    fullgrad,
    igos,
    layer_cams,
    perturbation,
    sag,
    sess,
)
from reportgen.heatmaps.base import METHODS, HeatmapBatch, HeatmapMethod, make_method
from reportgen.models.loading import LoadedModel

__all__ = ["METHODS", "HeatmapBatch", "compute_heatmaps"]


def compute_heatmaps(model: LoadedModel, inputs: torch.Tensor,
                     method: str | HeatmapMethod = "gradcam",
                     targets: Sequence[int] | np.ndarray | None = None) -> HeatmapBatch:
    """Explain ``inputs`` (N, 3, S, S) normalised with ``method`` (a name or an instance).

    ``targets`` (N,) class indices to explain (e.g. the ground truth); ``None`` explains the
    predicted class. Heatmaps are (N, S, S) float32; see ``HeatmapBatch``.
    """
    if isinstance(method, str):
        method = make_method(method)
    return method.explain(model, inputs, targets).to_batch()
