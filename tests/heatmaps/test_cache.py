"""The heatmap cache: keys that change exactly when the heatmap would, compact atomic shards."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from reportgen.heatmaps import HeatmapCache, cache_report, make_method
from reportgen.heatmaps.base import HeatmapBatch
from reportgen.heatmaps.cache import DisabledCache, quantize
from reportgen.heatmaps.keys import context_digest, heatmap_key, image_digest
from reportgen.models.loading import ModelSpec, load_model
from reportgen.models.partnet import PartNet
from reportgen.models.preprocessing import Preprocessing


def batch_of(n: int, size: int = 8, seed: int = 0) -> HeatmapBatch:
    rng = np.random.default_rng(seed)
    return HeatmapBatch(rng.random((n, size, size), dtype=np.float32),
                        rng.integers(0, 5, n), rng.random(n, dtype=np.float32),
                        rng.integers(0, 5, n))


@pytest.fixture()
def partnet_weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "weights" / "p.pt"
    path.parent.mkdir()
    torch.save(PartNet(4).state_dict(), path)
    return path


def context_of(spec: ModelSpec, method: str = "gradcam", **params) -> str:
    return context_digest(load_model(spec), make_method(method, **params))


# ---------------------------------------------------------------- keys


def test_same_weights_method_and_preprocessing_give_the_same_key(partnet_weights):
    spec = ModelSpec("p", "partnet", 4, weights=partnet_weights)
    assert context_of(spec) == context_of(spec)


def test_changing_one_weight_invalidates(partnet_weights, tmp_path):
    state = torch.load(partnet_weights, weights_only=True)
    state["classifier.bias"][0] += 1e-3
    changed = tmp_path / "changed.pt"
    torch.save(state, changed)
    assert (context_of(ModelSpec("p", "partnet", 4, weights=partnet_weights))
            != context_of(ModelSpec("p", "partnet", 4, weights=changed)))


def test_changing_a_buffer_invalidates(partnet_weights):
    model = load_model(ModelSpec("p", "partnet", 4, weights=partnet_weights))
    before = context_digest(model, make_method("gradcam"))
    other = load_model(ModelSpec("p", "partnet", 4, weights=partnet_weights))
    other.module.features[1].running_var[0] += 0.5  # BatchNorm statistics change the output
    assert context_digest(other, make_method("gradcam")) != before


def test_changing_a_method_parameter_or_the_method_invalidates(partnet_weights):
    spec = ModelSpec("p", "partnet", 4, weights=partnet_weights)
    base = context_of(spec, "scorecam")
    assert context_of(spec, "scorecam", batch_size=4) != base
    assert context_of(spec, "gradcam") != context_of(spec, "gradcam++")


@pytest.mark.parametrize("change", [
    {"target_layer": "features.9"},
    {"preprocessing": Preprocessing(size=96, mean=(0.5, 0.5, 0.5))},
    {"preprocessing": Preprocessing.from_rule("(x - 127) / 128")},
], ids=["target-layer", "mean", "scale-rule"])
def test_changing_target_layer_or_preprocessing_invalidates(partnet_weights, change):
    spec = ModelSpec("p", "partnet", 4, weights=partnet_weights)
    assert context_of(dataclasses.replace(spec, **change)) != context_of(spec)


def test_the_model_name_and_the_weights_file_location_do_not_matter(partnet_weights, tmp_path):
    moved = tmp_path / "elsewhere" / "renamed.pt"
    moved.parent.mkdir()
    moved.write_bytes(partnet_weights.read_bytes())
    assert (context_of(ModelSpec("first", "partnet", 4, weights=partnet_weights))
            == context_of(ModelSpec("second", "partnet", 4, weights=moved)))


def test_image_digest_sees_every_pixel_and_the_shape():
    image = np.zeros((4, 6, 3), np.uint8)
    changed = image.copy()
    changed[3, 5, 2] = 1
    assert image_digest(image) == image_digest(image.copy())
    assert image_digest(changed) != image_digest(image)
    assert image_digest(image.reshape(6, 4, 3)) != image_digest(image)


def test_the_explained_class_is_part_of_the_key():
    keys = {heatmap_key("ctx", "img", t) for t in (None, 0, 1)}
    assert len(keys) == 3


# ---------------------------------------------------------------- cache


def test_stored_heatmaps_come_back_as_float16_with_their_predictions(tmp_path):
    cache = HeatmapCache(tmp_path / "cache")
    batch = batch_of(3)
    cache.store(["a", "b", "c"], batch)
    found = HeatmapCache(tmp_path / "cache").lookup(["c", "x", "a"])  # a fresh index
    assert found[1] is None
    for entry, i in ((found[0], 2), (found[2], 0)):
        assert entry.heatmap.dtype == np.float16
        np.testing.assert_array_equal(entry.heatmap, batch.heatmaps[i].astype(np.float16))
        assert (entry.predicted, entry.target) == (batch.predicted[i], batch.target[i])
        assert entry.probability == batch.probability[i]


def test_quantize_equals_what_the_cache_returns(tmp_path):
    cache = HeatmapCache(tmp_path)
    batch = batch_of(2)
    cache.store(["a", "b"], batch)
    np.testing.assert_array_equal(quantize(batch).heatmaps[1], cache.lookup(["b"])[0].heatmap)


def test_a_renamed_cache_folder_still_hits(tmp_path):
    HeatmapCache(tmp_path / "run1" / "cache").store(["k1", "k2"], batch_of(2))
    (tmp_path / "run1").rename(tmp_path / "renamed")
    cache = HeatmapCache(tmp_path / "renamed" / "cache")
    assert all(e is not None for e in cache.lookup(["k1", "k2"]))


def test_one_store_is_one_shard_and_no_temporary_file_remains(tmp_path):
    cache = HeatmapCache(tmp_path)
    cache.store(["a", "b"], batch_of(2))
    cache.store(["c"], batch_of(1, seed=1))
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".npz", ".npz"]


def test_cache_report_counts_heatmaps_files_and_bytes(tmp_path):
    cache = HeatmapCache(tmp_path)
    cache.store(["a", "b"], batch_of(2, size=32))
    cache.store(["c"], batch_of(1, size=32, seed=1))
    report = cache.report()
    assert (report.heatmaps, report.files) == (3, 2)
    assert report.bytes == sum(p.stat().st_size for p in tmp_path.iterdir())
    assert 3 * 32 * 32 * 2 < report.bytes < 3 * 32 * 32 * 4  # float16: compact
    assert cache_report(tmp_path) == report
    assert "3 heatmaps in 2 files" in report.describe()


def test_a_damaged_shard_is_skipped_and_reported(tmp_path):
    cache = HeatmapCache(tmp_path)
    cache.store(["a"], batch_of(1))
    (tmp_path / "0123.npz").write_bytes(b"not a zip file")
    (tmp_path / ".abc.npz.123.tmp").write_bytes(b"half written")  # a killed write
    reopened = HeatmapCache(tmp_path)
    assert reopened.lookup(["a"])[0] is not None
    report = reopened.report()
    assert (report.heatmaps, report.unreadable, report.temporary) == (1, 1, 1)


def test_disabled_cache_never_hits_and_writes_nothing(tmp_path):
    HeatmapCache(tmp_path).store(["a"], batch_of(1))
    before = sorted(tmp_path.iterdir())
    cache = HeatmapCache.open(tmp_path, enabled=False)
    assert isinstance(cache, DisabledCache)
    assert cache.lookup(["a"]) == [None]
    assert cache.store(["b"], batch_of(1)) is None
    assert sorted(tmp_path.iterdir()) == before
    assert cache.report().heatmaps == 0


def test_store_checks_one_key_per_heatmap(tmp_path):
    with pytest.raises(ValueError, match="2 keys for 3 heatmaps"):
        HeatmapCache(tmp_path).store(["a", "b"], batch_of(3))
