"""What a heatmap explains: one class per sample, scored by a target callable.

Separate from how it is explained: every method asks a target for ``logits -> (N,) scores``.
The class is the predicted one (argmax of the clean logits) unless classes are given, e.g.
the ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

TARGET_MODES = ("predicted", "ground_truth")


class ClassScore:
    """Target callable: logits (N, C) -> (N,) the logit of ``classes[i]`` in row i.

    ``classes`` is (N,) int64 on the logits' device.
    """

    def __init__(self, classes: torch.Tensor):
        self.classes = classes

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.gather(1, self.classes.view(-1, 1)).squeeze(1)

    def of(self, index: int, count: int) -> ClassScore:
        """Sample ``index``'s target for ``count`` perturbed copies of that sample."""
        return ClassScore(self.classes[index].expand(count))


def choose_classes(logits: torch.Tensor,
                   classes: Sequence[int] | np.ndarray | torch.Tensor | None) -> torch.Tensor:
    """(N,) int64 classes to explain: ``classes`` if given, else the predicted ones."""
    if classes is None:
        return logits.argmax(dim=1)
    if isinstance(classes, torch.Tensor):
        chosen = classes.to(logits.device, torch.int64)
    else:
        chosen = torch.as_tensor(np.asarray(classes, dtype=np.int64), device=logits.device)
    if chosen.shape != logits.shape[:1]:
        raise ValueError(f"expected {logits.shape[0]} target classes, got {tuple(chosen.shape)}")
    if len(chosen) and (chosen.min() < 0 or chosen.max() >= logits.shape[1]):
        raise ValueError(f"target classes must lie in [0, {logits.shape[1]}), got "
                         f"{chosen.tolist()}")
    return chosen
