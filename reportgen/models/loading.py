"""Build a model from a spec, load its weights from a local file, resolve its target layer.

Nothing is ever downloaded: weights come from a file, or the model keeps random weights
(``weights: null``), which is only useful for tests and benchmarks.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from reportgen.errors import ModelError
from reportgen.models.partnet import PartNet
from reportgen.models.preprocessing import Preprocessing


@dataclass(frozen=True)
class ModelSpec:
    """What to load. ``arch`` is ``partnet`` or a torchvision model name (``resnet18`` ...)."""

    name: str
    arch: str
    num_classes: int
    weights: Path | None = None
    target_layer: str | None = None
    preprocessing: Preprocessing = field(default_factory=Preprocessing)

    @classmethod
    def from_file(cls, path: str | Path) -> ModelSpec:
        """Read a model description JSON (weights path relative to the file)."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            pre = raw.get("preprocessing", {})
            weights = raw.get("weights")
            return cls(
                name=str(raw["name"]),
                arch=str(raw["arch"]),
                num_classes=int(raw["num_classes"]),
                weights=(path.parent / weights) if weights else None,
                target_layer=raw.get("target_layer"),
                preprocessing=Preprocessing(
                    size=int(pre.get("size", 224)),
                    mean=tuple(pre.get("mean", Preprocessing.mean)),
                    std=tuple(pre.get("std", Preprocessing.std)),
                ),
            )
        except FileNotFoundError:
            raise ModelError(f"{path}: model description not found") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelError(f"{path}: invalid model description ({exc!r}); expected a JSON "
                             "object with name, arch, num_classes, weights") from None


@dataclass
class LoadedModel:
    """A model ready to explain: in eval mode, on ``device``, with its target layer."""

    spec: ModelSpec
    module: nn.Module
    target_layer: nn.Module
    device: torch.device

    @property
    def name(self) -> str:
        return self.spec.name


def build_module(arch: str, num_classes: int) -> nn.Module:
    if arch == "partnet":
        return PartNet(num_classes)
    import torchvision

    try:
        return torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
    except ValueError:
        raise ModelError(f"unknown architecture {arch!r} (use 'partnet' or a torchvision "
                         "model name such as 'resnet18')") from None


def default_target_layer(arch: str, module: nn.Module) -> str:
    """The last convolutional block of the architecture family."""
    if hasattr(module, "default_target_layer"):
        return module.default_target_layer
    arch = arch.lower()
    if arch.startswith("resnet") or arch.startswith("resnext") or arch.startswith("wide_resnet"):
        return "layer4"
    if arch.startswith(("vgg", "densenet", "efficientnet", "convnext", "mobilenet")):
        return "features"
    convs = [n for n, m in module.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ModelError(f"cannot choose a target layer for {arch!r}: set target_layer")
    return convs[-1]


def resolve_layer(module: nn.Module, name: str, arch: str) -> nn.Module:
    try:
        return module.get_submodule(name)
    except AttributeError:
        names = [n for n, _ in module.named_children()]
        raise ModelError(f"{arch}: no layer named {name!r}; top-level layers are "
                         f"{', '.join(names)}") from None


def load_model(spec: ModelSpec, device: str | torch.device = "cpu") -> LoadedModel:
    device = torch.device(device)
    module = build_module(spec.arch, spec.num_classes)
    if spec.weights is not None:
        try:
            state = torch.load(spec.weights, map_location="cpu", weights_only=True)
            module.load_state_dict(state)
        except FileNotFoundError:
            raise ModelError(f"{spec.weights}: weights file not found") from None
        except pickle.UnpicklingError:
            raise ModelError(f"{spec.weights}: not a state_dict file (save weights with "
                             "torch.save(model.state_dict(), path), not the whole model)"
                             ) from None
        except (RuntimeError, OSError, ValueError, EOFError, AttributeError) as exc:
            detail = " ".join(str(exc).split())[:400]
            raise ModelError(f"{spec.weights}: cannot load weights into {spec.arch} ({detail})"
                             ) from None
    module.eval().to(device)
    layer_name = spec.target_layer or default_target_layer(spec.arch, module)
    return LoadedModel(spec, module, resolve_layer(module, layer_name, spec.arch), device)
