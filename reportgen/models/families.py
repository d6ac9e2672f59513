"""Per-architecture defaults: the layer to explain and how to turn its output into a map.

A CAM needs the target layer's output as (N, K, h, w) channels-first feature maps. CNNs give
that directly; a ViT gives (N, 1 + h*w, K) tokens and a Swin transformer (N, h, w, K)
channels-last maps, so those families come with a ``reshape_transform``. Both choices can be
overridden per model (``target_layer``, ``reshape``).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from reportgen.errors import ModelError
from reportgen.models.callables import import_callable

ReshapeTransform = Callable[[torch.Tensor], torch.Tensor]


def vit_tokens_to_maps(tokens: torch.Tensor) -> torch.Tensor:
    """(N, 1 + h*w, K) ViT tokens (class token first, square grid) -> (N, K, h, w)."""
    return _tokens_to_maps(tokens[:, 1:, :])


def tokens_to_maps(tokens: torch.Tensor) -> torch.Tensor:
    """(N, h*w, K) patch tokens without a class token (square grid) -> (N, K, h, w)."""
    return _tokens_to_maps(tokens)


def _tokens_to_maps(tokens: torch.Tensor) -> torch.Tensor:
    n, count, k = tokens.shape
    side = math.isqrt(count)
    if side * side != count:
        raise ModelError(f"cannot reshape {count} tokens into a square grid; set 'reshape'")
    return tokens.reshape(n, side, side, k).permute(0, 3, 1, 2)


def channels_last_to_first(maps: torch.Tensor) -> torch.Tensor:
    """(N, h, w, K) channels-last maps (torchvision Swin) -> (N, K, h, w)."""
    return maps.permute(0, 3, 1, 2)


RESHAPES: dict[str, ReshapeTransform | None] = {
    "none": None,
    "vit": vit_tokens_to_maps,
    "tokens": tokens_to_maps,
    "channels_last": channels_last_to_first,
}


@dataclass(frozen=True)
class Family:
    """An architecture family: recognised by name prefix or module class name."""

    name: str
    prefixes: tuple[str, ...]
    class_names: tuple[str, ...]
    target_layer: Callable[[nn.Module], str]
    reshape: str = "none"

    def matches(self, arch: str, module: nn.Module) -> bool:
        return (arch.lower().startswith(self.prefixes)
                or type(module).__name__ in self.class_names)


def _last_vit_block_norm(module: nn.Module) -> str:
    last = [name for name, _ in module.encoder.layers.named_children()][-1]
    return f"encoder.layers.{last}.ln_1"


def _constant(name: str) -> Callable[[nn.Module], str]:
    return lambda module: name


FAMILIES: tuple[Family, ...] = (
    Family("resnet", ("resnet", "resnext", "wide_resnet"), ("ResNet",), _constant("layer4")),
    Family("vgg", ("vgg",), ("VGG",), _constant("features")),
    Family("densenet", ("densenet",), ("DenseNet",), _constant("features")),
    Family("efficientnet", ("efficientnet_",), ("EfficientNet",), _constant("features")),
    Family("convnext", ("convnext",), ("ConvNeXt",), _constant("features")),
    Family("mobilenet", ("mobilenet",), ("MobileNetV2", "MobileNetV3"), _constant("features")),
    Family("regnet", ("regnet",), ("RegNet",), _constant("trunk_output")),
    Family("vit", ("vit_",), ("VisionTransformer",), _last_vit_block_norm, "vit"),
    Family("swin", ("swin_",), ("SwinTransformer",), _constant("norm"), "channels_last"),
)
# EfficientNet-Lite (lukemelas-style ``EfficientNet`` with ``_conv_head``): the head's BN.
LUKEMELAS_EFFICIENTNET = Family("efficientnet-lite", (), (), _constant("_bn1"))


def family_of(arch: str, module: nn.Module) -> Family | None:
    if hasattr(module, "_conv_head") and hasattr(module, "_bn1"):
        return LUKEMELAS_EFFICIENTNET
    return next((f for f in FAMILIES if f.matches(arch, module)), None)


def default_target_layer(arch: str, module: nn.Module) -> str:
    """The module's own ``default_target_layer``, its family's, or its last Conv2d."""
    if hasattr(module, "default_target_layer"):
        return module.default_target_layer
    family = family_of(arch, module)
    if family is not None:
        return family.target_layer(module)
    convs = [n for n, m in module.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ModelError(f"cannot choose a target layer for {arch!r}: set target_layer")
    return convs[-1]


def default_reshape(arch: str, module: nn.Module) -> str:
    family = family_of(arch, module)
    return family.reshape if family is not None else "none"


def resolve_reshape(name: str) -> ReshapeTransform | None:
    """A named reshape (``none``, ``vit``, ``tokens``, ``channels_last``) or ``module:callable``."""
    if ":" in name:
        return import_callable(name, "reshape")
    try:
        return RESHAPES[name]
    except KeyError:
        raise ModelError(f"unknown reshape {name!r}; choose from {', '.join(RESHAPES)} or "
                         "give 'module:callable'") from None


def resolve_layer(module: nn.Module, name: str, arch: str) -> nn.Module:
    """The submodule called ``name``; a wrong name lists the top-level layers and near misses."""
    try:
        return module.get_submodule(name)
    except AttributeError:
        top = [n for n, _ in module.named_children()]
        every = [n for n, _ in module.named_modules() if n]
        close = difflib.get_close_matches(name, every, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ModelError(f"{arch}: no layer named {name!r}; top-level layers are "
                         f"{', '.join(top)}{hint}") from None
