"""Hooks that record a layer's output (and its gradient) during one forward pass.

The fast path for gradient CAMs lives here: parameters are frozen for the pass, so autograd
records nothing before the target layer; the layer's output is re-rooted as a fresh leaf, so
the backward pass runs only from the output back to that layer and computes no parameter
gradients. Everything stays on the model's device; hooks only keep references.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn

from reportgen.errors import ModelError
from reportgen.models.loading import LoadedModel


@contextlib.contextmanager
def frozen_parameters(module: nn.Module) -> Iterator[None]:
    """Temporarily set ``requires_grad=False`` on every parameter (restored on exit)."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


@contextlib.contextmanager
def replaced_output(layer: nn.Module, replace: Callable[[torch.Tensor], torch.Tensor]
                    ) -> Iterator[None]:
    """While active, ``layer``'s output ``o`` is replaced by ``replace(o)``."""
    handle = layer.register_forward_hook(lambda module, args, output: replace(output))
    try:
        yield
    finally:
        handle.remove()


class LayerCapture:
    """Context manager recording ``model.target_layer``'s output during ``forward``.

    With ``gradients=True`` (the fast path), ``gradients(scores)`` returns d(sum of scores) /
    d(layer output) after one backward pass that stops at the layer. ``activations`` and
    gradients are reshaped to (N, K, h, w) by the model's ``reshape_transform``.
    """

    def __init__(self, model: LoadedModel, gradients: bool = False):
        self.model = model
        self.with_gradients = gradients
        self._raw: torch.Tensor | None = None
        self._calls = 0
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> LayerCapture:
        if self.with_gradients:
            self._stack.enter_context(frozen_parameters(self.model.module))
        self._stack.enter_context(replaced_output(self.model.target_layer, self._record))
        return self

    def __exit__(self, *exc_info) -> None:
        self._stack.close()
        self._raw = None

    def _record(self, output: torch.Tensor) -> torch.Tensor:
        if not isinstance(output, torch.Tensor):
            raise ModelError(f"{self.model.spec.arch}: target layer "
                             f"{self.model.target_layer_name!r} returns "
                             f"{type(output).__name__}, not a tensor; choose another layer")
        self._calls += 1
        if not self.with_gradients:
            self._raw = output.detach()
            return output
        self._raw = output.detach().requires_grad_(True)
        return self._raw.clone()  # a non-leaf, so later in-place ops (ReLU) stay legal

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Run the model on (N, 3, H, W) ``inputs``; returns (N, C) logits."""
        self._calls = 0
        with torch.set_grad_enabled(self.with_gradients):
            logits = self.model.module(inputs)
        if self._calls != 1:
            raise ModelError(f"{self.model.spec.arch}: target layer "
                             f"{self.model.target_layer_name!r} ran {self._calls} times in one "
                             "forward pass; choose a layer that runs exactly once")
        return logits

    def _maps(self, tensor: torch.Tensor) -> torch.Tensor:
        transform = self.model.reshape_transform
        maps = transform(tensor) if transform is not None else tensor
        if maps.dim() != 4:
            raise ModelError(f"{self.model.spec.arch}: target layer "
                             f"{self.model.target_layer_name!r} gives shape "
                             f"{tuple(tensor.shape)}, not (N, K, h, w) maps; set 'reshape' "
                             "(vit, tokens, channels_last) for transformer layers")
        return maps

    @property
    def raw(self) -> torch.Tensor:
        """The layer's output as the model produced it (detached)."""
        if self._raw is None:
            raise RuntimeError("no forward pass recorded")
        return self._raw.detach()

    @property
    def activations(self) -> torch.Tensor:
        """(N, K, h, w) layer output, detached."""
        return self._maps(self.raw)

    def gradients(self, scores: torch.Tensor) -> torch.Tensor:
        """(N, K, h, w) gradient of ``scores.sum()`` with respect to the layer output."""
        if not self.with_gradients:
            raise RuntimeError("LayerCapture(gradients=False) records no graph")
        if not scores.requires_grad:
            raise ModelError(f"{self.model.spec.arch}: the output does not depend on target "
                             f"layer {self.model.target_layer_name!r}; choose another layer")
        (grad,) = torch.autograd.grad(scores.sum(), self._raw)
        return self._maps(grad)
