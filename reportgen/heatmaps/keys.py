"""Content-hash keys for cached heatmaps.

A heatmap is stored under SHA-256 of: the model's weights (all parameters and buffers), its
architecture, target layer and reshape, the method and its parameters, the preprocessing,
the image's decoded pixels, the explained class (or "predicted") and the code version. File
paths, the model's display name and the output folder are not part of it, so renaming a
run folder keeps its cache valid; changing any weight or parameter invalidates it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import numpy as np

import reportgen
from reportgen.heatmaps.base import HeatmapMethod
from reportgen.models.loading import LoadedModel

# Bump when a change in this package changes heatmap values (invalidates every cache).
ENGINE_VERSION = 1


def image_digest(image: np.ndarray) -> str:
    """SHA-256 of an image's pixels, dtype and shape."""
    pixels = np.ascontiguousarray(image)
    digest = hashlib.sha256(f"{pixels.dtype.str}|{pixels.shape}|".encode())
    digest.update(pixels.data)
    return digest.hexdigest()


def context_digest(model: LoadedModel, method: HeatmapMethod) -> str:
    """SHA-256 of everything but the image and class that determines a heatmap."""
    fields = {
        "weights": model.weights_digest,
        "arch": model.spec.arch,
        "target_layer": model.target_layer_name,
        "reshape": model.reshape_name,
        "method": method.name,
        "params": method.params,
        "preprocessing": asdict(model.spec.preprocessing),
        "code": [reportgen.__version__, ENGINE_VERSION],
    }
    text = json.dumps(fields, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def heatmap_key(context: str, image: str, target_class: int | None) -> str:
    """Key of one heatmap: context digest, image digest, explained class (None = predicted)."""
    target = "predicted" if target_class is None else str(int(target_class))
    return hashlib.sha256(f"{context}|{image}|{target}".encode()).hexdigest()
