"""PartNet: the small CNN trained on the built-in sample (about 0.1 M parameters)."""

from __future__ import annotations

from torch import nn


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


class PartNet(nn.Module):
    """Four conv blocks, three 2x poolings, global average pooling, linear classifier.

    X
    resolution) is the natural Grad-CAM layer.
    """

    default_target_layer = "features"

    def __init__(self, num_classes: int, width: int = 32):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            *_block(3, w // 2), nn.MaxPool2d(2),
            *_block(w // 2, w), nn.MaxPool2d(2),
            *_block(w, 2 * w), nn.MaxPool2d(2),
            *_block(2 * w, 2 * w),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(2 * w, num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))
