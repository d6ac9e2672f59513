"""Keep the README true: its config example validates, its picture exists, its commands exist."""

import re
from pathlib import Path

import yaml

from reportgen.config_yaml import config_from_dict

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_config_example_is_a_valid_run_config():
    (block,) = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    config = config_from_dict(yaml.safe_load(block))
    assert config.models[0].arch == "resnet18"
    assert config.methods == ["gradcam", "gradcam++"]


def test_readme_picture_exists_and_the_two_commands_are_make_targets():
    (picture,) = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert (REPO / picture).stat().st_size > 10_000
    makefile = (REPO / "Makefile").read_text()
    for target in ("demo", "test"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", makefile, flags=re.M)
