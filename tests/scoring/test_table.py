"""The score table of a batch: one preparation per size group, shared by every region scorer;
heatmaps on the model's device give the same rows as host arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import reportgen.metrics.localization as localization
import reportgen.metrics.normalize as normalize
import reportgen.metrics.pqah as pqah
import reportgen.scoring.table as table
from reportgen.scoring import score_batch
from tests.scoring.samples import heatmap_batch, random_sample


@pytest.fixture()
def two_sizes():
    samples = [random_sample(name, size, seed) for seed, (name, size) in
               enumerate([("a", (24, 32)), ("b", (16, 16)), ("c", (24, 32))])]
    heat = np.random.default_rng(3).random((3, 8, 8)).astype(np.float32)
    return samples, heat


def _counting(monkeypatch, module, name: str) -> list:
    calls: list = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args[0].shape if hasattr(args[0], "shape") else None)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_each_size_group_is_prepared_once_for_every_region_metric(two_sizes, monkeypatch):
    samples, heat = two_sizes
    prepared = _counting(monkeypatch, normalize, "prepare")
    in_pqah = _counting(monkeypatch, pqah, "prepare_heatmaps")
    in_localization = _counting(monkeypatch, localization, "prepare_heatmaps")
    scored = score_batch(samples, heatmap_batch(heat), "m", "gradcam", ["cat"])
    assert len(prepared) == 2  # two sizes: (24, 32) for a and c, (16, 16) for b
    assert in_pqah == [] and in_localization == []  # PQAH and localisation reuse it
    assert [g.indices for g in scored.groups] == [[0, 2], [1]]
    assert [g.prepared.size for g in scored.groups] == [(24, 32), (16, 16)]
    assert {"pqah.ph", "pqah.precision", "region.area_share", "loc.iou"} <= set(
        scored.table["metric"])


def test_prepared_scores_equal_scoring_each_metric_on_its_own(two_sizes):
    samples, heat = two_sizes
    scored = score_batch(samples, heatmap_batch(heat), "m", "gradcam", ["cat"]).table
    idx = [0, 2]
    labels = np.stack([samples[i].labels for i in idx])
    alone = pqah.score_regions(heat[idx], labels, 3)
    ph = scored[(scored.metric == "pqah.ph") & scored.image_id.isin(["a", "c"])]
    want = alone.ph[np.isfinite(alone.ph)]
    np.testing.assert_array_equal(ph["value"].to_numpy(), want)
    objects = np.stack([samples[i].object_region() for i in idx])
    iou = localization.iou(heat[idx], objects)
    got = scored[(scored.metric == "loc.iou") & scored.image_id.isin(["a", "c"])]["value"]
    np.testing.assert_array_equal(got.to_numpy(), iou)


def test_a_cpu_tensor_is_clipped_once_per_batch_and_resized_per_group(two_sizes, monkeypatch):
    _, heat = two_sizes
    heat[0, 0, 0], heat[1, 2, 2] = -1.0, np.nan  # clipping and a degenerate sample
    resized = _counting(monkeypatch, normalize, "resize_heatmaps")
    groups = normalize.prepare_groups(torch.from_numpy(heat), [([0, 2], (24, 32)),
                                                               ([1], (16, 16))])
    assert len(resized) == 2
    for (idx, size), got in zip([([0, 2], (24, 32)), ([1], (16, 16))], groups, strict=True):
        want = normalize.prepare(torch.from_numpy(heat[idx]), size)
        assert isinstance(got.clipped, np.ndarray)
        np.testing.assert_array_equal(got.clipped, want.clipped.numpy())
        np.testing.assert_array_equal(got.peak, want.peak.numpy())
        np.testing.assert_array_equal(got.degenerate, want.degenerate.numpy())


def test_the_baselines_of_a_batch_share_the_models_regions(two_sizes, monkeypatch):
    samples, heat = two_sizes
    stacked = _counting(monkeypatch, table, "region_batch")
    shared: dict = {}
    score_batch(samples, heatmap_batch(heat), "m", "gradcam", ["cat"], shared_regions=shared)
    score_batch([samples[1]], heatmap_batch(heat[[1]]), "baseline", "center", ["cat"],
                shared_regions=shared)
    assert len(stacked) == 2  # the baseline's group (b) was stacked for the model already


def test_heatmaps_as_tensors_give_the_same_rows_as_host_arrays(two_sizes):
    samples, heat = two_sizes
    host = score_batch(samples, heatmap_batch(heat), "m", "gradcam", ["cat"]).table
    device = score_batch(samples, heatmap_batch(torch.from_numpy(heat)), "m", "gradcam",
                         ["cat"]).table
    pd.testing.assert_frame_equal(host, device)


def test_prepare_keeps_tensors_on_their_device_and_arrays_on_the_host(two_sizes):
    _, heat = two_sizes
    on_host = normalize.prepare(heat, (16, 16))
    as_tensor = normalize.prepare(torch.from_numpy(heat), (16, 16))
    assert isinstance(on_host.clipped, np.ndarray)
    assert isinstance(as_tensor.clipped, torch.Tensor)
    np.testing.assert_array_equal(as_tensor.to_numpy().clipped, on_host.clipped)
    np.testing.assert_array_equal(as_tensor.to_numpy().peak, on_host.peak)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_heatmaps_on_cuda_are_scored_there_and_match_the_cpu(two_sizes):
    samples, heat = two_sizes
    cpu = score_batch(samples, heatmap_batch(heat), "m", "gradcam", ["cat"])
    gpu = score_batch(samples, heatmap_batch(torch.from_numpy(heat).cuda()), "m", "gradcam",
                      ["cat"])
    assert all(g.prepared.clipped.is_cuda for g in gpu.groups)  # prepared on the device
    merged = cpu.table.merge(gpu.table, on=["image_id", "region", "metric"])
    np.testing.assert_allclose(merged["value_x"], merged["value_y"], atol=1e-5)
