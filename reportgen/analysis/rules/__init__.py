"""Findings rules: deterministic, thresholded, each with its evidence facts.

Every rule is a function ``(RuleContext) -> list[Finding]`` registered with ``@rule(kind)``
in one module per family (``background``, ``parts``, ``paired``, ``faithfulness``), each
imported below. Thresholds are the run config's ``findings`` section
(``reportgen.config.FindingsThresholds``). ``derive_findings`` returns the findings and the
facts the rules added (test statistics, effect sizes); the facts table it is given stays as it
was.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from reportgen.analysis.facts import FactTable
from reportgen.analysis.findings import Finding, rank_findings
from reportgen.analysis.merge import drop_single_class_copies, merge_methods

# Each family registers its rules when imported: this list is the registration.
from reportgen.analysis.rules import background, expected, faithfulness, paired, parts  # noqa: F401
from reportgen.analysis.rules.base import RULES, RuleContext, rule
from reportgen.config import FindingsThresholds

UNFAITHFUL_CAVEAT = "rests on heatmaps that failed the ROAD faithfulness check"

__all__ = ["RULES", "FindingsResult", "RuleContext", "derive_findings", "rule"]


@dataclass(frozen=True)
class FindingsResult:
    """``findings``: ranked (most severe first); ``facts``: only the facts the rules added
    (their ids are not in the table the rules were given), for the caller to merge."""

    findings: list[Finding]
    facts: FactTable


def derive_findings(scores: pd.DataFrame, facts: FactTable,
                    settings: FindingsThresholds | None = None, *, seed: int = 0,
                    rules: list[str] | None = None, merge: bool = True) -> FindingsResult:
    """Run the rules (all by default, in name order) on ``scores`` and ``facts``.

    ``facts`` is not changed: the rules read it together with the facts they add, which the
    result returns. ``seed`` seeds the bootstrap CIs. Findings about a model/method whose
    heatmaps failed the faithfulness check get a caveat. ``merge``: one finding per claim
    (``reportgen.analysis.merge``: methods that agree merged, single-class copies dropped).
    """
    ctx = RuleContext(scores, facts, settings or FindingsThresholds(), seed)
    findings = [f for name in (rules or sorted(RULES)) for f in RULES[name](ctx)]
    unfaithful = {(f.subject["model"], f.subject["method"]) for f in findings
                  if f.kind == "faithfulness_caveat"}
    findings = [replace(f, caveat=UNFAITHFUL_CAVEAT)
                if f.kind != "faithfulness_caveat"
                and (f.subject.get("model"), f.subject.get("method")) in unfaithful else f
                for f in findings]
    if merge:
        findings = one_per_claim(findings, ctx)
    return FindingsResult(rank_findings(findings), ctx.added)


def one_per_claim(findings: list[Finding], ctx: RuleContext) -> list[Finding]:
    """Drop the "all classes" copies of single-class runs, then merge across methods."""
    s = ctx.scores
    s = s[s.model.isin({m for m, _ in ctx.scored_pairs})]
    classes_of = {k: int(v) for k, v in s.groupby(["model", "method"]).class_name.nunique()
                  .items()}
    methods_of: dict[str, list[str]] = {}
    for model, method in ctx.scored_pairs:
        methods_of.setdefault(model, []).append(method)
    return merge_methods(drop_single_class_copies(findings, classes_of), methods_of)
