import pytest

from reportgen.analysis.facts import FactTable
from reportgen.conditions import evaluate_conditions, parse_condition
from reportgen.errors import ConfigError


@pytest.fixture()
def facts():
    t = FactTable()
    for model, v in (("a", 0.62), ("b", 0.31)):
        t.add_value("pqah.precision.q2", v, 50, "share", "higher", model=model,
                    method="gradcam", **{"class": "all"}, region="background")
    t.add_value("pqah.precision.q2", 0.9, 12, "share", "higher", model="a", method="gradcam",
                **{"class": "all"}, region="background", subset="misclassified")
    return t


def test_parse_condition_reads_name_dimensions_operator_and_number():
    c = parse_condition("pqah.ph.q2|region=background|model=a >= 0.4")
    assert (c.name, c.dims, c.op, c.threshold) == ("pqah.ph.q2", {"region": "background",
                                                                 "model": "a"}, ">=", 0.4)


@pytest.mark.parametrize("bad", ["pqah.ph.q2 0.4", "pqah.ph.q2 > high", "x|region > 1",
                                 "> 0.4"])
def test_malformed_conditions_are_config_errors(bad):
    with pytest.raises(ConfigError, match="condition"):
        parse_condition(bad)


def test_condition_fails_when_any_matching_fact_satisfies_it(facts):
    (r,) = evaluate_conditions(["pqah.precision.q2|region=background > 0.4"], facts)
    assert r.failed and len(r.matched) == 2  # the misclassified subset is not matched
    assert r.triggered == ["pqah.precision.q2|model=a|method=gradcam|class=all|region=background"]


def test_condition_passes_when_no_matching_fact_satisfies_it(facts):
    (r,) = evaluate_conditions(["pqah.precision.q2|region=background > 0.7"], facts)
    assert not r.failed and r.triggered == []


def test_subset_facts_are_matched_only_when_asked_for(facts):
    (r,) = evaluate_conditions(
        ["pqah.precision.q2|region=background|subset=misclassified > 0.7"], facts)
    assert r.failed and len(r.matched) == 1


def test_a_condition_that_matches_nothing_fails_rather_than_passing_silently(facts):
    (r,) = evaluate_conditions(["pqah.ph.q2|region=wheel > 0.1"], facts)
    assert r.failed and r.reason == "no fact matches this condition"
