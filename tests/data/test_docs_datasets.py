"""docs/datasets.md stays true: its config snippets validate and its manifest example loads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from reportgen.data import check_options, dataset_formats

DOC = Path(__file__).resolve().parents[2] / "docs" / "datasets.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def _dataset_sections() -> list[dict]:
    sections = [yaml.safe_load(b)["dataset"] for b in _blocks("yaml")]
    return [s for s in sections if "format" in s]


def test_every_format_has_a_config_example():
    assert {s["format"] for s in _dataset_sections()} == set(dataset_formats()) - {"folder"}


@pytest.mark.parametrize("section", _dataset_sections(), ids=lambda s: s["format"])
def test_config_examples_have_valid_options(section):
    check_options(section["format"], section.get("options", {}), where=str(DOC))


def test_folder_manifest_example_is_a_valid_manifest(tmp_path, make):
    from reportgen.data.folder import FolderDataset
    from reportgen.data.sample import Sample

    (manifest,) = [json.loads(b) for b in _blocks("json")]
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "images" / "0001.jpg").write_bytes(make.jpeg(make.rgb()))
    (tmp_path / "labels" / "0001.png").write_bytes(make.png(make.label_map()))
    (tmp_path / "dataset.json").write_text(json.dumps(manifest))
    (sample,) = FolderDataset(tmp_path)
    assert isinstance(sample, Sample) and sample.class_name == "sparrow"
    assert sample.region_names == ("background", "head", "wing", "tail", "legs")


def test_read_rules_in_the_examples_are_known_keys_with_valid_values():
    from reportgen.data.policy import POLICY_KEYS

    sections = [yaml.safe_load(b)["dataset"] for b in _blocks("yaml")]
    rules = [{k: v for k, v in s.items() if k not in ("root", "format", "options")}
             for s in sections]
    assert any(rules)
    for section, rule in zip(sections, rules, strict=True):
        assert set(rule) <= set(POLICY_KEYS), rule
        check_options(section.get("format", "folder"), {**section.get("options", {}), **rule},
                      where=str(DOC))
