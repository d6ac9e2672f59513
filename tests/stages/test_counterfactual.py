"""The counterfactual stage on the shipped demo data and models: bad samples are excluded with
a reason and the run goes on; the result does not depend on the batch size; max_samples
bounds what it keeps."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from reportgen.config import RunConfig
from reportgen.resources import sample_data_dir
from reportgen.stages.counterfactual import CounterfactualStage, with_counterfactual
from reportgen.stages.load import Batch, open_inputs
from reportgen.stages.score import SampleCounts, Scored
from reportgen.vocab import PART_REMOVAL_METHOD, SWAP_METHOD


def config(batch_size: int = 8, **swap) -> RunConfig:
    data = sample_data_dir()
    return RunConfig.model_validate({
        "dataset": {"root": str(data / "parts_world")}, "limit": 16, "workers": 0,
        "models": [{"spec": str(data / "models" / "partnet_biased.json")}],
        "batch_size": batch_size, "device": "cpu", "counterfactual": swap,
        "faithfulness": {"enabled": False}})


def run_stage(cfg: RunConfig, tmp_path, edit=None) -> CounterfactualStage:
    inputs = open_inputs(cfg, tmp_path / f"run{cfg.batch_size}")
    stage = CounterfactualStage(inputs)
    for batch in inputs.batches():
        stage.update(edit(batch) if edit else batch)
    return stage


def test_the_result_does_not_depend_on_the_batch_size(tmp_path):
    a = run_stage(config(batch_size=5, fill="mean"), tmp_path).compute()
    b = run_stage(config(batch_size=16, fill="mean"), tmp_path).compute()
    assert len(a) and set(a.method) == {SWAP_METHOD, PART_REMOVAL_METHOD}
    assert set(a[a.method == SWAP_METHOD].region) == {"object"}
    assert set(a[a.method == PART_REMOVAL_METHOD].region) <= {"head", "body", "tail", "legs"}
    pd.testing.assert_frame_equal(a, b)
    gap = a[a.metric == "swap.bg_gap"].value
    assert gap.isin([-1.0, 0.0, 1.0]).all()


def test_samples_without_an_object_or_with_nothing_else_are_excluded_and_counted(tmp_path):
    def spoil(batch: Batch) -> Batch:
        if batch.number:
            return batch
        first, second, *rest = batch.samples
        empty = replace(first, labels=np.zeros_like(first.labels))
        full = replace(second, labels=np.ones_like(second.labels))
        return replace(batch, samples=[empty, full, *rest])

    stage = run_stage(config(), tmp_path, spoil)
    reasons = [e.reason for e in stage.exclusions]
    assert len(reasons) == 2 and "no object mask" in reasons[0]
    assert "covers 100% of the image" in reasons[1] and "no background to swap" in reasons[1]
    rows = stage.compute()
    assert rows.image_id.nunique() == 14  # the run goes on with the other samples
    empty_scores = pd.DataFrame(columns=rows.columns)
    exclusions = pd.DataFrame(columns=["image_id", "object_id", "stage", "reason", "source",
                                       "model", "method"])
    scored = with_counterfactual(Scored(empty_scores, exclusions, SampleCounts(16, 16, 0)),
                                 stage)
    assert (scored.exclusions.stage == "counterfactual").sum() == 2
    assert scored.counts == SampleCounts(16, 16, 0)


def test_max_samples_bounds_the_kept_samples_and_disabled_does_nothing(tmp_path):
    stage = run_stage(config(max_samples=6, fill="mean"), tmp_path)
    assert stage.compute().image_id.nunique() == 6
    off = run_stage(config(enabled=False), tmp_path)
    assert off.compute().empty and not off.exclusions


@pytest.mark.parametrize("fill", ["impute", "mean"])
def test_every_variant_has_a_score_per_kept_sample(tmp_path, fill):
    rows = run_stage(config(max_samples=8, fill=fill), tmp_path).compute()
    rows = rows[rows.method == SWAP_METHOD]
    per_metric = rows.groupby("metric").image_id.nunique()
    assert (per_metric == 8).all() and len(per_metric) == 11  # original + 4 x 2 + 2 gaps
    assert rows.value.between(-1, 1).all()
