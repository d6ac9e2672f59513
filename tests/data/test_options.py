"""Format options: frozen dataclasses checked against their type hints, one-line errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from reportgen.data.options import check_names, parse_options, read_class_map
from reportgen.errors import DatasetError


@dataclass(frozen=True)
class _Options:
    path: str
    count: int = 1
    ratio: float = 0.5
    strict: bool = False
    mode: Literal["a", "b"] = "a"
    names: tuple[str, ...] | None = None
    groups: dict[str, tuple[str, ...]] | None = None


def _error(raw: dict) -> str:
    with pytest.raises(DatasetError) as info:
        parse_options(_Options, raw, "spec.yaml")
    assert str(info.value).startswith("spec.yaml: ") and "\n" not in str(info.value)
    return str(info.value)


def test_values_are_checked_and_lists_become_tuples():
    options = parse_options(_Options, {"path": "x", "count": 3, "ratio": 2, "strict": True,
                                       "mode": "b", "names": ["p", "q"],
                                       "groups": {"g": ["p"]}}, "spec")
    assert options == _Options("x", 3, 2.0, True, "b", ("p", "q"), {"g": ("p",)})


def test_defaults_fill_what_is_not_given():
    assert parse_options(_Options, {"path": "x"}, "spec") == _Options("x")


@pytest.mark.parametrize("raw, message", [
    ({}, "option 'path' is required"),
    ({"path": "x", "colour": 1}, "unknown option(s) ['colour']"),
    ({"path": "x", "count": True}, "option 'count' must be an integer"),
    ({"path": "x", "count": 1.5}, "option 'count' must be an integer"),
    ({"path": "x", "strict": "yes"}, "option 'strict' must be true or false"),
    ({"path": "x", "mode": "c"}, "must be one of ['a', 'b']"),
    ({"path": "x", "names": "p"}, "option 'names' must be a list or empty"),
    ({"path": "x", "names": ["p", 3]}, "option 'names'"),
    ({"path": "x", "groups": {"g": "p"}}, "option 'groups'"),
])
def test_wrong_options_name_the_option_and_the_expected_type(raw, message):
    assert message in _error(raw)


def test_names_must_be_unique_and_non_empty():
    assert check_names(["a", "b"], "parts", "w") == ("a", "b")
    for names, message in ((["a", "a"], "duplicate names ['a']"), ([], "is empty"),
                           (["a", ""], "non-empty names")):
        with pytest.raises(DatasetError) as info:
            check_names(names, "parts", "w")
        assert message in str(info.value)


def test_class_map_must_map_keys_to_class_names(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("n01440764: tench\n17: goldfish\n")
    assert read_class_map(good) == {"n01440764": "tench", "17": "goldfish"}
    bad = tmp_path / "bad.json"
    bad.write_text('["tench"]')
    with pytest.raises(DatasetError, match="must map ids or file names to class names"):
        read_class_map(bad)
