"""docs/methods.md and its example config: every parameter documented with its real default,
the example runs the new methods on the sample, and the demo gains no slow method."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from reportgen.config_yaml import load_config
from reportgen.heatmaps import METHODS, method_class
from reportgen.heatmaps.sess import SESS

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLE = DOCS / "examples" / "optimised-methods.yaml"
SLOW = {"igos", "igos++", "sag"}


def documented_defaults(heading: str) -> dict[str, str]:
    """parameter -> default cell of the first table after ``heading`` in docs/methods.md."""
    text = (DOCS / "methods.md").read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\|\s*`([a-z_0-9]+)`\s*\|\s*([^|]+)\|", line)
        if match:
            rows[match[1]] = match[2].strip()
        elif rows and not line.startswith("|"):
            break
    return rows


@pytest.mark.parametrize(("heading", "defaults"), [
    ("### Parameters (both", METHODS["igos"].defaults), ("## SESS", SESS.own_defaults),
    ("## SAG", METHODS["sag"].defaults)])
def test_every_parameter_is_documented_with_its_default(heading, defaults):
    rows = documented_defaults(heading)
    assert set(rows) == set(defaults)
    for name, value in defaults.items():
        cell = rows[name].split("(")[0].strip().strip("`")
        if name == "scales":
            assert cell == "[224, 288, ..., 928]" and value[:2] == [224, 288] and value[-1] == 928
        else:
            assert yaml.safe_load(cell) == value, name


def test_igos_and_igos_plus_plus_share_their_parameters():
    assert METHODS["igos"].defaults == METHODS["igos++"].defaults


def test_the_example_config_runs_the_new_methods_on_the_sample():
    config = load_config(EXAMPLE)
    assert {"igos", "igos++", "gradcam+sess", "sag"} <= set(config.methods)
    assert config.dataset.root.is_dir()
    assert all(model.spec.is_file() for model in config.models)
    for name, params in config.method_params.items():
        method_class(name)(**params)


def test_the_demo_config_has_no_slow_method():
    from reportgen.demo import demo_config

    methods = set(demo_config().methods)
    assert not methods & SLOW and not any(m.endswith("+sess") for m in methods)


@pytest.mark.slow
def test_the_example_scores_every_new_method_like_the_cams(tmp_path):
    """The example's methods on two sample images (quick parameters), through the pipeline."""
    from reportgen.api import evaluate

    quick = {"iterations": 3, "ig_steps": 4, "mask_size": 8, "l1": 0.01}
    report = evaluate(EXAMPLE, out=tmp_path, limit=2, narrative={"writer": "template"},
                      method_params={"igos": quick, "igos++": quick,
                                     "gradcam+sess": {"scales": [224, 448]},
                                     "sag": {"grid": 4, "ranking_iterations": 0,
                                             "baseline": "blur"}},
                      faithfulness={"max_samples": 2}, counterfactual={"enabled": False})
    scored = report.scores.groupby("method")["metric"].apply(set)
    for method in ("igos", "igos++", "gradcam+sess", "sag"):
        assert scored[method] == scored["gradcam"], method
