"""Fact placeholders: the narrative names facts, filling shows their display strings."""

from __future__ import annotations

import re

import pytest

from reportgen.analysis.facts import FactTable
from reportgen.narrative.placeholders import fill_placeholders, placeholder, referenced_facts

PH = "pqah.ph.q2|model=partnet|method=gradcam|class=all|region=head"


def _facts() -> FactTable:
    table = FactTable()
    table.add_value("pqah.ph.q2", 0.4267, 12, "fraction", "higher", model="partnet",
                    method="gradcam", region="head", **{"class": "all"})
    table.add_value("run.samples.total", 1500, 1500, "count")
    table.add_value("model.accuracy", 91.25, 40, "percent", "higher", model="partnet",
                    method="gradcam")
    return table


def test_placeholder_wraps_the_id():
    assert placeholder("run.samples.total") == "{{fact:run.samples.total}}"


def test_fill_placeholders_substitutes_display_strings():
    text = (f"Median PH {placeholder(PH)} over {placeholder('run.samples.total')} images; "
            f"accuracy {placeholder('model.accuracy|model=partnet|method=gradcam')}.")
    assert fill_placeholders(text, _facts()) == \
        "Median PH 0.43 over 1,500 images; accuracy 91.2 %."


def test_fill_placeholders_replaces_every_occurrence():
    text = f"{placeholder(PH)} and again {placeholder(PH)}"
    assert fill_placeholders(text, _facts()) == "0.43 and again 0.43"


def test_fill_placeholders_leaves_text_without_placeholders_unchanged():
    text = "No numbers {here} or {{there}}."
    assert fill_placeholders(text, _facts()) == text


def test_fill_placeholders_raises_key_error_for_unknown_ids():
    text = f"known {placeholder(PH)}, unknown {placeholder('pqah.ph.q2|model=nope')}"
    with pytest.raises(KeyError, match=re.escape("pqah.ph.q2|model=nope")):
        fill_placeholders(text, _facts())


def test_fill_placeholders_on_an_empty_table_raises_for_any_reference():
    with pytest.raises(KeyError):
        fill_placeholders(placeholder("run.samples.total"), FactTable())


def test_referenced_facts_lists_ids_in_order_of_appearance():
    text = (f"a {placeholder('run.samples.total')} b {placeholder(PH)} "
            f"c {placeholder('run.samples.total')}")
    assert referenced_facts(text) == ["run.samples.total", PH, "run.samples.total"]


def test_referenced_facts_of_plain_text_is_empty():
    assert referenced_facts("Nothing to see: {fact:x} {{ fact }}") == []
