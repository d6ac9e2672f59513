"""Model descriptions, building and loading models offline, target layers, preprocessing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from reportgen.errors import ModelError
from reportgen.models.loading import LoadedModel, ModelSpec, load_model
from reportgen.models.partnet import PartNet
from reportgen.models.preprocessing import Preprocessing

RESNET_TOP_LEVEL = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
                    "avgpool", "fc")


def _write_json(path: Path, value) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def resnet18() -> LoadedModel:
    torch.manual_seed(0)
    return load_model(ModelSpec("tiny-resnet", "resnet18", 3))


# ---------------------------------------------------------------- ModelSpec.from_file


def test_model_spec_from_file_reads_every_field(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    path = _write_json(folder / "net.json", {
        "name": "net", "arch": "partnet", "num_classes": 4, "weights": "net.pt",
        "target_layer": "features.3",
        "preprocessing": {"size": 96, "mean": [0.5, 0.4, 0.3], "std": [0.25, 0.2, 0.1]}})
    spec = ModelSpec.from_file(path)
    assert spec.name == "net"
    assert spec.arch == "partnet"
    assert spec.num_classes == 4
    assert spec.weights == folder / "net.pt"  # relative to the description file
    assert spec.target_layer == "features.3"
    assert spec.preprocessing == Preprocessing(96, (0.5, 0.4, 0.3), (0.25, 0.2, 0.1))


def test_model_spec_weights_path_is_relative_to_the_file_folder(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    path = _write_json(tmp_path / "a" / "b" / "m.json", {
        "name": "m", "arch": "partnet", "num_classes": 2, "weights": "../w/m.pt"})
    spec = ModelSpec.from_file(path)
    assert spec.weights == tmp_path / "a" / "b" / ".." / "w" / "m.pt"


def test_model_spec_defaults_without_weights_or_preprocessing(tmp_path):
    path = _write_json(tmp_path / "m.json", {"name": "m", "arch": "resnet18", "num_classes": 3})
    spec = ModelSpec.from_file(path)
    assert spec.weights is None
    assert spec.target_layer is None
    assert spec.preprocessing == Preprocessing()
    assert spec.preprocessing.size == 224


def test_missing_model_description_raises_model_error_naming_the_file(tmp_path):
    path = tmp_path / "absent.json"
    with pytest.raises(ModelError) as info:
        ModelSpec.from_file(path)
    assert str(path) in str(info.value) and "not found" in str(info.value)


@pytest.mark.parametrize("text", [
    '{"name": "m", "arch": ',  # invalid JSON
    '{"arch": "partnet", "num_classes": 2}',  # no name
    '{"name": "m", "arch": "partnet", "num_classes": "four"}',
    '{"name": "m", "arch": "partnet", "num_classes": 2, "preprocessing": {"mean": 0.5}}',
], ids=["invalid-json", "missing-name", "bad-num-classes", "scalar-mean"])
def test_malformed_model_description_raises_model_error_naming_the_file(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelError) as info:
        ModelSpec.from_file(path)
    assert str(path) in str(info.value)


def test_model_description_that_is_not_a_json_object_raises_model_error(tmp_path):
    path = _write_json(tmp_path / "list.json", ["partnet", 4])
    with pytest.raises(ModelError) as info:
        ModelSpec.from_file(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------- load_model


def test_load_partnet_without_weights_is_in_eval_mode_with_features_layer():
    loaded = load_model(ModelSpec("p", "partnet", 4))
    assert isinstance(loaded.module, PartNet)
    assert loaded.name == "p"
    assert not loaded.module.training
    assert not any(m.training for m in loaded.module.modules())
    assert loaded.target_layer is loaded.module.features
    assert loaded.device == torch.device("cpu")
    out = loaded.module(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, 4)


def test_load_torchvision_resnet_resolves_layer4_and_eval_mode(resnet18):
    assert not resnet18.module.training
    assert resnet18.target_layer is resnet18.module.layer4
    assert resnet18.module.fc.out_features == 3
    with torch.no_grad():
        assert resnet18.module(torch.zeros(1, 3, 32, 32)).shape == (1, 3)


def test_explicit_nested_target_layer_is_resolved():
    loaded = load_model(ModelSpec("p", "partnet", 4, target_layer="features.4"))
    assert loaded.target_layer is loaded.module.features[4]
    assert isinstance(loaded.target_layer, nn.Conv2d)


def test_wrong_target_layer_raises_model_error_listing_top_level_layers():
    with pytest.raises(ModelError) as info:
        load_model(ModelSpec("r", "resnet18", 3, target_layer="layer9"))
    message = str(info.value)
    assert "'layer9'" in message
    assert ", ".join(RESNET_TOP_LEVEL) in message
    assert "\n" not in message


def test_wrong_target_layer_on_partnet_lists_its_layers():
    with pytest.raises(ModelError) as info:
        load_model(ModelSpec("p", "partnet", 4, target_layer="backbone"))
    assert "features, pool, classifier" in str(info.value)


def test_unknown_architecture_raises_model_error():
    with pytest.raises(ModelError) as info:
        load_model(ModelSpec("x", "not_a_real_net", 3))
    assert "'not_a_real_net'" in str(info.value)


def test_weights_are_loaded_from_the_file(tmp_path):
    torch.manual_seed(1)
    source = PartNet(4)
    torch.save(source.state_dict(), tmp_path / "p.pt")
    loaded = load_model(ModelSpec("p", "partnet", 4, weights=tmp_path / "p.pt"))
    for name, value in source.state_dict().items():
        torch.testing.assert_close(loaded.module.state_dict()[name], value, rtol=0, atol=0)


def test_weights_file_for_the_wrong_architecture_raises_model_error_naming_the_file(tmp_path):
    weights = tmp_path / "partnet.pt"
    torch.save(PartNet(3).state_dict(), weights)
    with pytest.raises(ModelError) as info:
        load_model(ModelSpec("r", "resnet18", 3, weights=weights))
    message = str(info.value)
    assert str(weights) in message and "resnet18" in message
    assert "\n" not in message


def test_weights_with_the_wrong_number_of_classes_raise_model_error(tmp_path):
    weights = tmp_path / "p4.pt"
    torch.save(PartNet(4).state_dict(), weights)
    with pytest.raises(ModelError) as info:
        load_model(ModelSpec("p", "partnet", 3, weights=weights))
    assert str(weights) in str(info.value)


def test_wrong_architecture_error_counts_and_names_the_keys_in_one_uncut_line(tmp_path):
    weights = tmp_path / "partnet.pt"
    torch.save(PartNet(3).state_dict(), weights)
    with pytest.raises(ModelError) as info:
        load_model(ModelSpec("r", "resnet18", 3, weights=weights))
    message = str(info.value)
    expected = len(load_model(ModelSpec("r", "resnet18", 3)).module.state_dict())
    assert f"{expected} of the model's {expected} entries are not in the file" in message
    assert "(conv1.weight, bn1.weight, bn1.bias, ..." in message
    assert "entries of the file are not in the model (features.0.weight" in message
    assert message.endswith("weights for another architecture?")
    assert "\n" not in message and len(message) < 400 + len(str(weights))


def test_wrong_number_of_classes_error_gives_both_shapes(tmp_path):
    weights = tmp_path / "p4.pt"
    torch.save(PartNet(4).state_dict(), weights)
    with pytest.raises(ModelError, match=r"classifier\.weight \(file 4x64, model 3x64\)"):
        load_model(ModelSpec("p", "partnet", 3, weights=weights))


def test_weights_saved_with_pickle_raise_model_error_without_a_raw_torch_warning(tmp_path,
                                                                               recwarn):
    import pickle

    weights = tmp_path / "pickled.pt"
    weights.write_bytes(pickle.dumps(PartNet(4).state_dict(), protocol=4))
    with pytest.raises(ModelError, match="not a state_dict file") as info:
        load_model(ModelSpec("p", "partnet", 4, weights=weights))
    assert "pickle.dump" in str(info.value)
    assert not [w for w in recwarn if "pickle" in str(w.message)], [str(w.message)
                                                                    for w in recwarn]


def test_missing_weights_file_raises_model_error_naming_it(tmp_path):
    weights = tmp_path / "nowhere.pt"
    with pytest.raises(ModelError) as info:
        load_model(ModelSpec("p", "partnet", 4, weights=weights))
    assert str(weights) in str(info.value) and "not found" in str(info.value)


def test_corrupt_weights_file_raises_model_error_naming_it(tmp_path):
    weights = tmp_path / "junk.pt"
    weights.write_bytes(b"definitely not a torch checkpoint" * 4)
    with pytest.raises(ModelError) as info:
        load_model(ModelSpec("p", "partnet", 4, weights=weights))
    assert str(weights) in str(info.value)


def test_whole_pickled_model_instead_of_state_dict_raises_model_error(tmp_path):
    weights = tmp_path / "whole.pt"
    torch.save(PartNet(4), weights)  # a pickled module, refused by weights_only loading
    with pytest.raises(ModelError) as info:
        load_model(ModelSpec("p", "partnet", 4, weights=weights))
    assert str(weights) in str(info.value)


# ---------------------------------------------------------------- preprocessing


def test_preprocessing_output_shape_and_dtype():
    pre = Preprocessing(size=24)
    images = np.random.default_rng(0).integers(0, 256, (5, 24, 24, 3), dtype=np.uint8)
    out = pre(images)
    assert out.shape == (5, 3, 24, 24)
    assert out.dtype == torch.float32


def test_preprocessing_applies_mean_and_std_per_channel_exactly():
    pre = Preprocessing(size=8, mean=(0.5, 0.25, 0.2), std=(0.25, 0.5, 0.1))
    image = np.empty((8, 8, 3), np.uint8)
    image[...] = (255, 0, 51)  # 1.0, 0.0, 0.2 in [0, 1] units
    out = pre([image])
    assert torch.equal(out[0, 0], torch.full((8, 8), 2.0))
    assert torch.equal(out[0, 1], torch.full((8, 8), -0.5))
    assert torch.equal(out[0, 2], torch.zeros(8, 8))


def test_preprocessing_default_is_imagenet_normalisation():
    image = np.zeros((4, 4, 3), np.uint8)
    out = Preprocessing(size=4)([image])
    expected = [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225]
    np.testing.assert_allclose(out[0, :, 0, 0].numpy(), expected, rtol=1e-6)


def test_preprocessing_resizes_mixed_size_inputs():
    pre = Preprocessing(size=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    images = [np.full((40, 30, 3), 255, np.uint8), np.zeros((7, 9, 3), np.uint8),
              np.full((16, 16, 3), 153, np.uint8)]
    out = pre(images)
    assert out.shape == (3, 3, 16, 16)
    assert out.dtype == torch.float32
    # a constant image stays constant through the resize: (v / 255 - 0.5) / 0.25
    torch.testing.assert_close(out[0], torch.full((3, 16, 16), 2.0), rtol=0, atol=1e-5)
    torch.testing.assert_close(out[1], torch.full((3, 16, 16), -2.0), rtol=0, atol=1e-5)
    torch.testing.assert_close(out[2], torch.full((3, 16, 16), 0.4), rtol=0, atol=1e-5)


def test_preprocessing_keeps_spatial_layout_channels_first():
    image = np.zeros((4, 4, 3), np.uint8)
    image[0, 3] = (255, 0, 0)  # top right, red
    out = Preprocessing(size=4, mean=(0, 0, 0), std=(1, 1, 1))([image])
    assert out[0, 0, 0, 3] == 1.0
    assert out[0, 0].sum() == 1.0 and out[0, 1:].sum() == 0.0


# ---------------------------------------------------------------- user models (module:callable)

USER_MODULE = '''
import torch
from reportgen.models.partnet import PartNet

CALLS = []

def build(num_classes):
    CALLS.append(num_classes)
    torch.manual_seed(3)
    return PartNet(num_classes)

def build_without_arguments():
    return PartNet(5)

def not_a_model():
    return "a string"

VALUE = 3
'''


@pytest.fixture()
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(USER_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_models"
    sys.modules.pop("my_models", None)


def test_user_callable_builds_the_model_with_num_classes(user_module):
    loaded = load_model(ModelSpec("mine", f"{user_module}:build", 7))
    assert isinstance(loaded.module, PartNet)
    assert loaded.module.classifier.out_features == 7
    assert loaded.target_layer is loaded.module.features  # the module's own default
    assert not loaded.module.training


def test_user_callable_without_num_classes_is_called_without_arguments(user_module):
    loaded = load_model(ModelSpec("mine", f"{user_module}:build_without_arguments", 5))
    assert loaded.module.classifier.out_features == 5


def test_user_model_can_take_weights_from_a_file(user_module, tmp_path):
    torch.manual_seed(9)
    source = PartNet(4)
    torch.save(source.state_dict(), tmp_path / "w.pt")
    loaded = load_model(ModelSpec("mine", f"{user_module}:build", 4, weights=tmp_path / "w.pt"))
    for name, value in source.state_dict().items():
        assert torch.equal(loaded.module.state_dict()[name], value)


@pytest.mark.parametrize(("arch", "message"), [
    ("no_such_module_xyz:build", "cannot import 'no_such_module_xyz'"),
    ("my_models:missing", "module 'my_models' has no 'missing'"),
    ("my_models:VALUE", "is not callable"),
    ("my_models:not_a_model", "returned str, not a torch nn.Module"),
    ("my_models:", "expected 'package.module:callable'"),
])
def test_bad_user_callables_raise_model_error(user_module, arch, message):
    with pytest.raises(ModelError, match=message):
        load_model(ModelSpec("mine", arch, 3))


# ---------------------------------------------------------------- weights digest


def test_weights_digest_changes_with_any_weight_and_not_with_the_name(tmp_path):
    torch.manual_seed(0)
    torch.save(PartNet(4).state_dict(), tmp_path / "a.pt")
    a = load_model(ModelSpec("a", "partnet", 4, weights=tmp_path / "a.pt"))
    b = load_model(ModelSpec("b", "partnet", 4, weights=tmp_path / "a.pt"))
    assert a.weights_digest == b.weights_digest
    with torch.no_grad():
        b.module.features[0].weight[0, 0, 0, 0] += 1e-6
    b.__dict__.pop("weights_digest")  # cached per model; recompute after editing weights
    assert a.weights_digest != b.weights_digest
