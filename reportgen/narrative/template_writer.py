"""The deterministic template writer: plain sentences from the facts and findings.

It writes every section (same inputs, same text), is the default when no LLM is configured and
the fallback when the guard rejects an LLM's drafts. Numbers appear only as placeholders; every
finding a section must mention is phrased through its own statement.
"""

from __future__ import annotations

from collections.abc import Sequence

from reportgen.analysis.facts import FactTable, fact_id, stat_fact_id
from reportgen.analysis.findings import Finding
from reportgen.narrative.lookup import classes, is_main_fact, most_and_least, pairs
from reportgen.narrative.placeholders import referenced_facts
from reportgen.narrative.recommendations import remedy
from reportgen.narrative.sections import get_section
from reportgen.narrative.written import NarrativeSection
from reportgen.vocab import ALL_CLASSES, BACKGROUND, placeholder

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


def _name(name: str) -> str:
    """A dataset or model name as plain text: braces could forge a fact placeholder."""
    return name.replace("{", "(").replace("}", ")")


def _phrase(region: str) -> str:
    return "the background" if region == BACKGROUND else f"the {_name(region)}"


def _sentence(statement: str) -> str:
    statement = statement.strip()
    return statement if statement.endswith((".", "!", "?")) else statement + "."


def _said(finding: Finding) -> str:
    """A finding's statement, with its caveat when it has one."""
    text = _sentence(finding.statement)
    return text + (f" (Caveat: {_sentence(finding.caveat)[:-1]}.)" if finding.caveat else "")


class TemplateWriter:
    """Writes every section from the facts and findings; same inputs, same text."""

    name = "template"

    def write_section(self, section: str, facts: FactTable, findings: Sequence[Finding] = (),
                      audience: str = "end user") -> NarrativeSection:
        """The section ``section`` (an id of ``sections.SECTIONS``) for ``audience``."""
        spec = get_section(section)
        chosen = spec.findings(findings)
        paragraphs = getattr(self, f"_{section}")(facts, chosen)
        text = "\n\n".join(p for p in paragraphs if p)
        return NarrativeSection(section, spec.title, text, self.name,
                                fact_ids=referenced_facts(text), audience=audience)

    def summary(self, facts: FactTable, findings: Sequence[Finding] = ()) -> NarrativeSection:
        return self.write_section("summary", facts, findings)

    # One method per section: each returns the paragraphs.

    def _summary(self, facts: FactTable, findings: list[Finding]) -> list[str]:
        paragraphs = []
        for model, method in pairs(facts):
            extremes = most_and_least(facts, model, method, ALL_CLASSES)
            if extremes is None:
                continue
            best, worst = extremes
            dims = {"model": model, "method": method, "class": ALL_CLASSES}
            n_best = stat_fact_id("pqah.ph", "n", **dims, region=best.dims["region"])
            text = (f"For model {_name(model)} explained with {_name(method)}, the heatmaps "
                    f"overlap most with "
                    f"{_phrase(best.dims['region'])} (median PH {placeholder(best.id)}, "
                    f"n = {placeholder(n_best)} images) and least with "
                    f"{_phrase(worst.dims['region'])} (median PH {placeholder(worst.id)}).")
            bg = {**dims, "region": BACKGROUND}
            bg_share = stat_fact_id("pqah.precision", "q2", **bg)
            if bg_share in facts:
                text += (f" A median {placeholder(bg_share)} of each heatmap's heat falls on the "
                         f"background (interquartile range "
                         f"{placeholder(stat_fact_id('pqah.precision', 'q1', **bg))} to "
                         f"{placeholder(stat_fact_id('pqah.precision', 'q3', **bg))}).")
            paragraphs.append(text)
        if not paragraphs:
            paragraphs.append("No sample could be scored, so there is nothing to summarise.")
        high = [f for f in findings if f.severity == "high"]
        others = [f for f in findings if f.severity != "high"][:max(0, 3 - len(high))]
        # The reader's first question is what needs attention: say it before the overview.
        first = ["Needs attention: " + " ".join(_said(f) for f in high)] if high else []
        if others:
            paragraphs.append("Also worth knowing: " + " ".join(_said(f) for f in others))
        return [*first, *paragraphs]

    def _per_class(self, facts: FactTable, findings: list[Finding]) -> list[str]:
        paragraphs = []
        for cls in classes(facts):
            sentences = []
            for model, method in pairs(facts):
                extremes = most_and_least(facts, model, method, cls)
                if extremes is None:
                    continue
                best, worst = extremes
                sentence = (f"For class {_name(cls)}, {_name(model)}'s {_name(method)} heat "
                            f"overlaps most with {_phrase(best.dims['region'])} (median PH "
                            f"{placeholder(best.id)}) and least with "
                            f"{_phrase(worst.dims['region'])} (median PH "
                            f"{placeholder(worst.id)})")
                bg = stat_fact_id("pqah.precision", "q2", model=model, method=method,
                                  region=BACKGROUND, **{"class": cls})
                sentences.append(sentence + (f", and a median {placeholder(bg)} of it falls on "
                                             "the background." if bg in facts else "."))
            # The facts above already say which part dominates.
            sentences += [_said(f) for f in findings
                          if f.subject.get("class") == cls and f.kind != "dominant_part"]
            if sentences:
                paragraphs.append(" ".join(sentences))
        known = set(classes(facts))
        rest = [_said(f) for f in findings if f.subject.get("class") not in known]
        if rest:  # findings about classes without scored facts are still said
            paragraphs.append(" ".join(rest))
        if not paragraphs:
            paragraphs.append("No class could be scored, so there is no per-class critique.")
        return paragraphs

    def _bias(self, facts: FactTable, findings: list[Finding]) -> list[str]:
        paragraphs = []
        if findings:
            paragraphs.append(" ".join(_said(f) for f in findings))
        else:
            paragraphs.append("No rule flagged a reliance on the background, a class-specific "
                              "shortcut or a shift of the heat in misclassified images.")
        for model, method in pairs(facts):
            shares = [f for f in facts.select(metric="pqah.precision", stat="q2", model=model,
                                              method=method, region=BACKGROUND)
                      if is_main_fact(f) and f.dims.get("class") != ALL_CLASSES]
            if len(shares) < 2:
                continue
            top = max(shares, key=lambda f: (f.value, f.id))
            low = min(shares, key=lambda f: (f.value, f.id))
            paragraphs.append(
                f"For model {_name(model)} with {_name(method)}, the share of the heat on the "
                f"background is largest for class {_name(top.dims['class'])} (median "
                f"{placeholder(top.id)}) and smallest for class {_name(low.dims['class'])} "
                f"(median {placeholder(low.id)}).")
        return paragraphs

    def _recommendations(self, facts: FactTable, findings: list[Finding]) -> list[str]:
        if not findings:
            return ["No finding calls for action. Run this report again after retraining or on "
                    "new data to confirm that the heat stays on the object."]
        # A concrete remedy where one exists (background randomisation for a shortcut, the
        # better model's recipe), the generic advice for the finding's kind otherwise.
        return [f"{_said(f)} {remedy(f) or ADVICE.get(f.kind, DEFAULT_ADVICE)}"
                for f in findings]

    def _limitations(self, facts: FactTable, findings: list[Finding]) -> list[str]:
        sentences = []
        total, scored, excluded = (fact_id(f"run.samples.{k}")
                                   for k in ("total", "scored", "excluded"))
        if all(fid in facts for fid in (total, scored, excluded)):
            sentences.append(f"The analysis rests on {placeholder(scored)} scored images out of "
                             f"{placeholder(total)}; {placeholder(excluded)} were excluded, "
                             "each with its reason in the exclusions table.")
        sizes = [f for f in facts.select(metric="pqah.ph", stat="n", region=BACKGROUND)
                 if is_main_fact(f) and f.dims.get("class") != ALL_CLASSES]
        if sizes:
            small = min(sizes, key=lambda f: (f.value, f.id))
            sentences.append(f"The smallest group, class {_name(small.dims['class'])}, has "
                             f"{placeholder(small.id)} images; the medians of small groups are "
                             "uncertain, so read them with their confidence intervals.")
        sentences += [_said(f) for f in findings]
        sentences.append("A heatmap shows where an explanation method puts weight, which is not "
                         "proof of what the model uses, and PH only measures overlap with the "
                         "annotated parts.")
        return [" ".join(sentences)]
