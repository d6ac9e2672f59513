"""Concrete remedies for the findings that have one: what to do about each problem found."""

from __future__ import annotations

from reportgen.analysis.facts import parse_fact_id
from reportgen.analysis.findings import Finding
from reportgen.vocab import BACKGROUND, placeholder


def _name(text: str) -> str:
    """A dataset or model name as plain text: braces could forge a fact placeholder."""
    return text.replace("{", "(").replace("}", ")")


def remedy(finding: Finding) -> str | None:
    """What to do about ``finding`` when there is a specific answer (numbers as placeholders):
    background randomisation for a class shortcut; the better model's training recipe where a
    model puts significantly less heat on a class's background. None otherwise."""
    f = finding
    if f.kind == "class_shortcut":
        model, cls = _name(f.subject["model"]), _name(f.subject["class"])
        return (f"{model} may recognise {cls} by its background. Retrain it with background "
                f"randomisation: use the part labels to replace the backgrounds of the "
                f"training images with random ones, so that no background cue stays "
                f"correlated with {cls}; then run reportgen again and check that the "
                f"background share for {cls} falls to the level of the other classes.")
    if (f.kind == "model_difference" and "class" in f.subject
            and f.subject.get("region") == BACKGROUND and f.effect_size > 0):
        evidence = next((e for e in f.evidence
                         if parse_fact_id(e).stat == "median_difference"), None)
        if evidence:
            a, b = (_name(x.strip()) for x in f.subject["model"].split(" vs "))
            return (f"For class {_name(f.subject['class'])}, {b} puts less of its heat on the "
                    f"background than {a} on the same images (median difference "
                    f"{placeholder(evidence)}): prefer {b}'s training recipe.")
    return None
