"""docs/config.md documents the run configuration: every key of the schema with its real
default, examples that validate, and the error a misspelled key gets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main
import yaml

from reportgen.cli import app
from reportgen.config import RunConfig
from reportgen.config_yaml import load_config
from reportgen.errors import ConfigError

DOC = Path(__file__).resolve().parents[1] / "docs" / "config.md"
TEXT = DOC.read_text(encoding="utf-8")
YAML_BLOCKS = re.findall(r"^```yaml\n(.*?)^```", TEXT, re.MULTILINE | re.DOTALL)
REFERENCE_HEADER = "| key | type | default | flag | what it does |"
REQUIRED, SECTION = "required", "—"


def schema_keys() -> dict[str, dict]:
    """Every key path of RunConfig's JSON Schema (``models[].preprocessing.rule``) ->
    ``{"required", "default" (absent when the schema has none), "section"}``."""
    schema = RunConfig.model_json_schema()
    defs = schema["$defs"]

    def model_of(node: dict) -> dict | None:
        refs = [node, *node.get("anyOf", []), *node.get("allOf", [])]
        for ref in refs:
            if "$ref" in ref:
                return defs[ref["$ref"].rsplit("/", 1)[-1]]
        return None

    keys: dict[str, dict] = {}

    def walk(node: dict, prefix: str) -> None:
        for name, prop in node.get("properties", {}).items():
            items = model_of(prop.get("items", {})) if prop.get("type") == "array" else None
            path = f"{prefix}{name}"
            info = {"required": name in node.get("required", []),
                    "section": model_of(prop) is not None}
            if "default" in prop:
                info["default"] = prop["default"]
            keys[path] = info
            if items is not None:
                walk(items, f"{path}[].")
            elif model_of(prop) is not None:
                walk(model_of(prop), f"{path}.")

    walk(schema, "")
    return keys


def reference_rows() -> dict[str, list[str]]:
    """Key -> cells of each row of the reference tables (``| key | type | default | ...``)."""
    rows: dict[str, list[str]] = {}
    in_reference = False
    for line in TEXT.splitlines():
        if not line.startswith("|"):
            in_reference = False
            continue
        if line.strip() == REFERENCE_HEADER:
            in_reference = True
            continue
        match = re.match(r"\|\s*`([^`]+)`\s*\|", line)
        if in_reference and match:
            assert match[1] not in rows, f"{match[1]} is documented twice"
            rows[match[1]] = [c.strip() for c in line.strip().strip("|").split("|")]
    return rows


def test_the_schema_walk_sees_nested_keys():
    keys = schema_keys()
    assert keys["dataset.root"]["required"]
    assert keys["models[].preprocessing.rule"]["default"] is None
    assert keys["faithfulness.road_fractions"]["default"][0] == 0.1
    assert keys["narrative"]["section"]
    assert len(keys) >= 60


def test_every_schema_key_has_a_row_in_the_reference():
    missing = sorted(set(schema_keys()) - set(reference_rows()))
    assert not missing, f"docs/config.md does not document {missing}"


def test_every_documented_key_exists_in_the_schema():
    stale = sorted(set(reference_rows()) - set(schema_keys()))
    assert not stale, f"docs/config.md documents keys the config does not have: {stale}"


def test_documented_defaults_equal_the_schema_defaults():
    keys = schema_keys()
    wrong = []
    for key, cells in reference_rows().items():
        default, info = cells[2].strip("`"), keys.get(key)
        if info is None:  # a stale key: the test above names it
            continue
        if default == REQUIRED:
            ok = info["required"]
        elif default == SECTION:
            ok = info["section"] and not info["required"]
        elif "default" in info:
            ok = yaml.safe_load(default) == info["default"]
        else:  # a default_factory ({} or []): the schema states none
            ok = not info["required"] and yaml.safe_load(default) in ({}, [])
        if not ok:
            wrong.append(f"{key}: documented {default!r}, schema {info}")
    assert not wrong, "\n".join(wrong)


def test_the_first_example_shows_every_key():
    complete = YAML_BLOCKS[0]
    absent = [key for key in schema_keys()
              if not re.search(rf"^[\s#-]*{re.escape(key.rsplit('.', 1)[-1].rstrip('[]'))}:",
                               complete, re.MULTILINE)]
    assert not absent, f"the annotated example lacks {absent}"


def test_the_docs_have_examples():
    assert len(YAML_BLOCKS) >= 6


@pytest.mark.parametrize("index", range(len(YAML_BLOCKS)))
def test_every_yaml_example_is_a_valid_config(tmp_path, index):
    path = tmp_path / "run.yaml"
    path.write_text(YAML_BLOCKS[index], encoding="utf-8")
    config = load_config(path)
    assert config.dataset.root.is_relative_to(tmp_path)  # resolved against the file's folder
    for model in config.models:
        if model.spec is None:
            model.to_spec()  # a model needs arch and num_classes (checked when the run starts)


def test_a_misspelled_key_in_the_example_names_its_line_and_the_right_key(tmp_path):
    lines = YAML_BLOCKS[0].splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("batch_size:"))
    nested = next(i for i, line in enumerate(lines) if line.strip().startswith("target_layer:"))
    lines[top] = lines[top].replace("batch_size:", "batchsize:")
    lines[nested] = lines[nested].replace("target_layer:", "target_layr:")
    path = tmp_path / "run.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert f"batchsize (line {top + 1}): unknown key; did you mean 'batch_size'?" in message
    assert (f"models.0.target_layr (line {nested + 1}): unknown key; did you mean "
            "'target_layer'?") in message


def test_every_flag_the_docs_name_is_an_option_of_reportgen_run():
    run = typer.main.get_command(app).commands["run"]
    options = {o for p in run.params for o in (*p.opts, *p.secondary_opts)}
    named = set(re.findall(r"`(-{1,2}[a-z][a-z-]*)", TEXT))
    assert {"--limit", "--device", "--batch-size", "--seed", "--fail-if", "--no-cache", "--llm",
            "--llm-model", "--llm-base-url", "--resume", "--no-resume", "-v", "-q"} <= named
    assert named <= options, f"not options of reportgen run: {sorted(named - options)}"
