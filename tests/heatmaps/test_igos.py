"""I-GOS and iGOS++ on a model with a known answer (blob_world): the mask finds the blob."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reportgen.heatmaps import HeatmapCache, HeatmapEngine, make_method
from reportgen.heatmaps.igos import bilateral_tv, gaussian_blur, tv_norm
from reportgen.heatmaps.keys import context_digest

# Few iterations and steps on a 32 x 32 input: a 8 x 8 mask (4-pixel cells).
QUICK = {"mask_size": 8, "iterations": 8, "ig_steps": 8}


@pytest.mark.parametrize("method", ["igos", "igos++"])
@pytest.mark.parametrize("target", [0, 1])
def test_the_mask_finds_the_blob_the_explained_class_counts(counter, blob_pair, method, target,
                                                            blob_world):
    heat = make_method(method, **QUICK).explain(counter, blob_pair, [target] * 2).heatmaps.numpy()
    red, green = blob_world.RED_AT, blob_world.GREEN_AT
    wanted, other = (red, green) if target == 0 else (green, red)
    for i in range(2):
        assert blob_world.share_on(heat[i], blob_world.blob_mask(wanted[i], margin=4)) > 0.9
        assert blob_world.share_on(heat[i], blob_world.blob_mask(other[i], margin=2)) < 0.01
        peak = np.unravel_index(heat[i].argmax(), heat[i].shape)
        assert blob_world.blob_mask(wanted[i], margin=2)[peak]


@pytest.mark.parametrize("method", ["igos", "igos++"])
def test_heatmaps_are_in_the_unit_interval_with_peak_one(counter, blob_pair, method, blob_world):
    batch = make_method(method, **QUICK).explain(counter, blob_pair).to_batch()
    size = blob_world.SIZE
    assert batch.heatmaps.shape == (2, size, size) and batch.heatmaps.dtype == np.float32
    assert batch.heatmaps.min() >= 0
    np.testing.assert_allclose(batch.heatmaps.reshape(2, -1).max(1), 1.0, atol=1e-6)


def test_a_class_without_evidence_gets_an_all_zero_heatmap(counter, blob_world):
    """No red pixel: deleting anything cannot lower class 0, so the mask stays 1 (degenerate
    for the scorer, not noise)."""
    green_only = blob_world.two_blob_images([(0, 0)], [(20, 20)])
    green_only[:, 0] = 0
    heat = make_method("igos", **QUICK).explain(counter, green_only, [0]).heatmaps
    assert float(heat.abs().max()) == 0.0


@pytest.mark.parametrize("method", ["igos", "igos++"])
def test_an_images_heatmap_does_not_depend_on_its_batch_and_is_deterministic(
        counter, blob_pair, method):
    explainer = make_method(method, **QUICK)
    both = explainer.explain(counter, blob_pair, [0, 0]).heatmaps
    again = explainer.explain(counter, blob_pair, [0, 0]).heatmaps
    alone = explainer.explain(counter, blob_pair[1:], [0]).heatmaps
    torch.testing.assert_close(both, again, atol=0, rtol=0)
    torch.testing.assert_close(both[1:], alone, atol=1e-5, rtol=0)


def test_the_seed_and_every_parameter_enter_the_cache_key(counter):
    keys = {context_digest(counter, make_method("igos", **params)) for params in
            [{}, {"seed": 1}, {"iterations": 3}, {"l1": 2.0}]}
    keys.add(context_digest(counter, make_method("igos++")))
    assert len(keys) == 5


def test_the_engine_caches_igos_heatmaps(counter, blob_pair, tmp_path):
    images = blob_pair.permute(0, 2, 3, 1).numpy()
    pixels = (images * 127.5).astype(np.uint8)  # value 2 -> 255
    cache = HeatmapCache.open(tmp_path)
    first = HeatmapEngine(counter, make_method("igos", **QUICK), cache)
    fresh = first.explain(list(pixels))
    second = HeatmapEngine(counter, make_method("igos", **QUICK), HeatmapCache.open(tmp_path))
    cached = second.explain(list(pixels))
    assert (first.computed, second.reused) == (2, 2)
    np.testing.assert_array_equal(fresh.heatmaps, cached.heatmaps)


def test_unknown_parameters_are_named():
    with pytest.raises(ValueError, match="unknown parameters \\['mask'\\]"):
        make_method("igos", mask=8)


def test_tv_is_zero_for_a_constant_mask_and_two_for_a_checkerboard():
    flat = torch.full((1, 1, 4, 4), 0.3)
    board = ((torch.arange(4)[:, None] + torch.arange(4)[None]) % 2).float()[None, None]
    assert tv_norm(flat).item() == 0
    assert tv_norm(board).item() == pytest.approx(2.0)


def test_bilateral_tv_forgives_mask_edges_on_image_edges():
    """A mask edge where the image has one costs less than the same edge on a flat image."""
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 4:] = 1
    edge_image = torch.zeros(1, 3, 8, 8)
    edge_image[..., 4:] = 1
    flat_image = torch.zeros(1, 3, 8, 8)
    assert bilateral_tv(edge_image, mask, mask) < bilateral_tv(flat_image, mask, mask)


def test_gaussian_blur_keeps_constants_and_mass_and_fits_small_images():
    constant = torch.full((2, 3, 10, 12), 0.7)
    torch.testing.assert_close(gaussian_blur(constant, 51, 50.0), constant)
    dot = torch.zeros(1, 1, 33, 33)
    dot[..., 16, 16] = 1
    blurred = gaussian_blur(dot, 9, 2.0)
    assert blurred.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert blurred[0, 0, 16, 16] == blurred.max() and blurred[0, 0, 16, 16] < 0.1
    torch.testing.assert_close(blurred[0, 0], blurred[0, 0].T)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["igos", "igos++"])
def test_the_papers_defaults_find_the_blob(counter, blob_pair, method, blob_world):
    """28 x 28 mask, 15 iterations, 20 integration steps, blur 51/50, noise 0.2."""
    heat = make_method(method).explain(counter, blob_pair, [0, 0]).heatmaps.numpy()
    for i in range(2):
        red = blob_world.blob_mask(blob_world.RED_AT[i], margin=4)
        assert blob_world.share_on(heat[i], red) > 0.8
