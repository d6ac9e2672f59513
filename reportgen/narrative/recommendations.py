"""Deterministic recommendations from the findings: what to do about each problem found."""

from __future__ import annotations

from reportgen.analysis.findings import Finding
from reportgen.narrative.placeholders import referenced_facts
from reportgen.narrative.section import NarrativeSection


def _name(text: str) -> str:
    """A dataset or model name as plain text: braces could forge a fact placeholder."""
    return text.replace("{", "(").replace("}", ")")


def recommendations(findings: list[Finding]) -> NarrativeSection:
    """One paragraph per actionable finding kind, most severe first; numbers as placeholders."""
    paragraphs = []
    shortcuts = [f for f in findings if f.kind == "class_shortcut"]
    for f in shortcuts:
        model, cls = _name(f.subject["model"]), _name(f.subject["class"])
        paragraphs.append(
            f"{model} may recognise {cls} by its background (see the key findings). Retrain it "
            f"with background randomisation: use the part labels to replace the background of "
            f"every training image with a random one, so that no background cue stays "
            f"correlated with {cls}; then run reportgen again and check that the background "
            f"share for {cls} falls to the level of the other classes.")
    fixed = [f for f in findings if f.kind == "model_difference" and "class" in f.subject
             and f.subject.get("region") == "background" and f.effect_size > 0]
    for f in fixed:
        a, b = (_name(x.strip()) for x in f.subject["model"].split(" vs "))
        evidence = next((e for e in f.evidence if ".median_difference|" in e), None)
        if evidence:
            paragraphs.append(
                f"For class {_name(f.subject['class'])}, {b} puts less of its heat on the "
                f"background than {a} on the same images (median difference "
                f"{{{{fact:{evidence}}}}}): prefer {b}'s training recipe.")
    if any(f.kind == "faithfulness_caveat" for f in findings):
        paragraphs.append("Some heatmaps failed the ROAD faithfulness check: confirm the "
                          "findings marked with a caveat with another explanation method.")
    if not paragraphs:
        paragraphs.append("No finding calls for action at the configured thresholds.")
    text = "\n\n".join(paragraphs)
    return NarrativeSection("recommendations", "Recommendations", text, "template",
                            fact_ids=referenced_facts(text))
