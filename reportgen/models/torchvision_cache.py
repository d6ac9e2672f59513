"""torchvision's pretrained weights, only when already in the local cache (never downloaded)."""

from __future__ import annotations

from pathlib import Path

import torch

from reportgen.errors import ModelError


def cached_weights_path(arch: str, name: str) -> tuple[object, Path]:
    """(weights enum member, where torchvision would cache its file) for ``arch``/``name``."""
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(arch)
    except ValueError:
        raise ModelError(f"unknown architecture {arch!r}") from None
    weights = getattr(enum, name, None)
    if weights is None:
        choices = ", ".join(["DEFAULT", *(w.name for w in enum)])
        raise ModelError(f"{arch}: no torchvision weights named {name!r}; choose from {choices}")
    filename = Path(weights.url).name
    return weights, Path(torch.hub.get_dir()) / "checkpoints" / filename


def cached_weights(arch: str, name: str, num_classes: int) -> object:
    """The weights enum member, after checking its file is cached and the class count fits."""
    weights, path = cached_weights_path(arch, name)
    if not path.is_file():
        raise ModelError(f"{arch}: torchvision weights {name} are not in the local cache "
                         f"({path}); reportgen never downloads: copy the file there or give "
                         "a weights file")
    categories = len(weights.meta.get("categories") or [])
    if categories and categories != num_classes:
        raise ModelError(f"{arch}: torchvision weights {name} have {categories} classes, the "
                         f"model spec says {num_classes}")
    return weights
