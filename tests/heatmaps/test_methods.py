"""Every method on a tiny CNN and a tiny ViT; targets; parameters; the registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reportgen.heatmaps import METHODS, MethodUnavailable, make_method
from reportgen.heatmaps.base import HeatmapMethod, register_method
from reportgen.heatmaps.targets import ClassScore, choose_classes

CAMS = {"gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "eigencam", "scorecam",
        "ablationcam", "fullgrad"}
ATTRIBUTIONS = {"integrated_gradients", "gradient_shap", "occlusion", "lime", "shap_gradient"}
OPTIMISED = {"igos", "igos++", "sag"}  # search/optimisation (test_igos.py, test_sag.py)
# Small settings so the perturbation and attribution methods stay quick on tiny models.
QUICK = {"igos": {"mask_size": 8, "iterations": 2, "ig_steps": 4, "l1": 0.01},
         "igos++": {"mask_size": 8, "iterations": 2, "ig_steps": 4, "l1": 0.01},
         "sag": {"grid": 4, "ranking_iterations": 0, "max_explanations": 2},
         "scorecam": {"batch_size": 64}, "ablationcam": {"batch_size": 64},
         "integrated_gradients": {"n_steps": 8}, "gradient_shap": {"n_samples": 4},
         "shap_gradient": {"n_samples": 4},
         "occlusion": {"window": 16, "stride": 16}, "lime": {"n_samples": 24, "cell": 16}}


# One forward pass per channel of the target layer (the CNN has many) or per occluded window,
# and per image: two of the CNN's images suffice for these.
MANY_PASSES = {"scorecam", "ablationcam", "occlusion", "igos", "igos++", "sag"}


def quick(name: str) -> HeatmapMethod:
    if name in ATTRIBUTIONS:
        pytest.importorskip("captum")
    return make_method(name, **QUICK.get(name, {}))


def test_the_registry_has_the_cam_family_and_the_attribution_methods():
    assert set(METHODS) == CAMS | ATTRIBUTIONS | OPTIMISED


@pytest.mark.parametrize("model_name", ["cnn", "vit"])
@pytest.mark.parametrize("method", sorted(CAMS | ATTRIBUTIONS | OPTIMISED))
def test_every_method_gives_one_informative_heatmap_per_image(request, method, model_name):
    model, inputs = {"cnn": ("trained_partnet", "world_inputs"),
                     "vit": ("tiny_vit", "vit_inputs")}[model_name]
    model, inputs = request.getfixturevalue(model), request.getfixturevalue(inputs)
    if method in MANY_PASSES and model_name == "cnn":
        inputs = inputs[:2]
    batch = quick(method).explain(model, inputs).to_batch()
    n, size = len(inputs), inputs.shape[-1]
    assert batch.heatmaps.shape == (n, size, size)
    assert batch.heatmaps.dtype == np.float32
    assert np.isfinite(batch.heatmaps).all()
    peak = np.abs(batch.heatmaps).reshape(n, -1).max(axis=1)
    # scaled per image to a peak of 1 (0 only when the method finds no evidence at all)
    assert np.all((np.abs(peak - 1) < 1e-5) | (peak == 0)) and (peak > 0).any()
    if method in CAMS:
        assert batch.heatmaps.min() >= 0
    else:
        assert batch.heatmaps.min() >= -1
    assert batch.predicted.shape == batch.target.shape == batch.probability.shape == (n,)
    assert ((batch.probability > 0) & (batch.probability <= 1)).all()


@pytest.mark.parametrize("method", ["gradcam", "fullgrad", "occlusion"])
def test_ground_truth_classes_are_explained_instead_of_the_predicted_ones(
        trained_partnet, world_inputs, method):
    explainer = quick(method)
    inputs = world_inputs[:2] if method in MANY_PASSES else world_inputs
    predicted = explainer.explain(trained_partnet, inputs).to_batch()
    other = (predicted.predicted + 1) % trained_partnet.spec.num_classes
    given = explainer.explain(trained_partnet, inputs, other).to_batch()
    np.testing.assert_array_equal(predicted.target, predicted.predicted)
    np.testing.assert_array_equal(given.target, other)
    np.testing.assert_array_equal(given.predicted, predicted.predicted)  # still reported
    assert not np.allclose(given.heatmaps, predicted.heatmaps)


def test_class_score_is_the_logit_of_each_rows_class():
    logits = torch.tensor([[0.0, 1.0, 2.0], [5.0, 4.0, 3.0]])
    score = ClassScore(torch.tensor([2, 1]))
    assert score(logits).tolist() == [2.0, 4.0]
    assert score.of(0, 3)(logits[[1, 1, 1]]).tolist() == [3.0, 3.0, 3.0]


def test_choose_classes_defaults_to_the_argmax_and_checks_given_classes():
    logits = torch.tensor([[0.0, 1.0, 2.0], [5.0, 4.0, 3.0]])
    assert choose_classes(logits, None).tolist() == [2, 0]
    assert choose_classes(logits, [1, 1]).tolist() == [1, 1]
    with pytest.raises(ValueError, match="expected 2 target classes"):
        choose_classes(logits, [1])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        choose_classes(logits, [0, 3])


def test_unknown_method_and_unknown_parameter_are_clear_errors():
    with pytest.raises(ValueError, match="unknown method 'gradkam'"):
        make_method("gradkam")
    with pytest.raises(ValueError, match=r"scorecam: unknown parameters \['steps'\]"):
        make_method("scorecam", steps=3)


def test_parameters_merge_with_the_defaults():
    assert make_method("scorecam").params == {"batch_size": 16}
    assert make_method("scorecam", batch_size=4).params == {"batch_size": 4}


def test_a_method_needing_a_missing_package_fails_fast_naming_the_extra():
    @register_method
    class NeedsMissing(HeatmapMethod):
        name = "needs-missing"
        requires = "reportgen_no_such_package"

    try:
        with pytest.raises(MethodUnavailable, match=r"reportgen\[attr\]"):
            make_method("needs-missing")
    finally:
        METHODS.pop("needs-missing")
