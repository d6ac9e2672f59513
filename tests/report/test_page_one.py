"""Page 1: verdicts per model from the findings, at most three actions, the findings capped
with the rest in an appendix table, the end user's narrative at reading precision, and the
gallery through ``gallery_figures`` (tall thumbnails keep their aspect ratio)."""

from __future__ import annotations

import io
import re

import pandas as pd
from PIL import Image

from reportgen.analysis.facts import FactTable
from reportgen.analysis.findings import Finding
from reportgen.analysis.stats import group_statistics
from reportgen.exclusions import EXCLUSION_COLUMNS
from reportgen.narrative.placeholders import fill_placeholders, reading_display
from reportgen.narrative.recommendations import actions
from reportgen.narrative.written import NarrativeSection
from reportgen.report.context import build_context
from reportgen.report.html import render_html
from reportgen.report.verdicts import (
    CONFIRMED,
    NO_SHORTCUT,
    NOT_CONFIRMED,
    NOT_TESTED,
    model_verdicts,
    split_findings,
)
from reportgen.run_record import RunRecord
from reportgen.scoring import SCORE_COLUMNS


def _finding(kind, severity, effect=0.5, **subject):
    sid = "|".join(f"{k}={v}" for k, v in subject.items())
    return Finding(f"{kind}|{sid}", kind, severity, subject, f"{kind} about {sid}.", [], effect)


def _run(models=("biased", "clean"), key_findings=10, part_names=()):
    return RunRecord.from_dict({
        "title": "Page one", "versions": {"reportgen": "0", "torch": "2", "grad-cam": "1"},
        "dataset": {"name": "d", "root_name": "d", "class_names": [],
                    "part_names": list(part_names)},
        "models": list(models), "methods": ["gradcam"], "device": "cpu", "created": "now",
        "seed": 0, "config_hash": "x",
        "config": {"report": {"key_findings": key_findings}}})


def _context(findings, narrative=(), facts=None, **run):
    facts = facts or FactTable()
    for name in ("run.samples.total", "run.samples.scored", "run.samples.excluded"):
        if name not in facts:
            facts.add_value(name, 0, 0, "count")
    return build_context(facts=facts, stats=group_statistics(pd.DataFrame(
        columns=SCORE_COLUMNS)), narrative=list(narrative), findings=findings,
        exclusions=pd.DataFrame(columns=list(EXCLUSION_COLUMNS)), run=_run(**run))


def test_a_swap_confirmed_shortcut_a_heatmap_only_one_and_a_clean_model():
    findings = [_finding("class_shortcut", "high", model="biased", method="gradcam, gradcam++",
                         **{"class": "fish"}),
                _finding("class_shortcut", "low", model="biased", method="gradcam",
                         **{"class": "bird"}),
                _finding("dominant_part", "info", model="clean", method="gradcam",
                         **{"class": "fish"})]
    biased, clean = model_verdicts(findings, ["biased", "clean", "baseline"])
    # The swap refuted bird: a note in brackets, not a second alarm.
    assert biased.text == (f"relies on the background for fish — {CONFIRMED} (heat on the "
                           "background for bird, but the background swap shows the predictions "
                           f"do not depend on it: {NOT_CONFIRMED})")
    assert biased.status == "confirmed" and biased.methods == ("gradcam", "gradcam++")
    assert (clean.status, clean.text) == ("clear", NO_SHORTCUT)
    medium = [_finding("class_shortcut", "medium", model="biased", method="gradcam",
                       **{"class": "bird"})]
    refuted = [_finding("class_shortcut", "low", model="clean", method="gradcam",
                        **{"class": "bird"})]
    (note,) = model_verdicts(refuted, ["clean"])
    assert note.status == "clear" and note.text.startswith(NO_SHORTCUT + " (heat on the")
    (only,) = model_verdicts(medium, ["biased"])
    assert only.status == "suspected"
    assert only.text == f"relies on the background for bird — {NOT_TESTED}"


def test_whole_model_reliance_is_a_verdict_and_a_class_confirmed_once_is_said_once():
    findings = [_finding("background_reliance", "medium", model="m", method="gradcam"),
                _finding("class_shortcut", "high", model="m", method="gradcam",
                         **{"class": "fish"}),
                _finding("class_shortcut", "medium", model="m", method="gradcam++",
                         **{"class": "fish"})]
    (v,) = model_verdicts(findings, ["m"])
    assert v.text.count("fish") == 1 and "every class" in v.text


def test_key_findings_are_capped_most_severe_first_and_info_goes_to_the_appendix():
    findings = [_finding("neglected_part", "low", 0.9, model="m", region=f"r{i}")
                for i in range(3)]
    findings += [_finding("class_shortcut", "high", 0.2, model="m", **{"class": "c"}),
                 _finding("dominant_part", "info", 0.99, model="m", **{"class": "c"})]
    said, appendix = split_findings(findings, 2)
    assert [f.severity for f in said] == ["high", "low"]
    assert [f.severity for f in appendix] == ["low", "low", "info"]
    context = _context(findings, key_findings=2)
    assert len(context["findings"]) == 2 and len(context["appendix_findings"]) == 3
    html = render_html(context)
    assert 'id="appendix-findings"' in html and "dominant part" in html


def test_at_most_three_actions_and_one_per_model_for_its_shortcuts():
    findings = [_finding("class_shortcut", "high", model="a", method=m, **{"class": c})
                for m in ("gradcam", "gradcam++") for c in ("fish", "bird")]
    findings += [_finding(k, "medium", model="b", method="gradcam")
                 for k in ("misclassified_shift", "background_reliance", "method_difference")]
    lines = actions(findings)
    assert len(lines) == 3
    assert lines[0].startswith("Retrain a with randomised backgrounds")
    assert "fish and bird" in lines[0] or "bird and fish" in lines[0]
    assert not any(re.search(r"\d", line) for line in lines)
    assert actions([_finding("dominant_part", "info", model="a")]) == []


def test_page_one_shows_verdicts_and_actions_before_the_summary():
    findings = [_finding("class_shortcut", "high", model="biased", method="gradcam",
                         **{"class": "fish"})]
    summary = NarrativeSection("summary", "Executive summary", "Words.", "template")
    html = render_html(_context(findings, [summary]))
    assert html.index('id="run-summary"') < html.index('id="verdicts"') \
        < html.index('id="actions"') < html.index('id="summary"') < html.index('class="toc"')
    assert "<strong>clean</strong>: no shortcut found" in html


def test_the_end_user_reads_rounded_percentages_the_tables_keep_the_full_display():
    facts = FactTable()
    acc = facts.add_value("model.accuracy", 94.34, 61, "percent", "higher", model="m",
                          method="gradcam")
    near = facts.add_value("model.accuracy", 99.5, 61, "percent", "higher", model="n",
                           method="gradcam")
    n = facts.add_value("pqah.ph.n", 61, 61, "count", model="m", method="gradcam",
                        region="head", **{"class": "all"})
    text = f"Accuracy {{{{fact:{acc.id}}}}} (n = {{{{fact:{n.id}}}}}); {{{{fact:{near.id}}}}}."
    assert fill_placeholders(text, facts, "end user") == "Accuracy 94 % (n = 61); 99.5 %."
    assert fill_placeholders(text, facts, "bias reviewer") == \
        "Accuracy 94.3 % (n = 61); 99.5 %."
    assert fill_placeholders(text, facts) == fill_placeholders(text, facts, "model card")
    assert reading_display(n) == "61"
    section = NarrativeSection("summary", "Executive summary", text, "template")
    html = render_html(_context([], [section], facts=facts))
    assert "Accuracy 94 % (n = 61)" in html


def test_the_report_gallery_keeps_a_tall_photos_aspect_ratio():
    from reportgen.scoring.gallery import GalleryCollector
    from tests.report.test_gallery import (
        PANEL_GREEN,
        TALL,
        _collect,
        _panels,
        _png,
        _tall_samples,
        _under_zero_heat,
    )

    samples, heat = _tall_samples(10, count=2)
    parts = list(samples[0].part_names)
    entries = _collect(GalleryCollector(parts), samples, heat).entries()
    context = build_context(**_context_args(parts), gallery=entries)
    figures = context["gallery"]
    assert len(figures) >= 2  # legible panels: the ten tall parts over several figures
    png = _png(figures[0]["data_uri"])
    # The thumbnails (not the slivers of green the colour bar or labels may show).
    panels = [p for p in _panels(png, _under_zero_heat(PANEL_GREEN)) if min(p) >= 96]
    assert len(panels) >= 4, panels
    for ph, pw in panels:
        assert abs((ph / pw) / (TALL[0] / TALL[1]) - 1) < 0.03, panels
    with Image.open(io.BytesIO(png)) as img:
        assert img.width / 96 <= 180 / 25.4 and img.height / 96 <= 225 / 25.4


def _context_args(parts):
    facts = FactTable()
    for name in ("run.samples.total", "run.samples.scored", "run.samples.excluded"):
        facts.add_value(name, 0, 0, "count")
    run = _run(models=("partnet",), part_names=parts)
    return {"facts": facts, "stats": group_statistics(pd.DataFrame(columns=SCORE_COLUMNS)),
            "narrative": [], "findings": [], "run": run,
            "exclusions": pd.DataFrame(columns=list(EXCLUSION_COLUMNS))}

