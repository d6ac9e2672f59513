"""The report's narrative sections: which findings and facts each one gets and must mention."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reportgen.analysis.facts import Fact, FactTable
from reportgen.analysis.findings import Finding, rank_findings
from reportgen.narrative.lookup import background_share, classes, is_main_fact, overview, pairs
from reportgen.vocab import ALL_CLASSES, BACKGROUND

BIAS_KINDS = frozenset({"background_reliance", "class_shortcut", "misclassified_shift"})
LIMITATION_KINDS = frozenset({"faithfulness_caveat", "above_chance", "chance_level"})
RUN_FACTS = ("run.samples.total", "run.samples.scored", "run.samples.excluded")
# Small enough for a small model's context: a prompt stays near a thousand tokens.
MAX_FINDINGS = 5
MAX_FACTS = 16
# The executive summary says at most three findings: page 1 is read in a minute.
SUMMARY_FINDINGS = 3


def _class_of(finding: Finding) -> str | None:
    cls = finding.subject.get("class")
    return None if cls in (None, ALL_CLASSES) else cls


def _summary_facts(facts: FactTable) -> list[Fact]:
    return [*overview(facts, ALL_CLASSES),
            *facts.select(name="model.accuracy")]


def _per_class_facts(facts: FactTable) -> list[Fact]:
    return [f for cls in classes(facts) for f in overview(facts, cls)]


def _bias_facts(facts: FactTable) -> list[Fact]:
    return [share for model, method in pairs(facts)
            for cls in [ALL_CLASSES, *classes(facts)]
            if (share := background_share(facts, model, method, cls))]


def _limitation_facts(facts: FactTable) -> list[Fact]:
    sizes = [f for f in facts.select(metric="pqah.ph", stat="n", region=BACKGROUND)
             if is_main_fact(f) and f.dims.get("class") != ALL_CLASSES]
    smallest = [min(sizes, key=lambda f: (f.value, f.id))] if sizes else []
    return [*(facts[fid] for fid in RUN_FACTS if fid in facts), *smallest]


@dataclass(frozen=True)
class SectionSpec:
    """One section: ``relevant`` picks the findings it gets, ``required`` (among those) the
    ones it must mention, ``context_facts`` the facts it gets besides the findings' evidence."""

    id: str
    title: str
    relevant: Callable[[Finding], bool]
    context_facts: Callable[[FactTable], list[Fact]]
    max_findings: int = MAX_FINDINGS

    def findings(self, findings: Sequence[Finding]) -> list[Finding]:
        """The relevant findings, most severe first, at most ``max_findings`` (the high ones
        come first)."""
        return rank_findings([f for f in findings if self.relevant(f)])[:self.max_findings]

    def required(self, findings: Sequence[Finding]) -> list[Finding]:
        return [f for f in self.findings(findings) if f.severity == "high"]

    def facts(self, facts: FactTable, findings: Sequence[Finding]) -> list[Fact]:
        """Evidence of the section's findings first, then context facts; unique, capped."""
        ids = [fid for f in self.findings(findings) for fid in f.evidence if fid in facts]
        ids += [f.id for f in self.context_facts(facts)]
        unique = list(dict.fromkeys(ids))
        return [facts[fid] for fid in unique[:MAX_FACTS]]


SECTIONS: tuple[SectionSpec, ...] = (
    # The caveats (chance level, faithfulness) are the limitations' unless high.
    SectionSpec("summary", "Executive summary",
                lambda f: f.severity == "high" or f.kind not in LIMITATION_KINDS,
                _summary_facts, SUMMARY_FINDINGS),
    # A class's background findings are the bias review's.
    SectionSpec("per_class", "Per-class critique",
                lambda f: _class_of(f) is not None and f.kind not in BIAS_KINDS,
                _per_class_facts),
    SectionSpec("bias", "Bias review",
                lambda f: f.kind in BIAS_KINDS, _bias_facts),
    SectionSpec("recommendations", "Recommendations",
                lambda f: f.severity in ("high", "medium"), lambda facts: []),
    SectionSpec("limitations", "Limitations",
                lambda f: f.kind in LIMITATION_KINDS, _limitation_facts),
)
SECTION_IDS = tuple(s.id for s in SECTIONS)


def get_section(section_id: str) -> SectionSpec:
    for spec in SECTIONS:
        if spec.id == section_id:
            return spec
    raise KeyError(f"unknown narrative section {section_id!r}; known: {SECTION_IDS}")
