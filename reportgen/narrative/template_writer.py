"""The deterministic template writer: plain sentences from the facts and findings.

It writes every section (same inputs, same text), is the default when no LLM is configured and
the fallback when the guard rejects an LLM's drafts. Numbers appear only as placeholders.

Each section has its own content, so no sentence is said twice (tests/report/
test_sections_distinct.py):

* summary: at most ``SUMMARY_WORDS`` words; the findings that need attention in short form
  (no test statistic: effect sizes, p-values and intervals stay in the findings table), then
  one line per model (accuracy, background share) while the word budget lasts;
* per-class critique: per class, where each model's heat falls, and the class's findings that
  are not about the background (those are the bias review's);
* bias review: the background findings with their statistics, and which classes draw the most
  and least background heat;
* recommendations: what to do, one paragraph per action (findings that call for the same
  action share it), each citing the facts that call for it;
* limitations: sample sizes, the caveat findings, what a heatmap can and cannot show.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from reportgen.analysis.facts import FactTable, fact_id, parse_fact_id, stat_fact_id
from reportgen.analysis.findings import Finding
from reportgen.narrative.lookup import background_share, classes, is_main_fact, most_and_least
from reportgen.narrative.lookup import pairs as fact_pairs
from reportgen.narrative.placeholders import PLACEHOLDER, referenced_facts
from reportgen.narrative.recommendations import advice
from reportgen.narrative.sections import BIAS_KINDS, get_section
from reportgen.narrative.written import NarrativeSection
from reportgen.vocab import ALL_CLASSES, BACKGROUND, placeholder

SUMMARY_WORDS = 150
# Fact statistics that test a hypothesis or bound an estimate: said in the findings table and
# the bias review, never in the summary.
TEST_STATISTICS = ("cliffs_delta", "p_holm", "p_value", "ci_low", "ci_high", "statistic")
TEST_WORDS = re.compile(r"Cliff's delta|Holm|p-value|confidence interval|\bp\s*\{\{",
                        re.IGNORECASE)
_PARENS = re.compile(r"\s*\(([^()]*)\)")


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


def is_test_statistic(fid: str) -> bool:
    """Whether fact ``fid`` is a test statistic (effect size, p-value, interval bound)."""
    return parse_fact_id(fid).stat.startswith(TEST_STATISTICS)


def without_statistics(statement: str) -> str:
    """``statement`` without its test statistics: each bracketed list loses the items that
    hold a test-statistic fact or name one ("Cliff's delta", "Holm-adjusted p"); a bracket
    left empty goes. Other numbers ("n = 61", medians) stay."""

    def keep(match: re.Match) -> str:
        items = [item for item in match.group(1).split(", ")
                 if not TEST_WORDS.search(item)
                 and not any(is_test_statistic(fid) for fid in PLACEHOLDER.findall(item))]
        return f" ({', '.join(items)})" if items else ""

    return _sentence(_PARENS.sub(keep, statement))


def _shortcut_key(finding: Finding) -> tuple[str, str] | None:
    """(model, class) of a class shortcut that can be said in short form, else None."""
    if finding.kind != "class_shortcut" or not {"model", "class"} <= finding.subject.keys():
        return None
    return finding.subject["model"], finding.subject["class"]


def _shortcut_brief(group: Sequence[Finding], mains: list[str], facts: FactTable) -> str:
    model, cls = (_name(x) for x in _shortcut_key(group[0]))
    if len(mains) == 1:
        heat = f"a median {placeholder(mains[0])} of its heat"
    else:  # one share per method, each said with its method
        heat = "a median " + " and ".join(
            f"{placeholder(e)} of its {_name(facts[e].dims.get('method', ''))} heat"
            for e in mains)
    # The first method's facts (a merged finding holds every method's): never mix methods.
    first = facts[mains[0]].dims.get("method") if mains else None
    stats: dict[tuple[bool, str], str] = {}  # (an excess over the oracle?, stat) -> fact
    for e in group[0].evidence:
        if e in facts and facts[e].dims.get("method") == first:
            key = parse_fact_id(e)
            stats.setdefault((key.metric.endswith("excess_over_oracle"), key.stat), e)
    excess = stats.get((True, "q2_explaining"))
    others = stats.get((excess is not None, "q2_other_classes"))
    # The bias review gives the comparison in full (excess over the oracle, other classes,
    # the swap's accuracies); the summary only says where the heat is and what it means.
    against = ("" if excess or not others
               else f", against {placeholder(others)} for the other classes")
    verb = "falls" if len(mains) == 1 else "fall"
    severity = group[0].severity
    claim = ("uses the background as a shortcut for {cls} (shown by swapping backgrounds)"
             if severity == "high" else "may use the background as a shortcut for {cls}"
             ).format(cls=cls)
    return (f"{model} {claim}: when it explains {cls}, {heat} {verb} on the "
            f"background{against}.")


def _plain(finding: Finding, main: str, facts: FactTable) -> str | None:
    """A finding of a background or paired kind as a conclusion in plain words, citing its
    main fact; None for other kinds."""
    subject, kind = finding.subject, finding.kind
    model, method = _name(subject.get("model", "")), _name(subject.get("method", ""))
    if kind == "background_reliance" and model:
        return (f"{model} leans on the background overall: with {method}, a median "
                f"{placeholder(main)} of its heat falls there.")
    sides = [x.strip() for x in subject.get("model", "").split(" vs ")]
    if kind == "model_difference" and len(sides) == 2 and "region" in subject:
        first, second = (sides if facts[main].value > 0 else sides[::-1])
        where = f" in images of {_name(subject['class'])}" if "class" in subject else ""
        return (f"{_name(first)} puts more heat on {_phrase(subject['region'])}{where} than "
                f"{_name(second)} (median difference {placeholder(main)}).")
    return None


def brief(group: Sequence[Finding], facts: FactTable) -> str:
    """Findings for a reader in a hurry. A group of class shortcuts of one model and class
    (one per method, or one merged finding) is one plain sentence citing each finding's
    main fact, and the other classes' share when it is about the same class; whole-model
    reliance and model differences are said as conclusions with their main fact; any other
    finding (a group of one) is its statement without test statistics."""
    first = group[0]
    mains = [e for f in group for e in f.evidence[:1] if e in facts]
    if not mains:
        return without_statistics(first.statement)
    if _shortcut_key(first) is not None:
        return _shortcut_brief(group, mains, facts)
    return _plain(first, mains[0], facts) or without_statistics(first.statement)


def _briefs(findings: Sequence[Finding], facts: FactTable) -> list[str]:
    """``brief`` of each finding, one class's shortcuts (several methods) said together."""
    groups: dict[object, list[Finding]] = {}
    for f in findings:
        groups.setdefault(_shortcut_key(f) or f.id, []).append(f)
    return [brief(group, facts) for group in groups.values()]


def _words(text: str) -> int:
    """Words a reader sees; a placeholder is one."""
    return len(PLACEHOLDER.sub("0", text).split())


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
        high = _briefs([f for f in findings if f.severity == "high"], facts)
        medium = _briefs([f for f in findings if f.severity == "medium"], facts)
        paragraphs = ["Needs attention: " + " ".join(high)] if high else []
        budget = SUMMARY_WORDS - sum(_words(p) for p in paragraphs)
        lines = []
        for line in self._model_lines(facts):
            if _words(line) <= budget:
                lines.append(line)
                budget -= _words(line)
        if lines:
            paragraphs.append(" ".join(lines))
        elif not fact_pairs(facts):
            paragraphs.append("No sample could be scored, so there is nothing to summarise.")
        also = []
        for sentence in medium:
            if _words(sentence) + (4 if not also else 0) <= budget:
                also.append(sentence)
                budget -= _words(sentence) + (4 if len(also) == 1 else 0)
        if also:
            paragraphs.append("Also worth knowing: " + " ".join(also))
        if not high and not medium and fact_pairs(facts):
            paragraphs.append("No rule flagged a problem that needs attention.")
        return paragraphs

    @staticmethod
    def _model_lines(facts: FactTable) -> list[str]:
        """One sentence per model: its accuracy and, with its first method, the share of its
        heat on the background over all classes."""
        lines = []
        for model in dict.fromkeys(m for m, _ in fact_pairs(facts)):
            method = next(k for m, k in fact_pairs(facts) if m == model)
            accuracy = fact_id("model.accuracy", model=model, method=method)
            share = background_share(facts, model, method, ALL_CLASSES)
            if accuracy in facts and share is not None:
                lines.append(f"Model {_name(model)} classifies {placeholder(accuracy)} of the "
                             f"images correctly; with {_name(method)}, a median "
                             f"{placeholder(share.id)} of its heat falls on the background "
                             "across all classes.")
            elif share is not None:
                lines.append(f"With {_name(method)}, a median {placeholder(share.id)} of "
                             f"{_name(model)}'s heat falls on the background across all "
                             "classes.")
            elif accuracy in facts:
                lines.append(f"Model {_name(model)} classifies {placeholder(accuracy)} of the "
                             "images correctly.")
        return lines

    def _per_class(self, facts: FactTable, findings: list[Finding]) -> list[str]:
        paragraphs = []
        for cls in classes(facts):
            sentences = []
            for model, method in fact_pairs(facts):
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
            # The facts above already say which part dominates; the bias review says the
            # background findings.
            sentences += [_said(f) for f in findings if f.subject.get("class") == cls
                          and f.kind != "dominant_part" and f.kind not in BIAS_KINDS]
            if sentences:
                paragraphs.append(" ".join(sentences))
        known = set(classes(facts))
        rest = [_said(f) for f in findings if f.subject.get("class") not in known
                and f.kind not in BIAS_KINDS]
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
        for model, method in fact_pairs(facts):
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
        # One paragraph per distinct advice: a shortcut found with two methods is one action.
        groups: dict[str, list[Finding]] = {}
        for f in findings:
            groups.setdefault(advice(f), []).append(f)
        paragraphs = []
        for text, group in groups.items():
            cited = [e for f in group for e in f.evidence[:1]
                     if e in facts and e not in text and not is_test_statistic(e)]
            paragraphs.append(text + (f" Where this comes from: {_evidence(cited, facts)}."
                                      if cited else ""))
        return paragraphs

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


MEASURES = {"pqah.precision": "heat share", "pqah.ph": "PH", "pqah.recall": "coverage",
            "paired.precision": "difference in heat share", "paired.ph": "PH difference"}


def _evidence(fids: Sequence[str], facts: FactTable) -> str:
    """The facts behind an action, each with its measure and the names it is about ("heat
    share on the background, partnet_biased, gradcam, fish: 94 %"), separated by semicolons
    so each stays in a clause of its own names."""
    said = []
    for e in dict.fromkeys(fids):
        fact = facts[e]
        metric = parse_fact_id(e).metric
        region = fact.dims.get("region")
        measure = MEASURES.get(metric, "")
        if measure and region and region != "object":
            measure += f" on {_phrase(region)}"
        names = [_name(v) for k, v in fact.dims.items() if k not in ("region", "subset")]
        said.append(", ".join([measure, *names] if measure else names)
                    + f": {placeholder(e)}")
    return "; ".join(said)
