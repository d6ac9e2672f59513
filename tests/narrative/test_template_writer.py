"""The template writer: plain sentences from the facts, numbers only through placeholders."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

import reportgen.metrics  # noqa: F401  (registers the PQAH metrics)
from reportgen.analysis.facts import FactTable, facts_from_statistics
from reportgen.analysis.stats import group_statistics
from reportgen.narrative.placeholders import PLACEHOLDER, fill_placeholders, referenced_facts
from reportgen.narrative.template_writer import TemplateWriter
from reportgen.scoring import SCORE_COLUMNS

# Median PH per region: "body" is highest (not first in part order), "tail" lowest.
CENTRES = {"background": 0.15, "head": 0.45, "body": 0.7, "tail": 0.2}


def _scores(models=("partnet",), methods=("gradcam",), centres=CENTRES, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for model in models:
        for method in methods:
            for cls in ("cat", "fish"):
                for i in range(8):
                    for region, centre in centres.items():
                        for metric in ("pqah.ph", "pqah.precision", "pqah.recall"):
                            value = float(np.clip(centre + rng.normal(0, 0.03), 0, 1))
                            rows.append({
                                "image_id": f"{cls}-{i}", "object_id": 0, "class_name": cls,
                                "target_class": cls, "predicted_class": cls, "correct": True,
                                "model": model, "method": method, "region": region,
                                "metric": metric, "value": value,
                            })
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def _facts(**kwargs) -> FactTable:
    return facts_from_statistics(group_statistics(_scores(**kwargs), seed=0))


def _strip(text: str) -> str:
    return PLACEHOLDER.sub("", text)


def test_summary_names_the_region_with_the_highest_median_ph():
    facts = _facts()
    section = TemplateWriter().summary(facts)
    best = "pqah.ph.q2|model=partnet|method=gradcam|class=all|region=body"
    worst = "pqah.ph.q2|model=partnet|method=gradcam|class=all|region=tail"
    assert facts[best].value > facts["pqah.ph.q2|model=partnet|method=gradcam|class=all"
                                     "|region=head"].value
    assert "overlap most with the body (median PH {{fact:" + best + "}}" in section.text
    assert "least with the tail (median PH {{fact:" + worst + "}}" in section.text


def test_summary_follows_the_data_when_the_best_region_changes():
    centres = {"background": 0.1, "head": 0.8, "body": 0.3, "tail": 0.5}
    section = TemplateWriter().summary(_facts(centres=centres))
    assert "overlap most with the head" in section.text
    assert "least with the body" in section.text


def test_summary_reports_the_background_heat_share_quartiles():
    text = TemplateWriter().summary(_facts()).text
    for stat in ("q2", "q1", "q3"):
        fid = f"pqah.precision.{stat}|model=partnet|method=gradcam|class=all|region=background"
        assert "{{fact:" + fid + "}}" in text


def test_summary_has_one_paragraph_per_model_and_method():
    facts = _facts(models=("alpha", "beta"), methods=("gradcam", "scorecam"))
    paragraphs = TemplateWriter().summary(facts).text.split("\n\n")
    assert len(paragraphs) == 4
    assert paragraphs[0].startswith("For model alpha explained with gradcam,")
    assert paragraphs[3].startswith("For model beta explained with scorecam,")


def test_summary_contains_no_literal_digit_outside_placeholders():
    section = TemplateWriter().summary(_facts(models=("alpha", "beta")))
    assert "{{fact:" in section.text
    assert not re.search(r"\d", _strip(section.text)), _strip(section.text)
    # ... while the filled text does show numbers.
    assert re.search(r"\d", fill_placeholders(section.text, _facts(models=("alpha", "beta"))))


def test_summary_references_only_existing_facts():
    facts = _facts(models=("alpha", "beta"))
    section = TemplateWriter().summary(facts)
    ids = referenced_facts(section.text)
    assert len(ids) == 2 * 6
    assert all(fid in facts for fid in ids)
    assert section.fact_ids == ids
    fill_placeholders(section.text, facts)  # raises KeyError on an unknown id


def test_summary_section_metadata():
    section = TemplateWriter().summary(_facts())
    assert section.section == "summary"
    assert section.title == "Executive summary"
    assert section.writer == "template"
    assert section.guard == "not needed"


def test_summary_is_deterministic():
    facts = _facts(models=("alpha", "beta"), methods=("gradcam", "scorecam"))
    a = TemplateWriter().summary(facts)
    b = TemplateWriter().summary(facts)
    reordered = FactTable(reversed(list(facts)))
    c = TemplateWriter().summary(reordered)
    assert a == b
    assert a.text == c.text
    assert a.fact_ids == c.fact_ids


def test_summary_of_an_empty_table_says_nothing_could_be_scored():
    section = TemplateWriter().summary(FactTable())
    assert section.text == "No sample could be scored, so there is nothing to summarise."
    assert section.fact_ids == []
    assert not re.search(r"\d", section.text)


def test_summary_of_a_table_with_only_run_counts_has_no_findings():
    table = FactTable()
    table.add_value("run.samples.total", 3, 3, "count")
    section = TemplateWriter().summary(table)
    assert section.fact_ids == []
    assert "nothing to summarise" in section.text
