"""SESS around CAM methods: windows, pre-filtering, fusion, and the known-answer model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reportgen.config import RunConfig
from reportgen.heatmaps import is_method, make_method, method_class
from reportgen.heatmaps.keys import context_digest
from reportgen.heatmaps.sess import window_starts

ONE_WINDOW = {"scales": [224], "smooth_sigma": 0.0}


@pytest.mark.parametrize(("side", "window", "step", "starts"), [
    (32, 32, 32, [0]), (41, 32, 32, [0, 9]), (96, 32, 32, [0, 32, 64]),
    (100, 32, 32, [0, 32, 64, 68]), (48, 32, 8, [0, 8, 16])])
def test_windows_slide_by_the_step_and_the_last_is_flush_with_the_border(side, window, step,
                                                                         starts):
    assert window_starts(side, window, step) == starts


@pytest.mark.parametrize("base", ["gradcam", "hirescam", "eigencam"])
def test_one_scale_one_window_without_smoothing_is_the_base_method(
        trained_partnet, world_inputs, base):
    plain = make_method(base).explain(trained_partnet, world_inputs)
    wrapped = make_method(f"{base}+sess", **ONE_WINDOW).explain(trained_partnet, world_inputs)
    torch.testing.assert_close(wrapped.heatmaps, plain.heatmaps, atol=1e-5, rtol=0)
    torch.testing.assert_close(wrapped.logits, plain.logits)


@pytest.mark.parametrize("fusion", ["mean", "max"])
@pytest.mark.parametrize("target", [0, 1])
def test_sess_heat_lies_on_the_blob_the_class_counts(counter, blob_pair, blob_world, fusion,
                                                     target):
    """Twelve scales (32 to 133 pixels for this 32-pixel model), 122 windows per image."""
    heat = make_method("gradcam+sess", fusion=fusion).explain(
        counter, blob_pair, [target] * 2).heatmaps.numpy()
    red, green = blob_world.RED_AT, blob_world.GREEN_AT
    wanted, other = (red, green) if target == 0 else (green, red)
    for i in range(2):
        assert blob_world.share_on(heat[i], blob_world.blob_mask(wanted[i], margin=2)) > 0.95
        assert blob_world.share_on(heat[i], blob_world.blob_mask(other[i], margin=1)) == 0
        peak = np.unravel_index(heat[i].argmax(), heat[i].shape)
        assert blob_world.blob_mask(wanted[i])[peak]


def test_sess_heatmaps_have_the_input_shape_unit_range_and_are_deterministic(counter, blob_pair):
    explainer = make_method("gradcam+sess")
    first = explainer.explain(counter, blob_pair).to_batch()
    second = explainer.explain(counter, blob_pair).to_batch()
    assert first.heatmaps.shape == (2, 32, 32) and first.heatmaps.dtype == np.float32
    assert first.heatmaps.min() >= 0
    np.testing.assert_allclose(first.heatmaps.reshape(2, -1).max(1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(first.heatmaps, second.heatmaps)
    alone = explainer.explain(counter, blob_pair[1:]).to_batch()
    np.testing.assert_allclose(alone.heatmaps[0], first.heatmaps[1], atol=1e-6)


@pytest.mark.parametrize(("ratio", "explained"), [(0.0, 122), (0.5, 61), (0.9, 13)])
def test_pre_filtering_drops_the_least_probable_share_of_the_windows(counter, blob_pair, ratio,
                                                                     explained):
    sess = make_method("gradcam+sess", pre_filter_ratio=ratio)
    seen = []
    explain = sess.inner.explain

    def counting(model, inputs, classes=None):
        seen.append(len(inputs))
        return explain(model, inputs, classes)

    sess.inner.explain = counting
    sess.explain(counter, blob_pair[:1])
    assert sum(seen) == explained


def test_a_wrapped_method_keeps_its_own_parameters(trained_partnet, world_inputs):
    sess = make_method("scorecam+sess", batch_size=64, **ONE_WINDOW)
    assert sess.inner.params == {"batch_size": 64}
    assert sess.name == "scorecam+sess"


def test_sess_parameters_and_the_base_enter_the_cache_key(counter):
    digests = {context_digest(counter, make_method(name, **params)) for name, params in [
        ("gradcam", {}), ("gradcam+sess", {}), ("gradcam+sess", {"scales": [224, 288]}),
        ("gradcam+sess", {"fusion": "max"}), ("hirescam+sess", {})]}
    assert len(digests) == 5


def test_any_registered_method_can_be_wrapped_and_unknown_ones_cannot():
    assert is_method("gradcam+sess") and is_method("gradcam+++sess")
    assert method_class("gradcam+sess") is method_class("gradcam+sess")
    assert not is_method("gradkam+sess") and not is_method("gradcam+sess+sess")
    with pytest.raises(ValueError, match="unknown method 'gradkam\\+sess'"):
        make_method("gradkam+sess")


@pytest.mark.parametrize(("params", "message"), [
    ({"fusion": "median"}, "fusion"), ({"pre_filter_ratio": 1.0}, "pre_filter_ratio"),
    ({"scales": [112]}, "scales"), ({"windows": 3}, "unknown parameters")])
def test_bad_sess_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        make_method("gradcam+sess", **params)


def test_the_config_selects_a_wrapped_method_with_its_parameters(tmp_path):
    config = RunConfig(dataset={"root": tmp_path}, models=[{"arch": "resnet18",
                                                           "num_classes": 2}],
                       methods=["gradcam", "gradcam+sess", "igos"],
                       method_params={"gradcam+sess": {"scales": [224, 448]}})
    assert config.methods[1] == "gradcam+sess"
    with pytest.raises(ValueError, match="unknown parameters"):
        RunConfig(dataset={"root": tmp_path}, models=[{"arch": "resnet18", "num_classes": 2}],
                  methods=["gradcam+sess"], method_params={"gradcam+sess": {"scale": [224]}})
    with pytest.raises(ValueError, match="unknown methods"):
        RunConfig(dataset={"root": tmp_path}, models=[{"arch": "resnet18", "num_classes": 2}],
                  methods=["gradcam+ses"])
