import numpy as np
import pytest
import torch
from pytorch_grad_cam.metrics.road import NoisyLinearImputer

from reportgen.metrics.imputation import ImputationTask, dissection_order, impute

D, G = 1 / 6, 1 / 12  # direct and diagonal neighbour weights


def test_removed_pixel_is_the_weighted_mean_of_its_eight_neighbours():
    image = np.arange(9, dtype=np.float32).reshape(1, 3, 3)
    removed = np.zeros((3, 3), bool)
    removed[1, 1] = True
    out = impute(ImputationTask(image, removed))
    direct, diagonal = 1 + 3 + 5 + 7, 0 + 2 + 6 + 8
    assert out[0, 1, 1] == pytest.approx(D * direct + G * diagonal)


def test_weights_are_renormalised_over_the_neighbours_inside_the_image():
    image = np.array([[[0.0, 3.0], [6.0, 9.0]]], dtype=np.float32)
    removed = np.array([[True, False], [False, False]])
    out = impute(ImputationTask(image, removed))
    assert out[0, 0, 0] == pytest.approx((D * 3 + D * 6 + G * 9) / (D + D + G))


def test_adjacent_removed_pixels_are_solved_jointly():
    # In a 1 x 4 row [a, ?, ?, d] each unknown is the mean of its two neighbours.
    a, d = 3.0, 9.0
    image = np.array([[[a, 0.0, 0.0, d]]], dtype=np.float32)
    removed = np.array([[False, True, True, False]])
    out = impute(ImputationTask(image, removed))
    np.testing.assert_allclose(out[0, 0], [a, (2 * a + d) / 3, (a + 2 * d) / 3, d], rtol=1e-6)


def test_kept_pixels_and_channels_are_independent_and_unchanged():
    rng = np.random.default_rng(0)
    image = rng.standard_normal((3, 6, 5)).astype(np.float32)
    removed = rng.random((6, 5)) < 0.5
    out = impute(ImputationTask(image, removed))
    np.testing.assert_array_equal(out[:, ~removed], image[:, ~removed])
    one = impute(ImputationTask(image[1:2], removed))
    np.testing.assert_allclose(out[1:2], one, atol=1e-6)
    np.testing.assert_array_equal(impute(ImputationTask(image, np.zeros((6, 5), bool))), image)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # numpy on tensors, inside grad-cam
@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_pytorch_grad_cam_noisy_linear_imputer_without_noise(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(2, 40, size=2)
    image = rng.standard_normal((3, h, w)).astype(np.float32)
    removed = rng.random((h, w)) < rng.uniform(0.1, 0.9)
    removed.flat[rng.integers(h * w)] = False  # keep at least one pixel
    ours = impute(ImputationTask(image, removed))
    theirs = NoisyLinearImputer(noise=0.0)(torch.from_numpy(image),
                                          torch.from_numpy((~removed).astype(np.float32)))
    np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-4)
    assert not np.allclose(ours, image)  # the test can fail: something was imputed


def test_noise_is_seeded_has_the_given_std_and_touches_only_removed_pixels():
    rng = np.random.default_rng(1)
    image = rng.standard_normal((3, 40, 40)).astype(np.float32)
    removed = rng.random((40, 40)) < 0.5
    clean = impute(ImputationTask(image, removed))
    noisy = impute(ImputationTask(image, removed, noise_std=0.5, seed=(7, 1)))
    again = impute(ImputationTask(image, removed, noise_std=0.5, seed=(7, 1)))
    other = impute(ImputationTask(image, removed, noise_std=0.5, seed=(7, 2)))
    np.testing.assert_array_equal(noisy, again)
    assert not np.array_equal(noisy, other)
    np.testing.assert_array_equal(noisy[:, ~removed], image[:, ~removed])
    assert np.std(noisy[:, removed] - clean[:, removed]) == pytest.approx(0.5, rel=0.05)


def test_bad_masks_raise():
    image = np.zeros((3, 4, 4), np.float32)
    with pytest.raises(ValueError, match="all removed"):
        impute(ImputationTask(image, np.ones((4, 4), bool)))
    with pytest.raises(ValueError, match="expected image"):
        impute(ImputationTask(image, np.ones((4, 5), bool)))


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (4, 4), (5, 17), (33, 20)])
def test_dissection_order_visits_every_pixel_once(shape):
    order = dissection_order(*shape)
    assert sorted(order.tolist()) == list(range(shape[0] * shape[1]))
