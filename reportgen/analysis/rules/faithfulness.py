"""Rules about the heatmaps themselves: a failed faithfulness check."""

from __future__ import annotations

from reportgen.analysis.facts import stat_fact_id
from reportgen.analysis.findings import Finding
from reportgen.analysis.rules.base import RuleContext, make_finding, rule
from reportgen.vocab import ALL_CLASSES, OBJECT
from reportgen.vocab import placeholder as ph


@rule("faithfulness_caveat")
def faithfulness_caveat(ctx: RuleContext) -> list[Finding]:
    """ROAD combined score at or below ``road_min``: the heatmaps are not faithful."""
    out = []
    for model, method in ctx.scored_pairs:
        dims = {"model": model, "method": method, "class": ALL_CLASSES, "region": OBJECT}
        road = stat_fact_id("road.combined", "q2", **dims)
        if road in ctx.facts and ctx.facts[road].value <= ctx.thresholds.road_min:
            out.append(make_finding(
                "faithfulness_caveat", "high", {"model": model, "method": method},
                f"{model}'s {method} heatmaps fail the ROAD faithfulness check (median combined "
                f"score {ph(road)}): findings built on them are marked as uncertain.",
                [road], -ctx.facts[road].value))
    return out
