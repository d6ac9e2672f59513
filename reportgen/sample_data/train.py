"""Training PartNet on the part world (CPU, a few minutes)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from reportgen.models.partnet import PartNet
from reportgen.models.preprocessing import Preprocessing
from reportgen.sample_data.world import CLASSES, SIZE, WorldSample

PREPROCESSING = Preprocessing(size=SIZE, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


def to_tensors(samples: list[WorldSample]) -> tuple[torch.Tensor, torch.Tensor]:
    images = PREPROCESSING(np.stack([s.image for s in samples]))
    return images, torch.tensor([s.class_index for s in samples], dtype=torch.long)


def train_partnet(samples: list[WorldSample], seed: int, epochs: int = 12,
                  batch_size: int = 64, lr: float = 3e-3) -> PartNet:
    """Adam with a cosine schedule and horizontal flips; returns the model in eval mode."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    x, y = to_tensors(samples)
    model = PartNet(len(CLASSES))
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            xb = x[idx]
            flip = torch.rand(len(idx), generator=generator) < 0.5
            xb = torch.where(flip.view(-1, 1, 1, 1), xb.flip(-1), xb)
            loss = F.cross_entropy(model(xb), y[idx])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: PartNet, samples: list[WorldSample]) -> float:
    x, y = to_tensors(samples)
    return float((model(x).argmax(1) == y).float().mean())
