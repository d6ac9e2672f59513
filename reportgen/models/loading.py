"""Build a model from a spec, load its weights offline, resolve its target layer.

Nothing is ever downloaded. Weights come from a state_dict file (``weights``), from
torchvision's local cache (``torchvision_weights``, e.g. ``IMAGENET1K_V1``: the file must
already be in ``$TORCH_HOME/hub/checkpoints``), from a user callable that builds a trained
model (``arch: "package.module:callable"``), or the model keeps random weights.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import pickle
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reportgen.errors import ModelError
from reportgen.models.callables import import_callable
from reportgen.models.families import (
    ReshapeTransform,
    default_reshape,
    default_target_layer,
    resolve_layer,
    resolve_reshape,
)
from reportgen.models.partnet import PartNet
from reportgen.models.preprocessing import Preprocessing

__all__ = ["LoadedModel", "ModelSpec", "build_module", "default_target_layer", "import_callable",
           "load_model", "resolve_layer"]


@dataclass(frozen=True)
class ModelSpec:
    """What to load.

    ``arch``: ``partnet``, a torchvision model name (``resnet50``, ``vit_b_16`` ...) or
    ``module:callable`` returning an ``nn.Module`` (called with ``num_classes=`` when it takes
    that argument). ``target_layer`` and ``reshape`` (``none``, ``vit``, ``tokens``,
    ``channels_last`` or ``module:callable``) default to the architecture family's.
    ``class_names``: the outputs' names when the model has its own label set (ImageNet);
    None means the outputs are the dataset's classes in order.
    """

    name: str
    arch: str
    num_classes: int
    weights: Path | None = None
    target_layer: str | None = None
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    torchvision_weights: str | None = None
    reshape: str | None = None
    #: Names of the outputs in output order, when they are not the dataset's classes.
    class_names: tuple[str, ...] | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> ModelSpec:
        """Read a model description JSON (weights path relative to the file).

        ``preprocessing`` holds ``size`` and either ``mean``/``std`` (with an optional
        ``pixel_scale``) or a scale ``rule`` such as ``"(x - 127) / 128"``.
        """
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            weights = raw.get("weights")
            return cls(
                name=str(raw["name"]),
                arch=str(raw["arch"]),
                num_classes=int(raw["num_classes"]),
                weights=(path.parent / weights) if weights else None,
                target_layer=raw.get("target_layer"),
                preprocessing=preprocessing_from_dict(raw.get("preprocessing", {})),
                torchvision_weights=raw.get("torchvision_weights"),
                reshape=raw.get("reshape"),
                class_names=tuple(raw["class_names"]) if raw.get("class_names") else None,
            )
        except FileNotFoundError:
            raise ModelError(f"{path}: model description not found") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelError(f"{path}: invalid model description ({exc!r}); expected a JSON "
                             "object with name, arch, num_classes, weights") from None


def preprocessing_from_dict(raw: dict[str, Any]) -> Preprocessing:
    """``{"size", "mean", "std", "pixel_scale"}`` or ``{"size", "rule"}`` -> Preprocessing."""
    size = int(raw.get("size", 224))
    if "rule" in raw:
        return Preprocessing.from_rule(raw["rule"], size)
    return Preprocessing(size=size, mean=tuple(raw.get("mean", Preprocessing.mean)),
                         std=tuple(raw.get("std", Preprocessing.std)),
                         pixel_scale=float(raw.get("pixel_scale", 255.0)))


@dataclass
class LoadedModel:
    """A model ready to explain: in eval mode, on ``device``, with its target layer.

    ``reshape_transform`` turns the target layer's output into (N, K, h, w) maps (None: it
    already is).
    """

    spec: ModelSpec
    module: nn.Module
    target_layer: nn.Module
    device: torch.device
    target_layer_name: str = ""
    reshape_transform: ReshapeTransform | None = None
    reshape_name: str = "none"

    @property
    def name(self) -> str:
        return self.spec.name

    @cached_property
    def weights_digest(self) -> str:
        """SHA-256 of the parameters and buffers (names, dtypes, shapes, bytes)."""
        digest = hashlib.sha256(type(self.module).__qualname__.encode())
        for name, tensor in self.module.state_dict().items():
            t = tensor.detach().to("cpu").contiguous()
            digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()


def _build_from_callable(arch: str, num_classes: int) -> nn.Module:
    builder = import_callable(arch)
    try:
        params = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        params = {}
    module = builder(num_classes=num_classes) if "num_classes" in params else builder()
    if not isinstance(module, nn.Module):
        raise ModelError(f"arch {arch!r} returned {type(module).__name__}, not a torch nn.Module")
    return module


def build_module(arch: str, num_classes: int, torchvision_weights: str | None = None
                 ) -> nn.Module:
    """The architecture with random weights (or torchvision's cached ``torchvision_weights``)."""
    if ":" in arch:
        if torchvision_weights:
            raise ModelError(f"{arch}: torchvision_weights only applies to torchvision names")
        return _build_from_callable(arch, num_classes)
    if arch == "partnet":
        if torchvision_weights:
            raise ModelError("partnet: torchvision_weights only applies to torchvision names")
        return PartNet(num_classes)
    import torchvision

    if torchvision_weights:
        from reportgen.models.torchvision_cache import cached_weights

        weights = cached_weights(arch, torchvision_weights, num_classes)
        return torchvision.models.get_model(arch, weights=weights)
    try:
        return torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
    except ValueError:
        raise ModelError(f"unknown architecture {arch!r} (use 'partnet', a torchvision model "
                         "name such as 'resnet18', or 'module:callable')") from None


def _load_state_dict(module: nn.Module, spec: ModelSpec) -> None:
    try:
        with warnings.catch_warnings():
            # torch warns about any pickle protocol but its own before refusing a plain pickle
            # file; the ModelError below says what is wrong, the raw warning only confuses
            warnings.filterwarnings("ignore", message=".*pickle protocol", category=UserWarning)
            state = torch.load(spec.weights, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"{spec.weights}: weights file not found") from None
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL (\S+)", str(exc))
        holds = f" (it refers to {found[1]}, which safe loading refuses)" if found else ""
        raise ModelError(f"{spec.weights}: not a state_dict file{holds}; save weights with "
                         "torch.save(model.state_dict(), path), not the whole model, and not "
                         "with pickle.dump") from None
    except (RuntimeError, OSError, ValueError, EOFError, AttributeError) as exc:
        raise ModelError(f"{spec.weights}: unreadable weights file ({_clip(str(exc))})") from None
    try:
        module.load_state_dict(state)
    except (RuntimeError, ValueError, AttributeError, TypeError) as exc:
        # torch's message lists every key and would be cut mid-word: say it in one line
        why = state_dict_mismatch(module, state) or _clip(str(exc))
        raise ModelError(f"{spec.weights}: cannot load weights into {spec.arch}: {why}"
                         ) from None


def state_dict_mismatch(module: nn.Module, state: Any, shown: int = 3) -> str | None:
    """Why ``state`` does not fit ``module`` in one line (None when it fits): how many of the
    model's entries the file lacks, how many it has that the model lacks, how many differ in
    shape, naming the first ``shown`` of each."""
    if not isinstance(state, Mapping):
        return f"the file holds a {type(state).__name__}, not a state_dict (a mapping of names "\
               "to tensors)"
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unused = [k for k in state if k not in expected]
    reshaped = [f"{k} (file {_shape(state[k])}, model {_shape(expected[k])})"
                for k in expected if k in state and _shape(state[k]) != _shape(expected[k])]
    parts = []
    if missing:
        parts.append(f"{len(missing)} of the model's {len(expected)} entries are not in the "
                     f"file ({_first(missing, shown)})")
    if unused:
        parts.append(f"{len(unused)} entries of the file are not in the model "
                     f"({_first(unused, shown)})")
    if reshaped:
        parts.append(f"{len(reshaped)} have another shape ({_first(reshaped, shown)})")
    if not parts:
        return None
    hint = ("; weights for another architecture?" if missing and unused else
            "; another num_classes?" if reshaped else "")
    return "; ".join(parts) + hint


def _shape(value: Any) -> str:
    """``4x64`` for a (4, 64) tensor, ``scalar``, or the type name of a non-tensor."""
    shape = getattr(value, "shape", None)
    if shape is None:
        return type(value).__name__
    return "x".join(str(n) for n in shape) or "scalar"


def _first(names: list[str], shown: int) -> str:
    more = f", ... {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _clip(text: str, limit: int = 300) -> str:
    """One line of at most about ``limit`` characters, cut at a word boundary."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " ..."


def load_model(spec: ModelSpec, device: str | torch.device = "cpu") -> LoadedModel:
    """Build, load weights, move to ``device``, eval mode, resolve target layer and reshape."""
    device = torch.device(device)
    if spec.weights is not None and spec.torchvision_weights:
        raise ModelError(f"model {spec.name}: give either weights or torchvision_weights")
    module = build_module(spec.arch, spec.num_classes, spec.torchvision_weights)
    if spec.weights is not None:
        _load_state_dict(module, spec)
    module.eval().to(device)
    return prepare_module(module, spec, device)


def prepare_module(module: nn.Module, spec: ModelSpec, device: torch.device | str = "cpu"
                   ) -> LoadedModel:
    """Wrap an already built ``module`` (moved to ``device``, eval mode) as a LoadedModel."""
    device = torch.device(device)
    module.eval().to(device)
    layer_name = spec.target_layer or default_target_layer(spec.arch, module)
    reshape_name = spec.reshape or default_reshape(spec.arch, module)
    return LoadedModel(spec, module, resolve_layer(module, layer_name, spec.arch), device,
                       layer_name, resolve_reshape(reshape_name), reshape_name)
