"""The worked examples of docs/metrics.md, number by number."""

import numpy as np

from reportgen.heatmaps.baselines import center_heatmaps
from reportgen.metrics.localization import score_localization
from reportgen.metrics.pqah import score_masks, score_regions

RAW = np.array([[[-2.0, 1.0, 4.0], [0.0, 2.0, 8.0]]])
LABELS = np.array([[[0, 1, 1], [0, 2, 2]]])


def test_pqah_example():
    s = score_regions(RAW, LABELS, 3)
    np.testing.assert_allclose(s.precision, [[0, 0.625 / 1.875, 1.25 / 1.875]])
    np.testing.assert_allclose(s.recall, [[0, 0.3125, 0.625]])
    np.testing.assert_allclose(s.ph, [[0, 1.25 / 3.875, 2.5 / 3.875]])
    np.testing.assert_allclose(s.ph.round(3), [[0, 0.323, 0.645]])


def test_pqah_example_with_a_void_pixel():
    labels = LABELS.copy()
    labels[0, 1, 2] = 255
    s = score_regions(RAW, labels, 3)
    np.testing.assert_allclose(s.precision.round(3), [[0, 0.714, 0.286]])
    np.testing.assert_allclose(s.recall, [[0, 0.3125, 0.25]])
    np.testing.assert_allclose(s.ph, [[0, 1.25 / 2.875, 0.5 / 1.875]])
    np.testing.assert_allclose(s.ph.round(3), [[0, 0.435, 0.267]])


def test_binary_pqah_example():
    s = score_regions(RAW, LABELS, 3, threshold=0.5)
    for values in (s.precision, s.recall, s.ph):
        np.testing.assert_allclose(values, [[0, 0.5, 0.5]])


def test_overlapping_parts_example():
    heat = np.array([[[1.0, 0.5, 0.0], [0.5, 0.0, 0.5]]])
    head = np.array([[[1, 1, 0], [1, 1, 0]]], bool)
    eye = np.array([[[1, 0, 0], [0, 0, 0]]], bool)
    s = score_masks(heat, np.stack([head, eye], axis=1), ~head)
    np.testing.assert_allclose(s.precision, [[0.2, 0.8, 0.4]])
    np.testing.assert_allclose(s.recall, [[0.25, 0.5, 1.0]])
    np.testing.assert_allclose(s.ph.round(3), [[0.222, 0.615, 0.571]])


def test_localisation_example():
    heat = np.array([[[0.0, 0.2, 0.4, 0.0], [0.0, 1.0, 0.6, 0.0], [0.0, 0.0, 0.8, 0.0],
                      [0.0, 0.0, 0.0, 0.0]]])
    obj = np.zeros((1, 4, 4), bool)
    obj[0, 1:3, 2:4] = True
    s = score_localization(heat, obj, tolerance=0)
    assert (s.iou.tolist(), s.pointing_game.tolist(), s.relevance_rank.tolist()) == (
        [0.4], [0.0], [0.5])
    np.testing.assert_allclose(s.relevance_mass.round(3), [0.467])
    np.testing.assert_allclose(s.energy_pointing_game.round(3), [0.467])
    assert score_localization(heat, obj, tolerance=1).pointing_game.tolist() == [1.0]
    assert score_localization(heat, obj).pointing_game.tolist() == [1.0]  # default 15
    np.testing.assert_allclose(score_localization(heat, obj, iou_threshold=0.3).iou, [2 / 6])


def test_center_baseline_example():
    c = center_heatmaps(1, (5, 5))[0].round(3)
    assert (c[2, 2], c[2, 1], c[0, 0]) == (1.0, 0.726, 0.077)


def test_faithfulness_examples():
    from reportgen.metrics.faithfulness import confidence_drop, confidence_increase

    clean = np.array([0.8, 0.8])
    modified = np.array([0.6, 0.9])
    np.testing.assert_allclose(confidence_drop(clean, modified), [25.0, 0.0])
    np.testing.assert_allclose(confidence_increase(clean, modified), [0.0, 100.0])


def test_road_combined_example():
    from reportgen.metrics.road import RoadCurves

    curves = RoadCurves(np.array([0.1, 0.2]), np.array([[0.5, 0.3]]), np.array([[0.8, 0.7]]))
    np.testing.assert_allclose(curves.combined, [0.175])
