import numpy as np
import pytest
import torch

from reportgen.heatmaps import make_method
from reportgen.heatmaps.compute import METHODS, compute_heatmaps
from reportgen.models.loading import ModelSpec, load_model
from reportgen.resources import sample_data_dir
from reportgen.sample_data.train import PREPROCESSING


@pytest.fixture(scope="module")
def inputs(world_samples):
    return PREPROCESSING([s.image for s in world_samples[:4]])


# I-GOS and iGOS++ optimise a mask for ~15 x 2 x 20 passes per image, SAG searches patch sets:
# their defaults run in test_igos.py's and test_sag.py's tests, on a smaller model; so does
# shap_gradient's (32 backward passes per image) in test_shap_gradient.py.
@pytest.mark.parametrize("method", sorted(m for m in METHODS if METHODS[m].requires is None
                                          and m not in ("igos", "igos++", "sag",
                                                        "shap_gradient")))
def test_every_cam_method_gives_one_finite_heatmap_per_image(random_partnet, inputs, method):
    """With default parameters (test_methods.py runs every method, captum's included)."""
    # ScoreCAM and AblationCAM run one forward pass per channel and image: two images are
    # enough to check the batch there (about a second less in the fast loop)
    inputs = inputs[:2] if method in ("scorecam", "ablationcam") else inputs
    n = len(inputs)
    batch = compute_heatmaps(random_partnet, inputs, method)
    assert batch.heatmaps.shape == (n, 96, 96)
    assert batch.heatmaps.dtype == np.float32
    assert np.isfinite(batch.heatmaps).all()
    assert batch.predicted.shape == batch.target.shape == batch.probability.shape == (n,)
    assert ((batch.probability > 0) & (batch.probability <= 1)).all()


def test_default_target_is_the_predicted_class(random_partnet, inputs):
    batch = compute_heatmaps(random_partnet, inputs)
    with torch.no_grad():
        expected = random_partnet.module(inputs).argmax(1).numpy()
    np.testing.assert_array_equal(batch.predicted, expected)
    np.testing.assert_array_equal(batch.target, expected)


def test_explicit_targets_change_the_heatmap(random_partnet, inputs):
    a = compute_heatmaps(random_partnet, inputs, targets=np.zeros(4, dtype=np.int64))
    b = compute_heatmaps(random_partnet, inputs, targets=np.full(4, 3, dtype=np.int64))
    assert a.target.tolist() == [0] * 4 and b.target.tolist() == [3] * 4
    assert not np.allclose(a.heatmaps, b.heatmaps)


def test_a_method_instance_with_parameters_is_accepted(random_partnet, inputs):
    batch = compute_heatmaps(random_partnet, inputs[:2], make_method("ablationcam", batch_size=64))
    assert batch.heatmaps.shape == (2, 96, 96)


def test_unknown_method_is_a_clear_error(random_partnet, inputs):
    with pytest.raises(ValueError, match="unknown method 'gradkam'"):
        compute_heatmaps(random_partnet, inputs, "gradkam")


def test_shipped_model_heats_the_object_more_than_chance(world_samples):
    """The trained sample model's Grad-CAM puts more heat on the object than its area share."""
    model = load_model(ModelSpec.from_file(sample_data_dir() / "models" / "partnet_biased.json"))
    inputs = model.spec.preprocessing([s.image for s in world_samples])
    heat = compute_heatmaps(model, inputs).heatmaps
    obj = np.stack([s.labels > 0 for s in world_samples])
    heat_on_object = (heat * obj).sum(axis=(1, 2)) / heat.sum(axis=(1, 2))
    area_share = obj.mean(axis=(1, 2))
    assert (heat_on_object > area_share).mean() >= 0.75
