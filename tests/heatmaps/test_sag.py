"""SAG: minimal sufficient explanations by beam search, on the known-answer colour model.

With a 4 x 4 grid (8-pixel patches) on 32 x 32 images, an 8 x 8 red blob at (4, 4) is kept by
the patches (0, 1), (1, 0), (1, 1) (bilinear patch masks; (0, 0) is not needed).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reportgen.heatmaps import make_method
from reportgen.heatmaps.sag import diverse_subset, find_explanations

QUICK = {"grid": 4, "ranking_iterations": 0, "max_size": 4}  # explanations have 3 patches
TOP_LEFT = {(0, 1), (1, 0), (1, 1)}
BOTTOM_RIGHT = {(2, 2), (2, 3), (3, 2)}


@pytest.fixture(scope="module")
def counter(blob_world):
    return blob_world.colour_counter(scale=96.0)


@pytest.fixture(scope="module")
def images(blob_world):
    """0: one red blob; 1: two red blobs (each enough alone); 2: red and green (p = 0.5)."""
    one = blob_world.two_blob_images([(4, 4)], [(20, 20)])
    one[:, 1] = 0
    two = torch.zeros(1, 3, 32, 32)
    two[0, 0, 4:12, 4:12] = 2.0
    two[0, 0, 20:28, 20:28] = 2.0
    return torch.cat([one, two, blob_world.two_blob_images([(4, 4)], [(20, 20)])])


def patch_sets(found, index):
    return [set(map(tuple, np.argwhere(p).tolist())) for p in found.patches[index]]


@pytest.mark.parametrize("ranking_iterations", [0, 2])
def test_each_red_blob_is_one_explanation_and_two_blobs_give_two(counter, images,
                                                                 ranking_iterations):
    found = find_explanations(counter, images, [0, 0, 0], grid=4, max_size=4,
                              ranking_iterations=ranking_iterations)
    assert found.count.tolist() == [1, 2, 0]
    assert patch_sets(found, 0) == [TOP_LEFT]
    assert sorted(patch_sets(found, 1), key=sorted) == [TOP_LEFT, BOTTOM_RIGHT]
    for i in (0, 1):
        assert (found.probability[i] > 0.9 * found.full_probability[i]).all()
    assert (found.found >= found.count).all()


def test_explanations_are_minimal(counter, images):
    """Dropping any one patch of an explanation takes the probability below the bar."""
    from reportgen.heatmaps.sag import _baseline, _Scorer

    found = find_explanations(counter, images[:2], [0, 0], **QUICK)
    score = _Scorer(counter, images[:2], _baseline(counter, images[:2], "black"),
                    torch.tensor([0, 0]), 4, 64)
    for i in (0, 1):
        for patches in patch_sets(found, i):
            ids = frozenset(r * 4 + c for r, c in patches)
            drops = [ids - {p} for p in ids]
            probs = score([i] * len(drops), drops)
            assert (probs <= 0.9 * found.full_probability[i]).all()


def test_an_image_whose_class_needs_nothing_has_no_explanation(counter, images):
    """Red and green blob: p(red) = 0.5, and the black image gives 0.5 too."""
    found = find_explanations(counter, images[2:], [0], **QUICK)
    assert found.count.tolist() == [0] and found.found.tolist() == [0]
    heat = make_method("sag", **QUICK).explain(counter, images[2:], [0]).heatmaps
    assert float(heat.abs().max()) == 0.0


def test_the_sag_heatmap_is_the_share_of_explanations_keeping_each_pixel(counter, images,
                                                                       blob_world):
    batch = make_method("sag", **QUICK).explain(counter, images[:2], [0, 0]).to_batch()
    assert batch.heatmaps.shape == (2, 32, 32) and batch.heatmaps.min() >= 0
    np.testing.assert_allclose(batch.heatmaps.max(axis=(1, 2)), 1.0, atol=1e-6)
    assert blob_world.share_on(batch.heatmaps[0], blob_world.blob_mask((4, 4), margin=6)) > 0.9
    for corner in [(4, 4), (20, 20)]:  # two explanations: each blob carries half the heat
        share = blob_world.share_on(batch.heatmaps[1], blob_world.blob_mask(corner, margin=6))
        assert 0.4 < share < 0.6


def test_the_search_is_deterministic_and_batch_independent(counter, images):
    both = find_explanations(counter, images[:2], [0, 0], **QUICK)
    alone = find_explanations(counter, images[1:2], [0], **QUICK)
    again = find_explanations(counter, images[:2], [0, 0], **QUICK)
    assert patch_sets(both, 1) == patch_sets(alone, 0) == patch_sets(again, 1)


@pytest.mark.parametrize(("overlap", "expected"), [(0, [0, 2]), (1, [0, 1, 2]), (2, [0, 1, 2, 3])])
def test_the_diverse_subset_is_the_largest_with_bounded_overlap(overlap, expected):
    sets = [frozenset({1, 2}), frozenset({2, 3}), frozenset({4, 5}), frozenset({1, 2, 3})]
    assert diverse_subset(sets, overlap) == expected


def test_unknown_parameters_and_baselines_are_errors(counter, images):
    with pytest.raises(ValueError, match="unknown parameters"):
        find_explanations(counter, images[:1], grid_size=4)
    with pytest.raises(ValueError, match="baseline"):
        find_explanations(counter, images[:1], baseline="white", **QUICK)
