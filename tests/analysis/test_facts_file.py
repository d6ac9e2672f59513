"""facts.json validates against the shipped JSON Schema and is byte-identical across runs."""

import json
from pathlib import Path

import jsonschema
import pytest

from reportgen.config_yaml import config_from_dict
from reportgen.pipeline import run_pipeline

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "reportgen" / "analysis"
                     / "facts.schema.json").read_text())


@pytest.fixture()
def config(folder_dataset, tmp_path):
    spec = tmp_path / "model.json"
    spec.write_text(json.dumps({"name": "random-partnet", "arch": "partnet", "num_classes": 4,
                                "preprocessing": {"size": 96, "mean": [0.5] * 3,
                                                  "std": [0.25] * 3}}))
    return config_from_dict({"dataset": {"root": folder_dataset},
                             "models": [{"spec": spec}], "methods": ["gradcam", "hirescam"],
                             "batch_size": 3, "device": "cpu", "seed": 3})


@pytest.mark.slow
def test_two_runs_write_byte_identical_facts_that_follow_the_schema(config, tmp_path):
    run_pipeline(config, tmp_path / "a")
    run_pipeline(config, tmp_path / "b")
    a = (tmp_path / "a" / "facts.json").read_bytes()
    assert a == (tmp_path / "b" / "facts.json").read_bytes()
    data = json.loads(a)
    jsonschema.validate(data, SCHEMA)
    assert data["facts"] and all(f["id"] for f in data["facts"])
    ids = {f["id"] for f in data["facts"]}
    for finding in data["findings"]:
        assert set(finding["evidence"]) <= ids


def test_schema_rejects_a_fact_without_n():
    bad = {"schema_version": "1.0", "findings": [],
           "facts": [{"id": "pqah.ph.q2", "value": 0.5, "unit": "fraction",
                      "direction": "higher", "display": "0.50", "dims": {}}]}
    with pytest.raises(jsonschema.ValidationError, match="'n' is a required property"):
        jsonschema.validate(bad, SCHEMA)
