"""The heatmap method contract: one base class does the work, each method overrides a hook.

``HeatmapMethod.explain(model, inputs, classes)`` runs ``attribute`` (the hook a family
implements) and ``finish`` (its scaling) and returns an ``Explanation`` that stays on the
model's device. Methods register themselves by decorator; ``make_method`` builds one by name.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from reportgen.errors import ReportgenError
from reportgen.models.loading import LoadedModel

METHODS: dict[str, type[HeatmapMethod]] = {}


def register_method(cls: type[HeatmapMethod]) -> type[HeatmapMethod]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    METHODS[cls.name] = cls
    return cls


# Wrappers (SESS): suffix -> factory(base class) -> class, selected as "<method>+<suffix>".
WRAPPERS: dict[str, Callable[[type[HeatmapMethod]], type[HeatmapMethod]]] = {}


def register_wrapper(suffix: str):
    """Decorator for a factory ``base class -> wrapped class``, selectable by name as
    ``<method>+<suffix>`` for every registered method (the factory should cache its classes)."""
    def register(factory):
        WRAPPERS[suffix] = factory
        return factory
    return register


def method_class(name: str) -> type[HeatmapMethod]:
    """The class of method ``name``: a registered one or ``<method>+<wrapper suffix>``."""
    if name in METHODS:
        return METHODS[name]
    base, plus, suffix = name.rpartition("+")
    if plus and suffix in WRAPPERS and base in METHODS:
        return WRAPPERS[suffix](METHODS[base])
    wrapped = "".join(f" (or <method>+{s})" for s in WRAPPERS)
    raise ValueError(f"unknown method {name!r}; choose from {', '.join(METHODS)}{wrapped}")


def is_method(name: str) -> bool:
    """Whether ``name`` selects a method (``method_class`` would find it)."""
    try:
        method_class(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class HeatmapBatch:
    """Heatmaps of one batch and what they explain (the scoring contract).

    ``heatmaps`` (N, h, w) float32 at the model's input resolution (CAMs in [0, 1] as
    pytorch-grad-cam scales them; attributions in [-1, 1]): a host array, or a tensor on the
    model's device while a run scores it there (``to_host`` makes the one host copy);
    ``predicted`` and ``target`` (N,) int64 class indices; ``probability`` (N,) float32 softmax
    probability of the predicted class (always host arrays: they are small).
    """

    heatmaps: Any
    predicted: np.ndarray
    probability: np.ndarray
    target: np.ndarray

    @property
    def on_device(self) -> bool:
        return isinstance(self.heatmaps, torch.Tensor)

    def to_host(self) -> HeatmapBatch:
        """The batch with host heatmaps (itself when they already are)."""
        if not self.on_device:
            return self
        return replace(self, heatmaps=self.heatmaps.detach().float().cpu().numpy())


@dataclass(frozen=True)
class Explanation:
    """On-device result: ``heatmaps`` (N, H, W) float32, ``logits`` (N, C), ``classes`` (N,)."""

    heatmaps: torch.Tensor
    logits: torch.Tensor
    classes: torch.Tensor

    def to_batch(self, on_device: bool = False) -> HeatmapBatch:
        """The batch with predictions on the host; heatmaps copied to the host too, unless
        ``on_device`` (they then stay a float32 tensor on the model's device)."""
        probability, predicted = torch.softmax(self.logits.float(), dim=1).max(dim=1)
        heat = self.heatmaps.float()
        return HeatmapBatch(
            heatmaps=heat if on_device else heat.cpu().numpy(),
            predicted=predicted.cpu().numpy().astype(np.int64),
            probability=probability.cpu().numpy().astype(np.float32),
            target=self.classes.cpu().numpy().astype(np.int64),
        )


class MethodUnavailable(ReportgenError):
    """A method needs an optional package that is not installed."""


class HeatmapMethod:
    """Base of every method: ``explain`` = ``attribute`` (hook) then ``finish`` (scaling).

    Subclasses set ``name``, ``defaults`` (their parameters; part of the cache key) and, when
    they need an optional package, ``requires`` (its import name) and ``extra``.
    """

    name: ClassVar[str]
    defaults: ClassVar[dict[str, Any]] = {}
    requires: ClassVar[str | None] = None
    extra: ClassVar[str] = "attr"

    def __init__(self, **params: Any):
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ValueError(f"{self.name}: unknown parameters {unknown}; it takes "
                             f"{sorted(self.defaults) or 'none'}")
        self.params: dict[str, Any] = {**self.defaults, **params}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    @classmethod
    def available(cls) -> bool:
        return cls.requires is None or importlib.util.find_spec(cls.requires) is not None

    def explain(self, model: LoadedModel, inputs: torch.Tensor,
                classes: Sequence[int] | np.ndarray | torch.Tensor | None = None
                ) -> Explanation:
        """Explain (N, 3, H, W) normalised ``inputs``; ``classes`` None = the predicted ones."""
        inputs = inputs.to(model.device)
        raw, logits, chosen = self.attribute(model, inputs, classes)
        return Explanation(self.finish(raw, tuple(inputs.shape[-2:])), logits.detach(), chosen)

    def attribute(self, model: LoadedModel, inputs: torch.Tensor, classes: Any
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Hook: -> (raw maps (N, h, w), logits (N, C), explained classes (N,))."""
        raise NotImplementedError

    def finish(self, raw: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Hook: raw maps (N, h, w) -> final heatmaps (N, H, W) float32."""
        raise NotImplementedError


def make_method(name: str, **params: Any) -> HeatmapMethod:
    """The registered method ``name`` with ``params`` (fails fast if its extra is missing)."""
    cls = method_class(name)
    if not cls.available():
        raise MethodUnavailable(f"method {name!r} needs the optional package {cls.requires!r}: "
                                f"pip install 'reportgen[{cls.extra}]'")
    return cls(**params)


def minmax_scale(maps: torch.Tensor) -> torch.Tensor:
    """(N, h, w) -> per map ``(x - min) / (1e-7 + max(x - min))``, pytorch-grad-cam's scaling."""
    flat = maps.flatten(1)
    shifted = flat - flat.min(dim=1, keepdim=True).values
    return (shifted / (1e-7 + shifted.max(dim=1, keepdim=True).values)).view_as(maps)


def resize_maps(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, h, w) -> (N, H, W) bilinear, half-pixel centres (cv2.INTER_LINEAR's convention)."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
