"""Page 1 of the report: one verdict line per model, derived from the findings, and the
findings split into the key ones (said in prose, at most ``report.key_findings``) and the
appendix table (the rest, ``info`` findings included).

The contract with the findings rules:

* ``class_shortcut`` (subject: model, method, class): severity ``high`` means the background
  swap (the counterfactual test) confirmed the shortcut; ``medium`` means heatmap evidence
  only (no swap ran); ``low`` means the swap ran and did not confirm it;
* ``background_reliance`` (subject: model, method): the whole model relies on the background;
* a finding that holds for several methods is one finding whose ``subject["method"]`` is the
  methods joined by ", " ("gradcam, gradcam++").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportgen.analysis.findings import Finding, rank_findings
from reportgen.vocab import BASELINE_MODEL

CONFIRMED = "confirmed by the background swap"
NOT_CONFIRMED = "not confirmed by the background swap"
NOT_TESTED = "heatmap evidence only (no background swap for it)"
NO_SHORTCUT = "no shortcut found"


@dataclass(frozen=True)
class Verdict:
    """One model's line: ``status`` is ``confirmed`` (a shortcut the swap confirmed),
    ``suspected`` (heatmap evidence only) or ``clear``; ``text`` the line after the model's
    name; ``methods`` the explanation methods whose heatmaps showed it."""

    model: str
    status: str
    text: str
    methods: tuple[str, ...] = ()


def _methods(findings: Sequence[Finding]) -> tuple[str, ...]:
    """The methods of ``findings``, merged subjects ("gradcam, gradcam++") split, in order."""
    return tuple(dict.fromkeys(m.strip() for f in findings
                               for m in f.subject.get("method", "").split(",") if m.strip()))


def _listed(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def model_verdicts(findings: Sequence[Finding], models: Sequence[str]) -> list[Verdict]:
    """One verdict per model of ``models`` (the baseline left out), in that order.

    A model with ``background_reliance`` "relies on the background for every class"; its
    class shortcuts say "relies on the background for *fish*": "confirmed by the background
    swap" (``high``), "heatmap evidence only" (``medium``), in that order, each group's
    classes in severity order; a class said in
    one group is not said again. Shortcuts the swap did not confirm (``low``) are no alarm:
    "no shortcut found (heat on the background for *bird*, but ... not confirmed by the
    background swap)". A model without either kind of finding: "no shortcut found". Other
    kinds (part findings, model differences) are not verdicts: they stay in the findings.
    """
    verdicts = []
    for model in models:
        if model == BASELINE_MODEL:
            continue
        mine = rank_findings([f for f in findings if f.subject.get("model") == model])
        shortcuts = [f for f in mine if f.kind == "class_shortcut" and "class" in f.subject]
        confirmed = [f for f in shortcuts if f.severity == "high"]
        whole = [f for f in mine if f.kind == "background_reliance"]
        clauses, said, suspected = [], set(), []
        for severity, how in (("high", CONFIRMED), ("medium", NOT_TESTED)):
            group = [f for f in shortcuts if f.severity == severity
                     and f.subject["class"] not in said]
            classes = list(dict.fromkeys(f.subject["class"] for f in group))
            said |= set(classes)
            suspected += group if severity != "high" else []
            if classes:
                clauses.append(f"relies on the background for {_listed(classes)} — {how}")
        # Refuted by the swap: no alarm, a note (heat spills there, predictions do not care).
        refuted = list(dict.fromkeys(f.subject["class"] for f in shortcuts
                                     if f.severity == "low" and f.subject["class"] not in said))
        if whole:
            clauses.append("relies on the background for every class (heatmap evidence)")
        status = "confirmed" if confirmed else "suspected" if clauses else "clear"
        text = "; ".join(clauses) or NO_SHORTCUT
        if refuted:
            text += (f" (heat on the background for {_listed(refuted)}, but the background "
                     f"swap shows the predictions do not depend on it: {NOT_CONFIRMED})")
        verdicts.append(Verdict(model, status, text,
                                _methods([*confirmed, *suspected, *whole])))
    return verdicts


def split_findings(findings: Sequence[Finding], limit: int
                   ) -> tuple[list[Finding], list[Finding]]:
    """(key findings, appendix): at most ``limit`` non-``info`` findings, most severe first
    (then the larger effect), and every other finding in the same order (``info`` ones are
    table rows, never prose)."""
    ranked = rank_findings(list(findings))
    said = [f for f in ranked if f.severity != "info"][:max(0, limit)]
    chosen = {f.id for f in said}
    return said, [f for f in ranked if f.id not in chosen]
