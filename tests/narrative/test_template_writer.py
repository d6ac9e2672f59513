"""The template writer: plain sentences from the facts, numbers only through placeholders."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import reportgen.metrics  # noqa: F401  (registers the PQAH metrics)
from reportgen.analysis.facts import FactTable, facts_from_statistics
from reportgen.analysis.stats import group_statistics
from reportgen.narrative.guard import check_text
from reportgen.narrative.placeholders import PLACEHOLDER, fill_placeholders, referenced_facts
from reportgen.narrative.prompts import section_guard
from reportgen.narrative.sections import get_section
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


def test_summary_gives_each_model_its_background_share_over_all_classes():
    facts = _facts(models=("alpha", "beta"), methods=("gradcam", "scorecam"))
    text = TemplateWriter().summary(facts).text
    for model in ("alpha", "beta"):
        share = f"pqah.precision.q2|model={model}|method=gradcam|class=all|region=background"
        assert f"With gradcam, a median {{{{fact:{share}}}}} of {model}'s heat falls on the " \
               "background across all classes." in text
    assert "scorecam" not in text  # one line per model, with its first method
    assert text.endswith("No rule flagged a problem that needs attention.")


def test_summary_states_the_accuracy_when_the_run_has_it():
    facts = _facts()
    acc = facts.add_value("model.accuracy", 94.3, 16, "percent", "higher", model="partnet",
                          method="gradcam")
    text = TemplateWriter().summary(facts).text
    assert text.startswith(f"Model partnet classifies {{{{fact:{acc.id}}}}} of the images "
                           "correctly; with gradcam, a median {{fact:pqah.precision.q2|")


def test_summary_says_high_findings_first_in_short_form_without_test_statistics(facts,
                                                                                findings):
    text = _write("summary", facts, findings).text
    # High means confirmed by the background swap (issue 16), and the summary says so.
    assert text.startswith("Needs attention: partnet uses the background as a shortcut for "
                           "fish (shown by swapping backgrounds): when it explains fish, "
                           "a median {{fact:")
    assert "Also worth knowing: partnet leans on the background overall" in text
    assert findings[0].statement not in text
    assert not re.search(r"Cliff|Holm|confidence interval|p-value", text)


def test_summary_has_at_most_150_words_whatever_the_findings(facts, findings):
    many = [replace(findings[0], id=f"class_shortcut|{i}", subject={
        **findings[0].subject, "model": f"partnet{i}"}) for i in range(12)]
    text = _write("summary", facts, many).text
    assert len(PLACEHOLDER.sub("0", text).split()) <= 150


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
    assert len(ids) == 2  # one background share per model
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


# Every section from facts and findings (hand-written run of the conftest).

SECTION_TITLES = {"summary": "Executive summary", "per_class": "Per-class critique",
                  "bias": "Bias review", "recommendations": "Recommendations",
                  "limitations": "Limitations"}


def _write(section, facts, findings, audience="end user"):
    return TemplateWriter().write_section(section, facts, findings, audience)


@pytest.mark.parametrize("section", SECTION_TITLES)
def test_every_section_passes_the_guard_and_shows_only_fact_numbers(section, facts, findings,
                                                                     no_invented_numbers):
    written = _write(section, facts, findings)
    assert written.title == SECTION_TITLES[section]
    assert written.writer == "template" and written.guard == "not needed"
    assert written.fact_ids and all(fid in facts for fid in written.fact_ids)
    no_invented_numbers(written.text, facts)
    spec = get_section(section)
    verdict = check_text(written.text, section_guard(spec, facts, findings))
    assert verdict.ok, verdict.reasons


@pytest.mark.parametrize("section", ["summary", "bias", "recommendations"])
def test_the_high_severity_finding_is_cited_where_it_is_required(section, facts, findings):
    shortcut = findings[0]
    assert shortcut.severity == "high"
    text = _write(section, facts, findings).text
    assert "{{fact:" + shortcut.evidence[0] + "}}" in text
    # Said in full (with its statistics) once: in the bias review.
    assert (shortcut.statement.strip() in text) == (section == "bias")


def test_per_class_has_one_paragraph_per_class_and_leaves_the_background_to_the_bias_review(
        facts, findings):
    paragraphs = _write("per_class", facts, findings).text.split("\n\n")
    assert [p.split(",")[0] for p in paragraphs] == ["For class bird", "For class fish"]
    assert "overlaps most with the body" in paragraphs[0]
    assert "shortcut" not in " ".join(paragraphs)


def test_bias_review_without_bias_findings_says_so(facts, findings):
    text = _write("bias", facts, [f for f in findings if f.kind == "dominant_part"]).text
    assert text.startswith("No rule flagged a reliance on the background")
    assert "largest for class fish" in text and "smallest for class bird" in text


def test_recommendations_give_advice_per_important_finding(facts, findings):
    paragraphs = _write("recommendations", facts, findings).text.split("\n\n")
    assert len(paragraphs) == 2  # the high and the medium finding; not the info one
    assert "training images" in paragraphs[0] and "backgrounds" in paragraphs[1]
    assert "No finding calls for action" in _write("recommendations", facts, []).text


def test_limitations_state_the_sample_counts_and_the_smallest_class(facts, findings):
    written = _write("limitations", facts, findings)
    for fid in ("run.samples.scored", "run.samples.total", "run.samples.excluded",
                "pqah.ph.n|model=partnet|method=gradcam|class=bird|region=background"):
        assert fid in written.fact_ids
    assert "not proof of what the model uses" in written.text


def test_a_finding_caveat_is_said_with_it(facts, findings):
    caveated = [replace(findings[0], caveat="rests on heatmaps that failed the ROAD check")]
    assert "(Caveat: rests on heatmaps that failed the ROAD check.)" in _write(
        "bias", facts, caveated).text


def test_sections_record_the_audience_and_are_deterministic(facts, findings):
    a = _write("summary", facts, findings, "model card")
    assert a.audience == "model card"
    assert a == _write("summary", FactTable(reversed(list(facts))), list(reversed(findings)),
                       "model card")


def test_braces_in_a_name_cannot_forge_a_placeholder():
    facts = _facts()
    facts.add_value("run.x", 7, 7, "count")
    facts.add_value("pqah.ph.q2", 0.5, 3, "fraction", "higher", model="{{fact:run.x}}",
                    method="gradcam", region="head", **{"class": "all"})
    facts.add_value("pqah.ph.q2", 0.5, 3, "fraction", "higher", model="partnet",
                    method="gradcam", region="head", **{"class": "{{fact:run.x}}"})
    for section in SECTION_TITLES:
        text = _write(section, facts, []).text
        assert "run.x" not in referenced_facts(text)
        fill_placeholders(text, facts)


def test_subset_and_baseline_facts_do_not_make_their_own_paragraphs(facts, findings):
    facts.add_value("pqah.ph.q2", 0.9, 5, "fraction", "higher", model="partnet",
                    method="gradcam", region="head", subset="correct", **{"class": "all"})
    facts.add_value("pqah.ph.q2", 0.1, 5, "fraction", "higher", model="baseline",
                    method="random", region="head", **{"class": "all"})
    text = _write("summary", facts, findings).text
    assert "baseline" not in text and "subset=correct" not in text
