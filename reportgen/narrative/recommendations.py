"""What to do about the findings: a concrete remedy where one exists, the advice for the
finding's kind otherwise, and the page-1 actions (at most three short lines, no numbers)."""

from __future__ import annotations

from collections.abc import Sequence

from reportgen.analysis.facts import parse_fact_id
from reportgen.analysis.findings import Finding, rank_findings
from reportgen.vocab import BACKGROUND, placeholder

ADVICE = {
    "background_reliance": "Check whether the backgrounds of the training images give the "
                           "class away; retrain with varied or masked backgrounds and run "
                           "this report again.",
    "class_shortcut": "Look through this class's training images for a cue they all share "
                      "(a background, a frame, a watermark) and break it with new images.",
    "dominant_part": "Test the model on images where this part is hidden or unusual, to see "
                     "whether it still recognises the class.",
    "neglected_part": "If this part should matter for the decision, add training images in "
                      "which it is clearly visible, and check that it is labelled correctly.",
    "misclassified_shift": "Review the misclassified images: their heat lies elsewhere, which "
                           "often points to the cue that misleads the model.",
    "model_difference": "When the models are equally accurate, prefer the one whose heat lies "
                        "on the object rather than around it.",
    "method_difference": "Do not rest a conclusion on one explanation method: confirm it with "
                         "a second method before acting on it.",
    "above_chance": "Compare every statement about a part with the random and centre "
                    "baselines; only heat above both says the model attends to the part.",
    "chance_level": "Do not read heat on this part as attention: it is no higher than a "
                    "random or centred heatmap puts there.",
    "faithfulness_caveat": "Treat these heatmaps as a hint, not a proof, and check the "
                           "faithfulness scores before drawing conclusions from them.",
}
DEFAULT_ADVICE = "Look into this before relying on the model's decisions."
ACTION_SEVERITIES = ("high", "medium")


def _name(text: str) -> str:
    """A dataset or model name as plain text: braces could forge a fact placeholder."""
    return text.replace("{", "(").replace("}", ")")


def _sides(finding: Finding) -> tuple[str, str] | None:
    """(a, b) of a paired finding's ``"a vs b"`` model subject, else None."""
    parts = [_name(x.strip()) for x in finding.subject.get("model", "").split(" vs ")]
    return (parts[0], parts[1]) if len(parts) == 2 else None


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
    sides = _sides(f)
    if (f.kind == "model_difference" and "class" in f.subject and sides
            and f.subject.get("region") == BACKGROUND and f.effect_size > 0):
        evidence = next((e for e in f.evidence
                         if parse_fact_id(e).stat == "median_difference"), None)
        if evidence:
            a, b = sides
            return (f"For class {_name(f.subject['class'])}, {b} puts less of its heat on the "
                    f"background than {a} on the same images (median difference "
                    f"{placeholder(evidence)}): prefer {b}'s training recipe.")
    return None


def advice(finding: Finding) -> str:
    """The remedy of ``finding`` or, without one, the advice for its kind."""
    return remedy(finding) or ADVICE.get(finding.kind, DEFAULT_ADVICE)


def _action_key(f: Finding) -> tuple[str, str]:
    """Findings with the same key make one action (their classes are listed together)."""
    if f.kind in ("class_shortcut", "background_reliance", "misclassified_shift"):
        return f.kind, f.subject.get("model", "")
    if f.kind == "model_difference" and f.subject.get("region") == BACKGROUND and _sides(f):
        return f.kind, f.subject["model"]
    return "advice", ADVICE.get(f.kind, DEFAULT_ADVICE)


def _listed(names: Sequence[str]) -> str:
    names = [_name(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _action_line(key: tuple[str, str], group: list[Finding]) -> str:
    kind, subject = key
    classes = list(dict.fromkeys(f.subject["class"] for f in group if "class" in f.subject))
    model = _name(subject)
    if kind == "class_shortcut":
        return (f"Retrain {model} with randomised backgrounds, so that it cannot recognise "
                f"{_listed(classes)} by the background; then run this report again.")
    if kind == "background_reliance":
        return (f"Check whether the training backgrounds give {model}'s classes away; retrain "
                "it with varied or masked backgrounds.")
    if kind == "misclassified_shift":
        return (f"Review the images {model} gets wrong: their heat falls elsewhere, often on "
                "the cue that misleads it.")
    if kind == "model_difference":
        a, b = _sides(group[0])
        better, worse = (b, a) if group[0].effect_size > 0 else (a, b)
        where = f" for {_listed(classes)}" if classes else ""
        return (f"Prefer {better}'s training recipe over {worse}'s: it keeps its heat off "
                f"the background{where}.")
    return subject  # the advice for the kind, said once


def actions(findings: Sequence[Finding], limit: int = 3) -> list[str]:
    """At most ``limit`` actions for the high- and medium-severity findings, most severe
    first; one line each, no number (page 1 reads them at a glance). Findings that call for
    the same action (one model's shortcuts for several classes, several methods) make one
    line. No finding: an empty list."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in rank_findings([f for f in findings if f.severity in ACTION_SEVERITIES]):
        groups.setdefault(_action_key(f), []).append(f)
    return [_action_line(key, group) for key, group in groups.items()][:limit]
