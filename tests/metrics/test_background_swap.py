"""The background-swap test: donor pairing, the four variants, and the worked example of
docs/metrics.md recomputed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.metrics.background_swap import (
    INFOS,
    SwapInputs,
    fill_removed,
    pair_donors,
    swap_scores,
    variant_images,
)
from reportgen.metrics.registry import get_metric
from reportgen.models.preprocessing import Preprocessing


def test_donors_are_seeded_of_the_right_class_and_never_the_sample_itself():
    classes = np.array([0, 0, 1, 1, 1, 2, 0, 2])
    same, rand = pair_donors(classes, seed=3)
    assert (same >= 0).all() and (rand >= 0).all()
    assert (classes[same] == classes).all() and (same != np.arange(8)).all()
    assert (classes[rand] != classes).all()
    again = pair_donors(classes, seed=3)
    assert (again[0] == same).all() and (again[1] == rand).all()
    other = pair_donors(classes, seed=4)
    assert not ((other[0] == same).all() and (other[1] == rand).all())


def test_a_lonely_class_has_no_same_donor_and_one_class_has_no_random_donor():
    same, rand = pair_donors([0, 1, 1], seed=0)
    assert same[0] == -1 and (same[1:] >= 0).all() and (rand >= 0).all()
    same, rand = pair_donors([5, 5, 5], seed=0)
    assert (rand == -1).all() and (same >= 0).all()


def _inputs(n=4, size=8, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (n, size, size, 3)).astype(np.float32)
    objects = np.zeros((n, size, size), bool)
    objects[:, 2:6, 2:6] = True
    neutral = np.array([10.0, 20.0, 30.0], np.float32)
    return images, objects, neutral


def test_mean_fill_replaces_only_the_object_and_imputation_keeps_the_rest():
    images, objects, neutral = _inputs()
    mean = fill_removed(images, objects, "mean", 0, neutral)
    assert (mean[objects] == neutral).all() and (mean[~objects] == images[~objects]).all()
    imputed = fill_removed(images, objects, "impute", 0, neutral)
    assert np.array_equal(imputed[~objects], images[~objects])
    assert not np.allclose(imputed[objects], images[objects])
    # Imputed pixels come from the neighbours: within the image's range (plus small noise).
    assert imputed[objects].min() > -20 and imputed[objects].max() < 275
    assert np.array_equal(imputed, fill_removed(images, objects, "impute", 0, neutral))
    with pytest.raises(ValueError, match="unknown fill"):
        fill_removed(images, objects, "blur", 0, neutral)


def test_variants_paste_the_object_on_the_donors_filled_background():
    images, objects, neutral = _inputs()
    filled = fill_removed(images, objects, "mean", 0, neutral)
    x = SwapInputs(images, objects, filled, np.array([0, 0, 1, 1]), neutral)
    same, rand = pair_donors(x.classes, 0)
    v = variant_images(x, same, rand)
    idx, only = v["only_fg"]
    assert (only[:, ~objects[0]] == neutral).all()
    assert np.array_equal(only[objects], images[objects])
    idx, mixed = v["mixed_rand"]
    for row, i in enumerate(idx):
        assert np.array_equal(mixed[row][objects[i]], images[i][objects[i]])
        assert np.array_equal(mixed[row][~objects[i]], filled[rand[i]][~objects[i]])


def test_worked_example_of_docs_metrics():
    """docs/metrics.md, "Background swap": a model that reads the red channel's mean.

    Four 2 x 2 images, the object the top-left pixel. Class 0: red background (255), black
    object (0); class 1 the reverse. The model's probability of class 0 is the image's mean
    red / 255: three of four pixels are background, so it mostly reads the background."""
    red = np.array([[255, 255], [255, 255]], np.float32)
    img = np.zeros((4, 2, 2, 3), np.float32)
    img[0, ..., 0] = red
    img[1, ..., 0] = red
    img[0, 0, 0, 0] = img[1, 0, 0, 0] = 0.0        # class 0: object 0, background 255
    img[2, 0, 0, 0] = img[3, 0, 0, 0] = 255.0      # class 1: object 255, background 0
    objects = np.zeros((4, 2, 2), bool)
    objects[:, 0, 0] = True
    neutral = np.array([127.5, 0, 0], np.float32)
    filled = fill_removed(img, objects, "mean", 0, neutral)

    def predict(images):
        p0 = images[..., 0].mean(axis=(1, 2)) / 255.0
        return np.stack([p0, 1 - p0], axis=1)

    x = SwapInputs(img, objects, filled, np.array([0, 0, 1, 1]), neutral)
    values, predicted, target = swap_scores(predict, x, np.array([0, 0, 1, 1]), seed=0)
    # Unmodified: class 0 images have mean red 191.25 -> p0 = 0.75; class 1: p0 = 0.25.
    assert predicted.tolist() == [0, 0, 1, 1] and target.tolist() == [0, 0, 1, 1]
    assert values["swap.original.accuracy"].tolist() == [1, 1, 1, 1]
    # Mixed-Same: the background of the other sample of the same class (identical here).
    assert values["swap.mixed_same.accuracy"].tolist() == [1, 1, 1, 1]
    assert np.allclose(values["swap.mixed_same.prob_change"], 0)
    # Mixed-Rand: class 0's object (0) on a class 1 background (0; the donor's filled hole
    # lies under the pasted object) -> mean red 0, p0 = 0: wrong, change 0 - 0.75. Class 1's
    # object (255) on a class 0 background (255) -> p0 = 1, p1 = 0: wrong, change -0.75.
    assert values["swap.mixed_rand.accuracy"].tolist() == [0, 0, 0, 0]
    assert np.allclose(values["swap.mixed_rand.prob_change"], [-0.75] * 4)
    # BG-gap per sample: 1 - 0; its mean, the class's BG-gap, is 1: the model needs the
    # background that goes with the class.
    assert values["swap.bg_gap"].tolist() == [1, 1, 1, 1]
    assert np.allclose(values["swap.bg_gap_prob"], 0.75)
    # Only-FG: the object on 127.5: class 0 -> (0 + 3 x 127.5) / 4 = 95.625, p0 = 0.375;
    # class 1 -> (255 + 3 x 127.5) / 4 = 159.375, p1 = 0.375: both wrong, change -0.375.
    assert values["swap.only_fg.accuracy"].tolist() == [0, 0, 0, 0]
    assert np.allclose(values["swap.only_fg.prob_change"], [-0.375] * 4)


def test_a_class_the_model_cannot_output_uses_the_kept_prediction():
    images, objects, neutral = _inputs()
    filled = fill_removed(images, objects, "mean", 0, neutral)

    def predict(batch):
        return np.tile([0.2, 0.8], (len(batch), 1))

    x = SwapInputs(images, objects, filled, np.array([0, 0, 1, 1]), neutral)
    values, _, target = swap_scores(predict, x, np.array([-1, -1, -1, -1]), 0)
    assert target.tolist() == [1, 1, 1, 1]
    assert values["swap.original.accuracy"].tolist() == [1, 1, 1, 1]  # kept, by definition
    assert values["swap.mixed_rand.accuracy"].tolist() == [1, 1, 1, 1]


def test_metrics_are_registered_with_metadata():
    assert {i.id for i in INFOS} >= {"swap.bg_gap", "swap.only_fg.accuracy",
                                     "swap.mixed_rand.prob_change"}
    gap = get_metric("swap.bg_gap")
    assert gap.direction == "lower" and gap.summary == "mean" and "Xiao" in gap.reference
    assert gap.range == (-1.0, 1.0) and gap.level == "object"


def test_preprocessing_leaves_a_float_input_unchanged():
    """The swap feeds float images to the model's preprocessing: it must not divide them in
    place (it did: the test then scored every variant on images scaled to 0..1)."""
    image = np.full((4, 4, 3), 200.0, np.float32)
    Preprocessing(size=4)([image])
    assert (image == 200.0).all()
