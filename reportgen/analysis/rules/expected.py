"""Rules about ``analysis.expected_parts``: does the heat land on the part that should carry
a class's evidence?

The right-part rates are facts the aggregate stage made (``expected_part.rate``,
``reportgen.analysis.grouping.right_part_facts``), per model, method and class as grouped.
"""

from __future__ import annotations

from reportgen.analysis.facts import fact_id
from reportgen.analysis.findings import Finding
from reportgen.analysis.grouping import RIGHT_PART
from reportgen.analysis.rules.base import RuleContext, make_finding, rule
from reportgen.vocab import placeholder as ph

# Below this share of samples with the heat peaking on an expected part, the heat "mostly
# lands elsewhere".
RIGHT_PART_MIN = 0.5


@rule("wrong_part")
def wrong_part(ctx: RuleContext) -> list[Finding]:
    """Medium: a class whose right-part rate is below RIGHT_PART_MIN over at least
    ``findings.min_n`` samples; the statement names where the heat peaks instead."""
    out = []
    for fact in ctx.given.select(metric=RIGHT_PART, stat="rate"):
        if fact.n < ctx.thresholds.min_n or fact.value >= RIGHT_PART_MIN:
            continue
        dims = {k: fact.dims[k] for k in ("model", "method", "class")}
        hits = fact_id(f"{RIGHT_PART}.hits", **dims)
        n = fact_id(f"{RIGHT_PART}.n", **dims)
        evidence = [fact.id, hits, n]
        text = (f"For class {dims['class']}, {dims['model']}'s {dims['method']} heat peaks on "
                f"one of its expected parts in only {ph(fact.id)} of the "
                f"images ({ph(hits)} of {ph(n)})")
        instead = ctx.given.select(metric=RIGHT_PART, stat="top_share", **{
            "model": dims["model"], "method": dims["method"], "class_": dims["class"]})
        if instead:
            evidence.append(instead[0].id)
            text += (f"; it peaks most often on the {instead[0].dims['region']} "
                     f"({ph(instead[0].id)})")
        out.append(make_finding("wrong_part", "medium", dims, text + ".", evidence,
                                RIGHT_PART_MIN - fact.value))
    return out
