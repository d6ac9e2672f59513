"""The model card through huggingface_hub: its front matter is what ModelCard and the Hub's
metadata parser read back, offline."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard, metadata_load

from reportgen.analysis.facts import format_value
from reportgen.report.card import build_card, insert_card, write_card
from tests.report.test_card import load_facts, make_run_dir, split_card

AUTHORS = """---
license: apache-2.0
model-index:
- name: partnet
  results:
  - task:
      type: image-classification
    dataset:
      name: ImageNet
      type: imagenet-1k
    metrics:
    - type: accuracy
      value: 0.71
---

# PartNet
"""


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection attempt fails the test: nothing here may call the Hub."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run_dir(tmp_path_factory.mktemp("hub") / "run")


@pytest.fixture(scope="module")
def card(run_dir) -> str:
    return build_card(run_dir)


def test_model_card_reads_our_front_matter_back_unchanged(card):
    meta, block = split_card(card)
    hub = ModelCard(card)
    assert hub.data.to_dict() == meta
    # What the Hub writes back parses to the same metadata: the round trip is lossless.
    assert ModelCard(hub.content).data.to_dict() == meta
    assert block in hub.text


def test_eval_results_carry_readable_types_the_method_and_the_fact_behind_each_value(
        run_dir, card):
    facts = load_facts(run_dir)
    data = ModelCard(card).data
    assert data.model_name == "partnet"
    results = data.eval_results
    assert len(results) == 10
    assert {(r.task_type, r.dataset_type, r.dataset_name) for r in results} == \
        {("image-classification", "partworld", "partworld")}
    for result in results:
        fact = facts[result.metric_args["reportgen_fact"]]
        assert (fact.dims["model"], fact.dims["method"]) == ("partnet", result.metric_config)
        assert "|" not in result.metric_type and "." not in result.metric_type
        assert format_value(result.metric_value, fact.unit) == fact.display
    assert [r.metric_type for r in results][:2] == ["accuracy", "pqah-ph-median-background"]


def test_metadata_load_reads_the_written_card(run_dir, card):
    path = write_card(run_dir)
    assert metadata_load(path) == split_card(card)[0]


def test_inserted_card_keeps_the_authors_result_for_the_hub_and_is_idempotent(run_dir, card,
                                                                               tmp_path):
    once = insert_card(AUTHORS, card)
    assert insert_card(once, card) == once
    newer = insert_card(once, build_card(make_run_dir(tmp_path / "newer", seed=1)))
    for text in (once, newer):
        data = ModelCard(text).data
        assert data.license == "apache-2.0"
        authors = [r for r in data.eval_results if r.metric_args is None]
        assert [(r.dataset_type, r.metric_type, r.metric_value) for r in authors] == \
            [("imagenet-1k", "accuracy", 0.71)]
        assert len(data.eval_results) == 1 + 10  # the authors' and one run's, not two runs'
    assert ModelCard(newer).data.eval_results != ModelCard(once).data.eval_results


def test_results_written_with_fact_id_types_are_recognised_as_ours_and_replaced(card):
    """Cards written before the readable slugs have the fact id as the metric's type."""
    meta, _ = split_card(card)
    legacy = yaml.safe_load(yaml.safe_dump(meta))
    for metric in legacy["model-index"][0]["results"][0]["metrics"]:
        metric["type"] = metric.pop("args")["reportgen_fact"]
        del metric["config"]
    old = "---\n" + yaml.safe_dump(legacy, sort_keys=False) + "---\n# Card\n"
    assert split_card(insert_card(old, card))[0] == meta
