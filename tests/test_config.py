"""The run configuration: YAML loading, path resolution, validation, overrides, fingerprint."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportgen.config import RunConfig
from reportgen.config_yaml import load_config
from reportgen.errors import ConfigError
from reportgen.models.preprocessing import Preprocessing

BASIC = """\
title: Tiny run
dataset:
  root: data/world
models:
  - name: net
    arch: resnet18
    num_classes: 3
    weights: weights/net.pt
methods: [gradcam, layercam]
batch_size: 4
seed: 3
"""


def _write(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _config_error(path: Path, overrides: dict | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return str(info.value)


def test_valid_config_is_loaded_with_its_values(tmp_path):
    cfg = load_config(_write(tmp_path, BASIC))
    assert isinstance(cfg, RunConfig)
    assert cfg.title == "Tiny run"
    assert cfg.methods == ["gradcam", "layercam"]
    assert cfg.batch_size == 4
    assert cfg.seed == 3
    assert cfg.device == "auto"
    assert cfg.limit is None
    assert cfg.dataset.format == "folder"
    (model,) = cfg.models
    assert (model.name, model.arch, model.num_classes) == ("net", "resnet18", 3)


def test_relative_dataset_and_model_paths_resolve_against_the_config_folder(tmp_path):
    path = _write(tmp_path / "configs", BASIC)
    cfg = load_config(path)
    assert cfg.dataset.root == tmp_path / "configs" / "data" / "world"
    assert cfg.models[0].weights == tmp_path / "configs" / "weights" / "net.pt"


def test_model_spec_path_resolves_against_the_config_folder(tmp_path):
    path = _write(tmp_path / "cfg", "dataset: {root: d}\nmodels:\n  - spec: models/m.json\n")
    cfg = load_config(path)
    assert cfg.models[0].spec == tmp_path / "cfg" / "models" / "m.json"


def test_absolute_paths_are_kept(tmp_path):
    root = tmp_path / "elsewhere" / "data"
    path = _write(tmp_path / "cfg", f"dataset: {{root: '{root}'}}\n"
                                    "models: [{arch: partnet, num_classes: 2}]\n")
    assert load_config(path).dataset.root == root


def test_model_config_builds_a_model_spec(tmp_path):
    text = BASIC.replace("weights/net.pt\n", "weights/net.pt\n    target_layer: layer3\n"
                         "    preprocessing: {size: 64, mean: [0.5, 0.5, 0.5]}\n")
    spec = load_config(_write(tmp_path, text)).models[0].to_spec()
    assert (spec.name, spec.arch, spec.num_classes) == ("net", "resnet18", 3)
    assert spec.weights == tmp_path / "weights" / "net.pt"
    assert spec.target_layer == "layer3"
    assert spec.preprocessing == Preprocessing(64, (0.5, 0.5, 0.5), Preprocessing.std)


def test_unknown_top_level_key_is_a_config_error_naming_the_key(tmp_path):
    message = _config_error(_write(tmp_path, BASIC + "colour: blue\n"))
    assert "colour" in message
    assert str(tmp_path / "run.yaml") in message


def test_unknown_nested_key_is_a_config_error_naming_its_location(tmp_path):
    text = BASIC.replace("  root: data/world\n", "  root: data/world\n  shuffle: true\n")
    message = _config_error(_write(tmp_path, text))
    assert "dataset.shuffle" in message


def test_unknown_model_key_is_a_config_error(tmp_path):
    text = BASIC.replace("    num_classes: 3\n", "    num_classes: 3\n    depth: 18\n")
    assert "models.0.depth" in _config_error(_write(tmp_path, text))


def test_unknown_method_is_rejected_naming_it(tmp_path):
    text = BASIC.replace("[gradcam, layercam]", "[gradcam, smoothgrad]")
    message = _config_error(_write(tmp_path, text))
    assert "smoothgrad" in message and "methods" in message


@pytest.mark.parametrize(("text", "location"), [
    (BASIC.replace("batch_size: 4", "batch_size: 0"), "batch_size"),
    (BASIC + "limit: -1\n", "limit"),
    ("dataset: {root: d}\nmodels: []\n", "models"),
], ids=["batch-size", "limit", "no-models"])
def test_out_of_range_values_are_config_errors(tmp_path, text, location):
    assert location in _config_error(_write(tmp_path, text))


def test_missing_dataset_is_a_config_error(tmp_path):
    message = _config_error(_write(tmp_path, "models: [{arch: partnet, num_classes: 2}]\n"))
    assert "dataset" in message


def test_overrides_replace_keys_and_none_overrides_are_ignored(tmp_path):
    path = _write(tmp_path, BASIC)
    cfg = load_config(path, {"limit": 5, "batch_size": 16, "seed": None, "device": None})
    assert cfg.limit == 5
    assert cfg.batch_size == 16
    assert cfg.seed == 3  # from the file, the None override is ignored
    assert cfg.device == "auto"


def test_overrides_are_validated_too(tmp_path):
    message = _config_error(_write(tmp_path, BASIC), {"batch_size": 0})
    assert "batch_size" in message


def test_missing_config_file_is_a_config_error_naming_the_file(tmp_path):
    path = tmp_path / "nope.yaml"
    message = _config_error(path)
    assert str(path) in message and "not found" in message
    assert "\n" not in message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_non_mapping_yaml_is_a_config_error_naming_the_file(tmp_path, text):
    path = _write(tmp_path, text)
    message = _config_error(path)
    assert str(path) in message and "mapping" in message


def test_invalid_yaml_is_a_config_error_naming_the_file(tmp_path):
    path = _write(tmp_path, "dataset: {root: [unclosed\n")
    assert str(path) in _config_error(path)


def test_invalid_yaml_error_is_one_line(tmp_path):
    path = _write(tmp_path, "dataset:\n  root: d\n  bad: value: here\n")
    message = _config_error(path)
    assert str(path) in message
    assert "\n" not in message, message


def test_empty_config_file_reports_the_missing_required_keys(tmp_path):
    message = _config_error(_write(tmp_path, ""))
    assert "dataset" in message and "models" in message


def test_fingerprint_is_stable_for_equal_configs(tmp_path):
    a = load_config(_write(tmp_path, BASIC))
    b = load_config(_write(tmp_path, BASIC))
    assert a.fingerprint() == b.fingerprint()
    assert len(a.fingerprint()) == 16
    int(a.fingerprint(), 16)  # hexadecimal


def test_fingerprint_does_not_depend_on_key_order(tmp_path):
    reordered = "seed: 3\nbatch_size: 4\n" + "".join(
        line + "\n" for line in BASIC.splitlines() if not line.startswith(("seed", "batch_size")))
    a = load_config(_write(tmp_path, BASIC, "a.yaml"))
    b = load_config(_write(tmp_path, reordered, "b.yaml"))
    assert a == b
    assert a.fingerprint() == b.fingerprint()


@pytest.mark.parametrize("change", [
    ("seed: 3", "seed: 4"),
    ("batch_size: 4", "batch_size: 5"),
    ("[gradcam, layercam]", "[gradcam]"),
    ("num_classes: 3", "num_classes: 4"),
    ("root: data/world", "root: data/other"),
])
def test_fingerprint_changes_when_a_value_changes(tmp_path, change):
    base = load_config(_write(tmp_path, BASIC, "a.yaml")).fingerprint()
    changed = load_config(_write(tmp_path, BASIC.replace(*change), "b.yaml")).fingerprint()
    assert changed != base


def test_fingerprint_changes_with_an_override(tmp_path):
    path = _write(tmp_path, BASIC)
    assert load_config(path, {"limit": 2}).fingerprint() != load_config(path).fingerprint()
    assert load_config(path, {"limit": None}).fingerprint() == load_config(path).fingerprint()


def test_unknown_key_error_names_the_key_its_line_and_a_close_match(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("dataset:\n  root: data\nmodels:\n  - arch: resnet18\n    num_classes: 3\n"
                    "batch_sise: 8\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "batch_sise (line 6): unknown key; did you mean 'batch_size'?" in message
    assert str(path) in message


def test_nested_unknown_key_gets_its_own_suggestions(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("dataset:\n  root: data\n  fromat: folder\nmodels:\n  - arch: resnet18\n"
                    "    num_classes: 3\n")
    with pytest.raises(ConfigError, match=r"dataset.fromat \(line 3\): unknown key; did you "
                                          r"mean 'format'\?"):
        load_config(path)


def test_fail_if_conditions_are_validated_when_the_config_loads(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("dataset: {root: data}\nmodels: [{arch: resnet18, num_classes: 3}]\n"
                    "fail_if: ['pqah.ph.q2 is high']\n")
    with pytest.raises(ConfigError, match="FACT OP NUMBER"):
        load_config(path)
