"""The demo's run configuration: the built-in sample and its model."""

from __future__ import annotations

from reportgen.config import RunConfig
from reportgen.config_yaml import config_from_dict
from reportgen.resources import sample_data_dir


def demo_config(cache: bool = True) -> RunConfig:
    root = sample_data_dir()
    return config_from_dict({
        "title": "reportgen demo: does PartNet take the background shortcut?",
        "dataset": {"root": root / "parts_world"},
        "models": [{"spec": root / "models" / "partnet_biased.json"},
                   {"spec": root / "models" / "partnet_debiased.json"}],
        "methods": ["gradcam", "gradcam++"],
        "batch_size": 50,
        "device": "cpu",
        "seed": 0,
        "cache": cache,
        # Faithfulness needs ~22 forward passes and 18 sparse solves per heatmap: score the
        # first 32 images so that the demo stays around half a minute.
        "faithfulness": {"max_samples": 32},
    }, source="built-in demo config")
