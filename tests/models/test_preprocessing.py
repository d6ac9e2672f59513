"""Scale rules and pixel scales in the preprocessing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from reportgen.errors import ModelError
from reportgen.models.loading import ModelSpec
from reportgen.models.preprocessing import Preprocessing


def test_the_efficientnet_lite_rule_maps_pixels_exactly():
    pre = Preprocessing.from_rule("(x - 127) / 128", size=4)
    image = np.zeros((4, 4, 3), np.uint8)
    image[0, 0] = (0, 127, 255)
    out = pre([image])
    assert out[0, :, 0, 0].tolist() == [-127 / 128, 0.0, 1.0]
    assert pre == Preprocessing(4, (127.0,) * 3, (128.0,) * 3, pixel_scale=1.0)


@pytest.mark.parametrize(("rule", "pixel", "expected"), [
    ("(x-127.5)/127.5", 255, 1.0),
    ("x / 255", 51, 0.2),
    ("x / 127.5 - 1", 0, -1.0),
    ("x/127.5-1", 255, 1.0),
])
def test_scale_rules_in_the_three_supported_forms(rule, pixel, expected):
    out = Preprocessing.from_rule(rule, size=2)([np.full((2, 2, 3), pixel, np.uint8)])
    torch.testing.assert_close(out, torch.full((1, 3, 2, 2), expected), rtol=0, atol=1e-6)


@pytest.mark.parametrize("rule", ["x * 2", "(x - 1) / 0", "log(x)", ""])
def test_unsupported_rules_are_rejected(rule):
    with pytest.raises(ValueError, match="unsupported scale rule"):
        Preprocessing.from_rule(rule)


def test_model_description_may_declare_a_rule_or_a_pixel_scale(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"name": "m", "arch": "partnet", "num_classes": 2,
                                "preprocessing": {"size": 64, "rule": "(x - 127) / 128"}}))
    assert ModelSpec.from_file(path).preprocessing == Preprocessing.from_rule(
        "(x - 127) / 128", 64)
    path.write_text(json.dumps({"name": "m", "arch": "partnet", "num_classes": 2,
                                "preprocessing": {"mean": [127, 127, 127],
                                                  "std": [128, 128, 128], "pixel_scale": 1}}))
    assert ModelSpec.from_file(path).preprocessing.pixel_scale == 1.0


def test_a_bad_rule_in_a_model_description_names_the_file(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"name": "m", "arch": "partnet", "num_classes": 2,
                                "preprocessing": {"rule": "x ** 2"}}))
    with pytest.raises(ModelError, match="unsupported scale rule"):
        ModelSpec.from_file(path)


def test_read_only_images_are_accepted_without_a_warning(recwarn):
    image = np.zeros((4, 4, 3), np.uint8)
    image.flags.writeable = False
    Preprocessing(size=4)([image])
    assert not [w for w in recwarn if "not writable" in str(w.message)]
