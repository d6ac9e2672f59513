"""The per-batch engine: cache hits skip work, results equal a direct computation."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.heatmaps import HeatmapCache, HeatmapEngine, compute_heatmaps
from reportgen.heatmaps.cache import quantize


@pytest.fixture(scope="module")
def images(world_samples):
    return [s.image for s in world_samples]


def test_engine_equals_a_direct_computation_rounded_through_float16(trained_partnet, images):
    got = HeatmapEngine(trained_partnet, "gradcam").explain(images)
    inputs = trained_partnet.spec.preprocessing(images)
    direct = quantize(compute_heatmaps(trained_partnet, inputs, "gradcam"))
    np.testing.assert_array_equal(got.heatmaps, direct.heatmaps)
    np.testing.assert_array_equal(got.predicted, direct.predicted)
    np.testing.assert_array_equal(got.probability, direct.probability)
    np.testing.assert_array_equal(got.target, direct.target)


def test_a_second_pass_takes_everything_from_the_cache(trained_partnet, images, tmp_path):
    first = HeatmapEngine(trained_partnet, "gradcam", HeatmapCache(tmp_path))
    a = first.explain(images)
    second = HeatmapEngine(trained_partnet, "gradcam", HeatmapCache(tmp_path))
    b = second.explain(images)
    assert (first.computed, first.reused) == (len(images), 0)
    assert (second.computed, second.reused) == (0, len(images))
    for field in ("heatmaps", "predicted", "probability", "target"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_only_missing_images_are_computed_and_order_is_kept(trained_partnet, images, tmp_path):
    cache = HeatmapCache(tmp_path)
    HeatmapEngine(trained_partnet, "gradcam", cache).explain(images[:3])
    engine = HeatmapEngine(trained_partnet, "gradcam", cache)
    mixed = engine.explain(images[2:6])
    assert (engine.computed, engine.reused) == (3, 1)
    reference = HeatmapEngine(trained_partnet, "gradcam").explain(images[2:6])
    np.testing.assert_allclose(mixed.heatmaps, reference.heatmaps, atol=1e-3)
    np.testing.assert_array_equal(mixed.predicted, reference.predicted)


def test_ground_truth_and_predicted_heatmaps_are_cached_apart(trained_partnet, world_samples,
                                                              tmp_path):
    images = [s.image for s in world_samples]
    truth = [s.class_index for s in world_samples]
    cache = HeatmapCache(tmp_path)
    predicted = HeatmapEngine(trained_partnet, "gradcam", cache).explain(images)
    engine = HeatmapEngine(trained_partnet, "gradcam", cache)
    explained = engine.explain(images, truth)
    assert engine.computed == len(images)  # nothing reused from the predicted-class run
    np.testing.assert_array_equal(explained.target, truth)
    np.testing.assert_array_equal(explained.predicted, predicted.predicted)


def test_disabled_cache_computes_every_time_with_the_same_result(trained_partnet, images,
                                                                 tmp_path):
    cached = HeatmapEngine(trained_partnet, "gradcam", HeatmapCache(tmp_path)).explain(images)
    engine = HeatmapEngine(trained_partnet, "gradcam",
                           HeatmapCache.open(tmp_path, enabled=False))
    fresh = engine.explain(images)
    assert engine.computed == len(images)
    np.testing.assert_array_equal(fresh.heatmaps, cached.heatmaps)
